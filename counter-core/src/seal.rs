//! Sealing an application to its municipality: JWE compact, ECDH-ES+A256KW with A256GCM.
//!
//! The kiosk only ever holds public keys, so nothing on its disk can open its own queue.

use josekit::jwe::{self, JweHeader, ECDH_ES_A256KW};

/// Why sealing or opening failed.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// The public key is not an EC P-256 key.
    #[error("the municipality public key is not a usable EC P-256 PEM key: {0}")]
    BadKey(String),
    /// Encryption failed.
    #[error("sealing failed: {0}")]
    Encrypt(String),
    /// The payload does not open with this key (or was altered).
    #[error("the sealed payload cannot be opened: {0}")]
    Decrypt(String),
}

/// Encrypts `plaintext` so that only the holder of the private key of `public_pem` can read it.
pub fn seal(plaintext: &[u8], public_pem: &[u8]) -> Result<String, SealError> {
    let encrypter = ECDH_ES_A256KW
        .encrypter_from_pem(public_pem)
        .map_err(|e| SealError::BadKey(e.to_string()))?;
    let mut header = JweHeader::new();
    header.set_content_encryption("A256GCM");
    header.set_content_type("application/json");
    jwe::serialize_compact(plaintext, &header, &encrypter)
        .map_err(|e| SealError::Encrypt(e.to_string()))
}

/// Opens a sealed payload with the municipality's private key (used by municipality backends).
pub fn open(compact: &str, private_pem: &[u8]) -> Result<Vec<u8>, SealError> {
    let decrypter = ECDH_ES_A256KW
        .decrypter_from_pem(private_pem)
        .map_err(|e| SealError::BadKey(e.to_string()))?;
    let (payload, header) = jwe::deserialize_compact(compact, &decrypter)
        .map_err(|e| SealError::Decrypt(e.to_string()))?;
    if header.content_encryption() != Some("A256GCM") {
        return Err(SealError::Decrypt("unexpected content encryption".into()));
    }
    Ok(payload)
}

/// A fresh P-256 key pair as (private PEM, public PEM), for test and demo municipalities.
pub fn generate_key_pair() -> Result<(Vec<u8>, Vec<u8>), SealError> {
    let pair = josekit::jwe::ECDH_ES
        .generate_ec_key_pair(josekit::jwk::alg::ec::EcCurve::P256)
        .map_err(|e| SealError::BadKey(e.to_string()))?;
    Ok((pair.to_pem_private_key(), pair.to_pem_public_key()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_wrong_key() {
        let (private, public) = generate_key_pair().unwrap();
        let sealed = seal("山田　太郎".as_bytes(), &public).unwrap();
        assert_eq!(sealed.split('.').count(), 5);
        assert!(!sealed.contains("山田"));
        let header = sealed.split('.').next().unwrap();
        let header = String::from_utf8(base64_url(header)).unwrap();
        assert!(
            header.contains("ECDH-ES+A256KW") && header.contains("A256GCM"),
            "{header}"
        );
        assert_eq!(open(&sealed, &private).unwrap(), "山田　太郎".as_bytes());
        let (other, _) = generate_key_pair().unwrap();
        assert!(open(&sealed, &other).is_err());
        assert!(matches!(
            seal(b"x", b"not a key"),
            Err(SealError::BadKey(_))
        ));
    }

    fn base64_url(s: &str) -> Vec<u8> {
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut bits = 0u32;
        let mut n = 0;
        let mut out = vec![];
        for c in s.bytes() {
            bits = (bits << 6) | A.iter().position(|&a| a == c).unwrap() as u32;
            n += 6;
            if n >= 8 {
                n -= 8;
                out.push((bits >> n) as u8);
            }
        }
        out
    }
}
