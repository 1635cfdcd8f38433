//! Phone numbers, normalised to E.164 with libphonenumber's rules.

use std::fmt;

use phonenumber::Mode;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PhoneE164(String);

impl PhoneE164 {
    /// Parses an international number in any common format (`+49 176 1234-5678`,
    /// `+49 (0)176 12345678`, `+4917612345678`) and keeps it only if libphonenumber
    /// considers it a valid number for its country.
    pub fn parse(input: &str) -> Result<Self, &'static str> {
        let input = input.trim();
        if input.is_empty() {
            return Err("must not be empty");
        }
        if input.len() > 64 {
            return Err("is too long to be a phone number");
        }
        if !input.starts_with('+') {
            return Err("must be an international number starting with + and the country code, e.g. +4917612345678");
        }
        // The parser is third-party code fed with client input: a panic must become a
        // refusal, never a dropped connection.
        let parsed = std::panic::catch_unwind(|| phonenumber::parse(None, input))
            .map_err(|_| "is not a phone number")?
            .map_err(|_| "is not a phone number")?;
        if !parsed.is_valid() {
            return Err("is not a valid phone number for its country");
        }
        Ok(Self(parsed.format().mode(Mode::E164).to_string()))
    }

    /// Parses libphonenumber's object form (`countryCode` + `nationalNumber`).
    pub fn from_parts(country_code: u16, national_number: u64) -> Result<Self, &'static str> {
        Self::parse(&format!("+{country_code}{national_number}"))
    }

    /// Wraps a value read back from the store, which only ever holds parsed numbers.
    pub fn from_stored(stored: String) -> Self {
        Self(stored)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// All digits, country code included: `4917612345678`.
    pub fn digits(&self) -> &str {
        self.0.trim_start_matches('+')
    }

    /// The digits after the country code: `17612345678` for `+4917612345678`.
    pub fn national_digits(&self) -> &str {
        let country_code_len = std::panic::catch_unwind(|| phonenumber::parse(None, &self.0))
            .ok()
            .and_then(Result::ok)
            .map_or(0, |parsed| parsed.code().value().to_string().len());
        &self.digits()[country_code_len.min(self.digits().len())..]
    }
}

impl fmt::Display for PhoneE164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_formats_normalise_to_e164() {
        for input in [
            "+49 176 1234-5678",
            "+4917612345678",
            "+49 (176) 12345678",
            " +49-176-12345678 ",
        ] {
            assert_eq!(
                PhoneE164::parse(input).unwrap().as_str(),
                "+4917612345678",
                "{input}"
            );
        }
        assert_eq!(
            PhoneE164::parse("+1 (415) 555-2671").unwrap().as_str(),
            "+14155552671"
        );
        assert_eq!(
            PhoneE164::from_parts(44, 7911123456).unwrap().as_str(),
            "+447911123456"
        );
    }

    #[test]
    fn unparseable_or_invalid_numbers_are_refused() {
        for bad in [
            "",
            "abc",
            "017612345678",
            "+",
            "+49",
            "+49 abc",
            "+999 1234567",
            "+1 23",
        ] {
            assert!(PhoneE164::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
