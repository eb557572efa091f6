//! From a finished session to a durable, sealed outbox entry.

use crate::config::KioskConfig;
use crate::session::{Submission, Submitted};
use counter_core::api::{Answer, Applicant, SealedContent};
use counter_core::outbox::{NewApplication, Outbox, OutboxError};
use counter_core::seal::{seal, SealError};
use std::collections::HashMap;
use zeroize::Zeroizing;

/// Why an application could not be saved.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// A municipality's public key cannot be read.
    #[error("cannot read the public key of municipality {code} from {path}: {source}")]
    Key {
        /// The municipality.
        code: String,
        /// Where its key was looked for.
        path: String,
        /// What reading it said.
        source: std::io::Error,
    },
    /// The municipality is not configured.
    #[error("municipality {0} is not configured")]
    UnknownMunicipality(String),
    /// Sealing failed.
    #[error(transparent)]
    Seal(#[from] SealError),
    /// The outbox failed.
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    /// The content could not be serialized.
    #[error("cannot encode the application: {0}")]
    Encode(#[from] serde_json::Error),
}

/// Seals and saves applications.
pub struct Submitter {
    outbox: Outbox,
    keys: HashMap<String, Vec<u8>>,
    kiosk_id: String,
}

impl Submitter {
    /// Opens the outbox and loads every municipality's public key (so a bad key shows at start).
    pub fn open(cfg: &KioskConfig) -> Result<Self, SubmitError> {
        let mut keys = HashMap::new();
        for m in &cfg.sync.municipalities {
            let pem = std::fs::read(&m.public_key).map_err(|source| SubmitError::Key {
                code: m.code.clone(),
                path: m.public_key.display().to_string(),
                source,
            })?;
            seal(b"probe", &pem)?; // fails now, naming the key, rather than at the first resident
            keys.insert(m.code.clone(), pem);
        }
        Ok(Submitter {
            outbox: Outbox::open(&cfg.sync.outbox.path)?,
            keys,
            kiosk_id: cfg.sync.kiosk.id.clone(),
        })
    }

    /// Seals the application to its municipality and enqueues it in one transaction.
    /// The plaintext exists only in zeroised buffers during this call.
    pub fn submit(&mut self, s: Submission) -> Result<Submitted, SubmitError> {
        let key = self
            .keys
            .get(&s.municipality_code)
            .ok_or_else(|| SubmitError::UnknownMunicipality(s.municipality_code.clone()))?;
        let application_id = uuid::Uuid::new_v4();
        let mut content = SealedContent {
            application_id: application_id.to_string(),
            municipality_code: s.municipality_code.clone(),
            procedure_code: s.procedure_code.clone(),
            applicant: Applicant {
                name: s.applicant.name.expose().clone(),
                address: s.applicant.address.expose().clone(),
                birth_date: iso_date(s.applicant.birth.expose()),
                sex: s.applicant.sex.code().to_owned(),
            },
            answers: s
                .answers
                .iter()
                .map(|(q, v)| Answer {
                    question: q.clone(),
                    value: v.clone(),
                })
                .collect(),
            language: s.lang.code().to_owned(),
        };
        let encoded = serde_json::to_vec(&content);
        zeroize::Zeroize::zeroize(&mut content.applicant);
        let plaintext = Zeroizing::new(encoded?);
        let sealed = seal(&plaintext, key)?;
        let submitted_at = counter_core::hours::japan_now();
        let app = NewApplication {
            application_id,
            kiosk_id: self.kiosk_id.clone(),
            municipality_code: s.municipality_code.clone(),
            procedure_code: s.procedure_code.clone(),
            submitted_at,
            receipt_lang: s.lang.code().to_owned(),
            sealed,
        };
        let receipt_number = self.outbox.enqueue(&app, counter_core::now_ms())?;
        tracing::info!(receipt = %receipt_number, application_id = %app.application_id, municipality = %app.municipality_code, procedure = %app.procedure_code, "application enqueued");
        Ok(Submitted {
            receipt_number,
            submitted_at,
        })
    }
}

fn iso_date(yyyymmdd: &str) -> String {
    if yyyymmdd.len() == 8 {
        format!("{}-{}-{}", &yyyymmdd[..4], &yyyymmdd[4..6], &yyyymmdd[6..])
    } else {
        yyyymmdd.to_owned()
    }
}
