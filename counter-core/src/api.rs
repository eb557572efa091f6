//! Wire types of the municipality API v1 (see `counter-core/openapi.yaml`).

use serde::{Deserialize, Serialize};

/// The body of `POST /v1/applications`: routing metadata in clear, the rest sealed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ApplicationEnvelope {
    /// A UUID made by the kiosk: the idempotency key of every retry.
    pub application_id: String,
    /// The kiosk that took the application (`kiosk.id`).
    pub kiosk_id: String,
    /// 6-digit code of the municipality it goes to.
    pub municipality_code: String,
    /// The catalogue's code of the procedure.
    pub procedure_code: String,
    /// RFC 3339, Japan time.
    pub submitted_at: String,
    /// The number on the resident's receipt.
    pub receipt_number: String,
    /// JWE compact serialization (ECDH-ES+A256KW, A256GCM) of [`SealedContent`].
    pub sealed: String,
}

/// What only the municipality can read: the applicant and the answers, bound to the
/// envelope they travel in. The routing fields are repeated inside the seal so that the
/// municipality can check that nobody relabelled the clear envelope (another id, another
/// procedure, another municipality) on the way.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
pub struct SealedContent {
    /// Repeats the envelope's, so a relabelled envelope is refused.
    pub application_id: String,
    /// Repeats the envelope's.
    pub municipality_code: String,
    /// Repeats the envelope's.
    pub procedure_code: String,
    /// From the card, as the card has it.
    pub applicant: Applicant,
    /// One per question of the procedure, in the catalogue's order.
    pub answers: Vec<Answer>,
    /// The language the resident used at the kiosk (BCP 47).
    pub language: String,
}

impl SealedContent {
    /// Whether `envelope` is the one this content was sealed into.
    pub fn matches(&self, envelope: &ApplicationEnvelope) -> bool {
        self.application_id == envelope.application_id
            && self.municipality_code == envelope.municipality_code
            && self.procedure_code == envelope.procedure_code
    }
}

/// Personal data never reaches a log through `{:?}`: only the routing fields are shown.
impl std::fmt::Debug for SealedContent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedContent")
            .field("application_id", &self.application_id)
            .field("municipality_code", &self.municipality_code)
            .field("procedure_code", &self.procedure_code)
            .field("applicant", &self.applicant)
            .field(
                "answers",
                &format_args!("[{} answers: ***]", self.answers.len()),
            )
            .field("language", &self.language)
            .finish()
    }
}

/// Zeroised by the kiosk right after sealing.
#[derive(Clone, Serialize, Deserialize, PartialEq, zeroize::Zeroize)]
pub struct Applicant {
    /// As on the card (a full-width space between family and given name).
    pub name: String,
    /// As on the card.
    pub address: String,
    /// `YYYY-MM-DD`.
    pub birth_date: String,
    /// ISO 5218 code as on the card: "1", "2" or "9".
    pub sex: String,
}

impl std::fmt::Debug for Applicant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Applicant(***)")
    }
}

/// One answer: the catalogue's question id and its machine value.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Answer {
    /// The question's id in the catalogue.
    pub question: String,
    /// The machine value (a choice's value, a number, `YYYY-MM-DD`).
    pub value: String,
}

/// Answer to a POST (`201` or `200`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Accepted {
    /// Echoes the POSTed id.
    pub application_id: String,
    /// The municipality's own reference, shown to staff.
    pub reference: String,
    /// Where the municipality's handling stands.
    pub status: RemoteStatus,
}

/// Answer to `GET /v1/applications/{id}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StatusAnswer {
    /// The application asked about.
    pub application_id: String,
    /// The municipality's own reference.
    pub reference: String,
    /// Where the municipality's handling stands now.
    pub status: RemoteStatus,
}

/// Where the municipality's handling of an application stands.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RemoteStatus {
    /// Stored, not yet looked at.
    Received,
    /// Being handled.
    Processing,
    /// Done.
    Completed,
    /// Refused by the municipality (staff explain why).
    Rejected,
}

impl RemoteStatus {
    /// The wire spelling.
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
    /// A stable code.
    pub error: String,
    /// Words for a person, if any.
    #[serde(default)]
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plaintext_types_redact_personal_data_in_debug() {
        let content = SealedContent {
            application_id: "0b7d4bd2-6f53-4d3a-9a55-1d7d8d1f0e11".into(),
            municipality_code: "113263".into(),
            procedure_code: "juminhyo-copy".into(),
            applicant: Applicant {
                name: "山田　太郎".into(),
                address: "埼玉県入間郡毛呂山町中央1-1".into(),
                birth_date: "1980-02-17".into(),
                sex: "1".into(),
            },
            answers: vec![Answer {
                question: "copies".into(),
                value: "secret-answer-7".into(),
            }],
            language: "ja".into(),
        };
        let shown = format!("{content:?} {:?} {content:#?}", content.applicant);
        for personal in ["山田", "毛呂山町中央", "1980", "\"1\"", "secret-answer-7"] {
            assert!(!shown.contains(personal), "{personal} in {shown}");
        }
        assert!(shown.contains("113263") && shown.contains("***"), "{shown}");
    }
}
