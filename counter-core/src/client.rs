//! The municipality client: the network edge of counter-sync.
//!
//! [`classify`] turns any HTTP answer (or its absence) into what the outbox should do; it is
//! pure and unit-tested. [`HttpClient`] is the reqwest implementation with capped bodies.

use crate::api::{Accepted, StatusAnswer};
use crate::text::{external, MAX_REFERENCE, MAX_SNIPPET};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Largest response body read from a municipality; anything longer is an error.
pub const MAX_BODY: usize = 64 * 1024;

/// What to do with an application after one attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The municipality has it.
    Delivered {
        /// `201` or `200` (already had it).
        status: u16,
        /// What it answered.
        accepted: Accepted,
    },
    /// Not now: a transport error, `5xx`, `408`, `429`.
    Retry {
        /// None when no answer came.
        status: Option<u16>,
        /// The answer's `Retry-After`, if any.
        retry_after: Option<Duration>,
        /// For staff and the log, sanitised.
        reason: String,
    },
    /// Never, as it is: a `4xx` that says the application itself is wrong; kept for staff.
    Permanent {
        /// The answer's status.
        status: u16,
        /// For staff and the log, sanitised.
        reason: String,
    },
    /// `401`/`403`: the destination itself is refused; pause it and alert staff.
    Pause {
        /// `401` or `403`.
        status: u16,
        /// For staff and the log, sanitised.
        reason: String,
    },
}

impl Outcome {
    /// The metric label of this outcome.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Delivered { .. } => "delivered",
            Outcome::Retry { .. } => "retry",
            Outcome::Permanent { .. } => "failed",
            Outcome::Pause { .. } => "paused",
        }
    }
}

/// Maps a response to an [`Outcome`]. Garbage, HTML error pages and truncated JSON are errors
/// with a reason, never panics. A municipality that answers outside the contract (a redirect, a
/// success that is not the documented answer for this application) is a configuration problem:
/// the destination is paused for staff rather than sent the same applications again and again.
/// Every piece of the answer that ends up in a reason is sanitised ([`crate::text`]).
pub fn classify(
    status: u16,
    retry_after: Option<Duration>,
    body: &[u8],
    application_id: &str,
) -> Outcome {
    let snippet = || {
        let end = body.len().min(4 * MAX_SNIPPET);
        external(&String::from_utf8_lossy(&body[..end]), MAX_SNIPPET)
    };
    let off_contract = |why: String| Outcome::Pause {
        status,
        reason: format!(
            "HTTP {status}: the municipality answered outside the API ({why}); check its endpoint"
        ),
    };
    match status {
        200 | 201 => match serde_json::from_slice::<Accepted>(body) {
            Ok(accepted)
                if accepted.application_id == application_id && !accepted.reference.is_empty() =>
            {
                Outcome::Delivered {
                    status,
                    accepted: Accepted {
                        reference: external(&accepted.reference, MAX_REFERENCE),
                        ..accepted
                    },
                }
            }
            Ok(accepted) if accepted.application_id != application_id => off_contract(format!(
                "the answer is for application {}, not this one",
                external(&accepted.application_id, 40)
            )),
            Ok(_) => off_contract("the answer has no reference".into()),
            // JSON, but not the documented answer: a server that is not the municipality's API.
            Err(e) if serde_json::from_slice::<serde_json::Value>(body).is_ok() => {
                off_contract(format!("{e}: {}", snippet()))
            }
            // Not JSON at all (a proxy's error page, a cut-off answer): a passing fault.
            Err(e) => Outcome::Retry {
                status: Some(status),
                retry_after,
                reason: format!("unreadable success answer ({e}): {}", snippet()),
            },
        },
        202..=299 => off_contract("a success code the API does not use".into()),
        300..=399 => Outcome::Pause {
            status,
            reason: format!(
                "HTTP {status}: the municipality's server redirects; counter-sync never follows a redirect (fix the endpoint in the config)"
            ),
        },
        409 => Outcome::Retry {
            status: Some(status),
            retry_after,
            reason: "still in progress at the municipality".into(),
        },
        408 | 429 | 500..=599 => Outcome::Retry {
            status: Some(status),
            retry_after,
            reason: format!("HTTP {status}: {}", snippet()),
        },
        401 | 403 => Outcome::Pause {
            status,
            reason: format!("HTTP {status}: the municipality refused this kiosk"),
        },
        400 | 422 => Outcome::Permanent {
            status,
            reason: format!("HTTP {status}: {}", snippet()),
        },
        _ => Outcome::Retry {
            status: Some(status),
            retry_after,
            reason: format!("unexpected HTTP {status}: {}", snippet()),
        },
    }
}

/// Why a client for a municipality could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The HTTP client could not be built.
    #[error("cannot build HTTP client: {0}")]
    Build(String),
    /// A certificate or key file is missing or unreadable.
    #[error("TLS file {path}: {problem}")]
    TlsFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// The certificates and key do not make a TLS configuration.
    #[error("TLS setup: {0}")]
    Tls(#[from] rustls::Error),
}

/// The files of one destination's mutual TLS: only `ca` is trusted for the server, and the
/// kiosk proves itself with its client certificate.
#[derive(Debug, Clone, Copy)]
pub struct TlsFiles<'a> {
    /// PEM: the only CA trusted for the municipality's server.
    pub ca: &'a Path,
    /// PEM: the kiosk's certificate.
    pub client_cert: &'a Path,
    /// PEM: the kiosk's private key.
    pub client_key: &'a Path,
}

/// Refuses a private key that any user but its owner can read: the kiosk app runs as another
/// user in the same group and must never be able to use the kiosk's TLS identity.
pub fn check_private_key_mode(path: &Path) -> Result<(), ClientError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .map_err(|e| ClientError::TlsFile {
            path: path.to_owned(),
            problem: e.to_string(),
        })?
        .permissions()
        .mode()
        & 0o7777;
    if mode & 0o077 != 0 {
        return Err(ClientError::TlsFile {
            path: path.to_owned(),
            problem: format!(
                "the private key has mode {mode:04o}, readable by other users; make it 0600, owned by the counter-sync user"
            ),
        });
    }
    Ok(())
}

/// A rustls client configuration that trusts exactly one CA (not the system store).
pub fn tls_config(files: TlsFiles<'_>) -> Result<rustls::ClientConfig, ClientError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    install_crypto_provider();
    let file_err = |path: &Path, problem: String| ClientError::TlsFile {
        path: path.to_owned(),
        problem,
    };
    let certs = |path: &Path| -> Result<Vec<CertificateDer<'static>>, ClientError> {
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| file_err(path, e.to_string()))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| file_err(path, e.to_string()))?;
        if certs.is_empty() {
            return Err(file_err(path, "holds no PEM certificate".into()));
        }
        Ok(certs)
    };
    let mut roots = rustls::RootCertStore::empty();
    for ca in certs(files.ca)? {
        roots
            .add(ca)
            .map_err(|e| file_err(files.ca, e.to_string()))?;
    }
    let chain = certs(files.client_cert)?;
    check_private_key_mode(files.client_key)?;
    let key = PrivateKeyDer::from_pem_file(files.client_key)
        .map_err(|e| file_err(files.client_key, e.to_string()))?;
    Ok(rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)?)
}

/// reqwest-based client; one per municipality so that their connection pools are independent.
#[derive(Clone)]
pub struct HttpClient {
    http: reqwest::Client,
    base: String,
}

impl HttpClient {
    /// `tls` is required for `https://` endpoints; plain `http://` is for test destinations.
    pub fn new(
        endpoint: &str,
        timeout: Duration,
        connect_timeout: Duration,
        tls: Option<TlsFiles<'_>>,
    ) -> Result<Self, ClientError> {
        install_crypto_provider();
        let mut builder = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(connect_timeout)
            .pool_max_idle_per_host(256)
            // A redirect would re-send the envelope to a host the config never named, maybe in
            // clear and without the client certificate: a 3xx is an answer, never followed.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!(
                "madoguchi-counter-sync/",
                env!("CARGO_PKG_VERSION")
            ));
        match tls {
            Some(files) => {
                builder = builder
                    .tls_backend_preconfigured(tls_config(files)?)
                    .https_only(true)
            }
            None if endpoint.starts_with("https://") => {
                return Err(ClientError::Build(format!(
                    "{endpoint} needs the municipality's CA and the kiosk's client certificate"
                )))
            }
            // Plain http (a test destination): still no system trust store, which a kiosk
            // need not have and must not rely on; no https URL can succeed from here.
            None => {
                builder = builder.tls_backend_preconfigured(
                    rustls::ClientConfig::builder()
                        .with_root_certificates(rustls::RootCertStore::empty())
                        .with_no_client_auth(),
                )
            }
        }
        let http = builder.build().map_err(|e| {
            let mut message = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                message.push_str(&format!(": {s}"));
                source = s.source();
            }
            ClientError::Build(message)
        })?;
        Ok(Self {
            http,
            base: endpoint.trim_end_matches('/').to_string(),
        })
    }

    /// The client of one configured municipality: its CA and this kiosk's certificate.
    pub fn for_municipality(
        cfg: &crate::config::SyncConfig,
        m: &crate::config::MunicipalityConfig,
        timeout: Duration,
        connect_timeout: Duration,
    ) -> Result<Self, ClientError> {
        let tls = match (&m.ca, &cfg.tls) {
            (Some(ca), Some(tls)) => Some(TlsFiles {
                ca,
                client_cert: &tls.client_cert,
                client_key: &tls.client_key,
            }),
            _ => None,
        };
        Self::new(&m.endpoint, timeout, connect_timeout, tls)
    }

    /// One delivery attempt of a stored body, unchanged.
    pub async fn post_application(&self, application_id: &str, body: Vec<u8>) -> Outcome {
        let request = self
            .http
            .post(format!("{}/v1/applications", self.base))
            .header("Idempotency-Key", format!("\"{application_id}\""))
            .header("Content-Type", "application/json")
            .body(body);
        match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let retry_after = response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| {
                        crate::retry::parse_retry_after(v, time::OffsetDateTime::now_utc())
                    });
                let location = response
                    .headers()
                    .get("location")
                    .map(|v| external(&String::from_utf8_lossy(v.as_bytes()), MAX_SNIPPET));
                match read_capped(response).await {
                    Ok(body) => match classify(status, retry_after, &body, application_id) {
                        Outcome::Pause { status, reason } if location.is_some() => Outcome::Pause {
                            status,
                            reason: format!(
                                "{reason}; it points to {}",
                                location.unwrap_or_default()
                            ),
                        },
                        outcome => outcome,
                    },
                    Err(reason) => Outcome::Retry {
                        status: Some(status),
                        retry_after,
                        reason,
                    },
                }
            }
            Err(e) => Outcome::Retry {
                status: None,
                retry_after: None,
                reason: describe(&e),
            },
        }
    }

    /// Reachability check for `doctor`: any HTTP answer to a status query of a non-existent
    /// application (a `404` is expected) proves the endpoint is up.
    pub async fn probe(&self) -> Result<u16, String> {
        let response = self
            .http
            .get(format!(
                "{}/v1/applications/00000000-0000-0000-0000-000000000000",
                self.base
            ))
            .send()
            .await
            .map_err(|e| describe(&e))?;
        Ok(response.status().as_u16())
    }

    /// `GET /v1/applications/{id}`: the municipality's view of one application.
    pub async fn get_status(&self, application_id: &str) -> Result<StatusAnswer, String> {
        let response = self
            .http
            .get(format!("{}/v1/applications/{application_id}", self.base))
            .send()
            .await
            .map_err(|e| describe(&e))?;
        let status = response.status().as_u16();
        let body = read_capped(response).await?;
        if status != 200 {
            return Err(format!("HTTP {status}"));
        }
        let answer: StatusAnswer =
            serde_json::from_slice(&body).map_err(|e| format!("unreadable status answer: {e}"))?;
        if answer.application_id != application_id {
            return Err(format!(
                "status answer is for application {:?}",
                answer.application_id
            ));
        }
        Ok(answer)
    }
}

async fn read_capped(mut response: reqwest::Response) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| format!("answer cut off: {}", describe(&e)))?
    {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(format!("answer larger than {MAX_BODY} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    let mut msg = format!("{kind}: {e}");
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg.push_str(&format!(": {s}"));
        source = s.source();
    }
    external(&msg, 2 * MAX_SNIPPET)
}

/// rustls needs one process-wide crypto provider; we use ring.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

#[cfg(test)]
mod tests;
