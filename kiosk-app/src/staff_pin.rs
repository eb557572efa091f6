//! The staff PIN, stored only as an Argon2id hash (PHC string) in the kiosk's config, so that a
//! copied config file does not give the PIN away. `kioskctl staff hash-pin` makes the hash.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::RngCore;

/// Why a staff PIN could not be hashed or checked.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StaffPinError {
    #[error(
        "the staff PIN must be exactly {} digits",
        crate::session::STAFF_PIN_LEN
    )]
    /// Not six digits.
    Format,
    /// The configured hash does not parse.
    #[error("staff.pin_hash is not an Argon2 PHC string ($argon2id$v=19$…): {0}")]
    BadHash(String),
}

/// Hashes a new staff PIN with a random salt.
pub fn hash_pin(pin: &[u8]) -> Result<String, StaffPinError> {
    check_format(pin)?;
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| StaffPinError::BadHash(e.to_string()))?;
    Argon2::default()
        .hash_password(pin, &salt)
        .map(|h| h.to_string())
        .map_err(|e| StaffPinError::BadHash(e.to_string()))
}

/// Checks that a configured hash can be used at all (at config load, not at the first check).
pub fn validate_hash(hash: &str) -> Result<(), StaffPinError> {
    PasswordHash::new(hash)
        .map(|_| ())
        .map_err(|e| StaffPinError::BadHash(e.to_string()))
}

/// Whether `pin` matches the configured hash. No hash configured: staff mode stays closed.
pub fn verify_pin(hash: Option<&str>, pin: &[u8]) -> bool {
    let Some(hash) = hash else {
        tracing::warn!("staff mode has no staff.pin_hash configured");
        return false;
    };
    check_format(pin).is_ok()
        && PasswordHash::new(hash).is_ok_and(|h| Argon2::default().verify_password(pin, &h).is_ok())
}

fn check_format(pin: &[u8]) -> Result<(), StaffPinError> {
    if pin.len() == crate::session::STAFF_PIN_LEN && pin.iter().all(u8::is_ascii_digit) {
        Ok(())
    } else {
        Err(StaffPinError::Format)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_verifies_only_its_pin() {
        let h = hash_pin(b"246810").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(!h.contains("246810"));
        validate_hash(&h).unwrap();
        assert!(verify_pin(Some(&h), b"246810"));
        assert!(!verify_pin(Some(&h), b"246811"));
        assert!(!verify_pin(None, b"246810"));
        assert_ne!(hash_pin(b"246810").unwrap(), h, "salted");
        assert_eq!(hash_pin(b"1234"), Err(StaffPinError::Format));
        assert!(validate_hash("sha256:abcd").is_err());
    }
}
