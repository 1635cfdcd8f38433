//! Record timestamps, kept as microseconds since the Unix epoch.
//!
//! Microseconds are what both SQLite (as an integer) and PostgreSQL (`timestamptz`) hold
//! exactly, and rendering all six digits lets a client pass a record's `created` back as a
//! page token and land exactly on it.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    pub const fn from_micros(micros: i64) -> Self {
        Self(micros)
    }

    pub fn now() -> Self {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("system clock is after 1970");
        Self(since_epoch.as_micros() as i64)
    }

    pub const fn micros(self) -> i64 {
        self.0
    }

    pub const fn unix_seconds(self) -> i64 {
        self.0.div_euclid(1_000_000)
    }

    /// Parses an RFC 3339 time. Finer-than-microsecond input is rounded *up*, so that
    /// "strictly before this time" keeps its meaning: a record at 12.000001 is strictly
    /// before a token of 12.0000015.
    pub fn parse_rfc3339(s: &str) -> Result<Self, &'static str> {
        let parsed = OffsetDateTime::parse(s, &Rfc3339)
            .map_err(|_| "must be an RFC 3339 time such as 2025-09-29T07:08:00Z")?;
        let nanos = parsed.unix_timestamp_nanos();
        let micros = nanos.div_euclid(1000) + i128::from(nanos.rem_euclid(1000) != 0);
        i64::try_from(micros)
            .map(Self)
            .map_err(|_| "is out of range")
    }

    /// RFC 3339 in UTC with exactly six fractional digits, e.g. `2026-11-21T17:04:00.123456Z`.
    pub fn to_rfc3339(self) -> String {
        let nanos = i128::from(self.0) * 1000;
        let at =
            OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap_or(OffsetDateTime::UNIX_EPOCH);
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
            at.year(),
            u8::from(at.month()),
            at.day(),
            at.hour(),
            at.minute(),
            at.second(),
            at.microsecond()
        )
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendering_round_trips_through_parsing() {
        for micros in [0, 1, 1_732_208_640_123_456, 1_732_208_640_000_000] {
            let t = Timestamp::from_micros(micros);
            assert_eq!(Timestamp::parse_rfc3339(&t.to_rfc3339()), Ok(t));
        }
        assert_eq!(
            Timestamp::from_micros(1_732_208_640_123_456).to_rfc3339(),
            "2024-11-21T17:04:00.123456Z"
        );
    }

    #[test]
    fn parsing_accepts_offsets_and_rounds_sub_microseconds_up() {
        let t = Timestamp::parse_rfc3339("2025-09-29T09:08:00+02:00").unwrap();
        assert_eq!(t, Timestamp::parse_rfc3339("2025-09-29T07:08:00Z").unwrap());
        let fine = Timestamp::parse_rfc3339("2025-09-29T07:08:00.0000001Z").unwrap();
        assert_eq!(fine.micros() - t.micros(), 1);
        assert!(Timestamp::parse_rfc3339("yesterday").is_err());
        assert!(Timestamp::parse_rfc3339("2025-09-29").is_err());
    }
}
