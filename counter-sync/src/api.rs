//! Wire types of the municipality API v1 (see `counter-sync/openapi.yaml`).

use serde::{Deserialize, Serialize};

/// The body of `POST /v1/applications`: routing metadata in clear, the rest sealed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ApplicationEnvelope {
    pub application_id: String,
    pub kiosk_id: String,
    pub municipality_code: String,
    pub procedure_code: String,
    pub submitted_at: String,
    pub receipt_number: String,
    /// JWE compact serialization (ECDH-ES+A256KW, A256GCM) of [`SealedContent`].
    pub sealed: String,
}

/// What only the municipality can read: the applicant and the answers.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SealedContent {
    pub applicant: Applicant,
    pub answers: Vec<Answer>,
    /// The language the resident used at the kiosk (BCP 47).
    pub language: String,
}

/// Zeroised by the kiosk right after sealing.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, zeroize::Zeroize)]
pub struct Applicant {
    pub name: String,
    pub address: String,
    /// `YYYY-MM-DD`.
    pub birth_date: String,
    /// ISO 5218 code as on the card: "1", "2" or "9".
    pub sex: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Answer {
    pub question: String,
    pub value: String,
}

/// Answer to a POST (`201` or `200`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Accepted {
    pub application_id: String,
    pub reference: String,
    pub status: RemoteStatus,
}

/// Answer to `GET /v1/applications/{id}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StatusAnswer {
    pub application_id: String,
    pub reference: String,
    pub status: RemoteStatus,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RemoteStatus {
    Received,
    Processing,
    Completed,
    Rejected,
}

impl RemoteStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Received => "received",
            Self::Processing => "processing",
            Self::Completed => "completed",
            Self::Rejected => "rejected",
        }
    }
}

/// Error body of any non-2xx answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ErrorBody {
    pub error: String,
    #[serde(default)]
    pub message: String,
}
