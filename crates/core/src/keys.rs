//! API key secrets: generation, the wire format, and the keyed hash that is all a store
//! ever keeps of them.
//!
//! A key reads `rk_<key id>_<secret>`. The id lets the server fetch the one row to compare
//! against, so lookup is an index hit and the comparison of the hash is constant-time. The
//! secret is 256 random bits, so a fast keyed SHA-256 is the right hash: there is nothing
//! to brute-force, and the request path never pays for argon2.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::domain::KeyId;

const PREFIX: &str = "rk_";
const SECRET_BYTES: usize = 32;

/// A freshly generated secret, in its text form (64 hex digits).
pub fn generate_secret() -> String {
    let mut bytes = [0u8; SECRET_BYTES];
    getrandom::fill(&mut bytes).expect("the operating system's random source works");
    hex(&bytes)
}

/// Random bytes for the installation's hashing key (the "pepper").
pub fn generate_pepper() -> Vec<u8> {
    let mut bytes = vec![0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source works");
    bytes
}

/// The full key a client sends.
pub fn format_key(id: KeyId, secret: &str) -> String {
    format!("{PREFIX}{id}_{secret}")
}

/// Splits a presented key into its id and secret; `None` for anything not shaped like a
/// Roster key.
pub fn parse_key(presented: &str) -> Option<(KeyId, &str)> {
    let rest = presented.trim().strip_prefix(PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    let id = id.parse().ok()?;
    (secret.len() == SECRET_BYTES * 2 && secret.bytes().all(|b| b.is_ascii_hexdigit()))
        .then_some((id, secret))
}

/// HMAC-SHA256 of the secret under the installation's pepper.
pub fn hash_secret(pepper: &[u8], secret: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(pepper).expect("HMAC takes keys of any length");
    mac.update(secret.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// Constant-time check of a presented secret against a stored hash.
pub fn verify_secret(pepper: &[u8], secret: &str, stored_hash: &[u8]) -> bool {
    let mut mac = Hmac::<Sha256>::new_from_slice(pepper).expect("HMAC takes keys of any length");
    mac.update(secret.as_bytes());
    mac.verify_slice(stored_hash).is_ok()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_formatted_key_parses_back_and_verifies() {
        let pepper = generate_pepper();
        let secret = generate_secret();
        let id = KeyId::new(7).unwrap();
        let key = format_key(id, &secret);
        let (parsed_id, parsed_secret) = parse_key(&key).unwrap();
        assert_eq!(parsed_id, id);
        let hash = hash_secret(&pepper, &secret);
        assert!(verify_secret(&pepper, parsed_secret, &hash));
        assert!(!verify_secret(&pepper, &generate_secret(), &hash));
        assert!(!verify_secret(&generate_pepper(), parsed_secret, &hash));
    }

    #[test]
    fn malformed_keys_do_not_parse() {
        let secret = generate_secret();
        for bad in [
            "",
            "rk_",
            "rk_1",
            "rk_x_abc".to_string().as_str(),
            &format!("xx_1_{secret}"),
            &format!("rk_0_{secret}"),
            &format!("rk_1_{}", &secret[1..]),
        ] {
            assert!(parse_key(bad).is_none(), "{bad:?}");
        }
    }
}
