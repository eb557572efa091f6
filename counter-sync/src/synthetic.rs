//! Synthetic applications for installation checks and load tests: real sealed payloads to
//! each configured municipality, with an applicant who is nobody.

use counter_core::api::{Answer, Applicant, SealedContent};
use counter_core::config::SyncConfig;
use counter_core::outbox::NewApplication;
use counter_core::seal::{seal, SealError};

/// The procedure code every synthetic application carries, so a municipality can drop them.
pub const PROCEDURE: &str = "madoguchi-synthetic-check";

/// Why synthetic applications could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SyntheticError {
    /// A municipality's public key is missing or unreadable.
    #[error("cannot read the public key of municipality {code} from {path}: {source}")]
    Key {
        /// The municipality.
        code: String,
        /// Where its key was looked for.
        path: String,
        /// What reading it said.
        source: std::io::Error,
    },
    /// The key was read but sealing failed.
    #[error(transparent)]
    Seal(#[from] SealError),
}

/// `count` applications spread round-robin over the configured municipalities.
pub fn applications(cfg: &SyncConfig, count: usize) -> Result<Vec<NewApplication>, SyntheticError> {
    let mut keys = Vec::new();
    for m in &cfg.municipalities {
        let pem = std::fs::read(&m.public_key).map_err(|source| SyntheticError::Key {
            code: m.code.clone(),
            path: m.public_key.display().to_string(),
            source,
        })?;
        keys.push((m.code.clone(), pem));
    }
    (0..count)
        .map(|i| {
            let (code, pem) = &keys[i % keys.len()];
            let application_id = uuid::Uuid::new_v4();
            let content = SealedContent {
                application_id: application_id.to_string(),
                municipality_code: code.clone(),
                procedure_code: PROCEDURE.into(),
                applicant: Applicant {
                    name: "試験　データ".into(),
                    address: "(synthetic)".into(),
                    birth_date: "2000-01-01".into(),
                    sex: "9".into(),
                },
                answers: vec![Answer {
                    question: "synthetic".into(),
                    value: "true".into(),
                }],
                language: "ja".into(),
            };
            let plaintext = serde_json::to_vec(&content).expect("plain struct serialises");
            Ok(NewApplication {
                application_id,
                kiosk_id: cfg.kiosk.id.clone(),
                municipality_code: code.clone(),
                procedure_code: PROCEDURE.into(),
                submitted_at: time::OffsetDateTime::now_utc(),
                receipt_lang: "ja".into(),
                sealed: seal(&plaintext, pem)?,
            })
        })
        .collect()
}
