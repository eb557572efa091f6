//! The reference municipality backend: the v1 API of product.md over real HTTP. It keeps
//! what it receives, opens `sealed` with its private key, and can inject faults.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use counter_sync::api::{
    Accepted, ApplicationEnvelope, ErrorBody, RemoteStatus, SealedContent, StatusAnswer,
};
use serde::Serialize;
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// One application as the municipality holds it.
#[derive(Debug, Clone, Serialize)]
pub struct Received {
    pub envelope: ApplicationEnvelope,
    pub content: SealedContent,
    pub reference: String,
    pub status: RemoteStatus,
    /// Every POST body seen for this key (to check that retries are identical).
    pub bodies: Vec<Vec<u8>>,
}

/// A fault to inject on the next POST.
#[derive(Debug, Clone)]
pub enum Fault {
    Status(u16, Option<u64>),
    Garbage,
}

#[derive(Default)]
pub struct Store {
    pub code: String,
    pub private_pem: Vec<u8>,
    pub received: HashMap<String, Received>,
    pub order: Vec<String>,
    pub posts: usize,
    pub faults: VecDeque<Fault>,
}

pub type Shared = Arc<Mutex<Store>>;

/// A running backend.
pub struct RefBackend {
    pub addr: SocketAddr,
    pub store: Shared,
}

impl RefBackend {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn received(&self) -> Vec<Received> {
        let s = self.store.lock().unwrap();
        s.order
            .iter()
            .filter_map(|id| s.received.get(id).cloned())
            .collect()
    }

    /// Starts on its own thread and runtime, on `127.0.0.1:port` (0 for any free port).
    pub fn start(code: &str, private_pem: Vec<u8>, port: u16) -> anyhow::Result<Self> {
        let store: Shared = Arc::new(Mutex::new(Store {
            code: code.into(),
            private_pem,
            ..Default::default()
        }));
        let listener = std::net::TcpListener::bind(("127.0.0.1", port))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let app = router(store.clone());
        std::thread::Builder::new()
            .name(format!("backend-{code}"))
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                rt.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                    axum::serve(listener, app).await.expect("serve");
                });
            })?;
        Ok(RefBackend { addr, store })
    }
}

pub fn router(store: Shared) -> Router {
    Router::new()
        .route("/v1/applications", post(post_application))
        .route("/v1/applications/{id}", get(get_application))
        .route("/admin/applications", get(admin_list))
        .with_state(store)
}

fn error(status: StatusCode, error: &str, message: impl Into<String>) -> Response {
    (
        status,
        Json(ErrorBody {
            error: error.into(),
            message: message.into(),
        }),
    )
        .into_response()
}

async fn post_application(
    State(store): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut s = store.lock().unwrap();
    s.posts += 1;
    if let Some(f) = s.faults.pop_front() {
        return match f {
            Fault::Status(code, retry_after) => {
                let mut r = error(
                    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                    "injected",
                    "injected fault",
                );
                if let Some(ra) = retry_after {
                    r.headers_mut()
                        .insert("retry-after", ra.to_string().parse().unwrap());
                }
                r
            }
            Fault::Garbage => (StatusCode::OK, "<html>502 Bad Gateway</html>").into_response(),
        };
    }
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim_matches('"').to_string());
    let Some(key) = key.filter(|k| uuid::Uuid::parse_str(k).is_ok()) else {
        return error(
            StatusCode::BAD_REQUEST,
            "missing_idempotency_key",
            "Idempotency-Key must be a quoted UUID",
        );
    };
    let envelope: ApplicationEnvelope = match serde_json::from_slice(&body) {
        Ok(e) => e,
        Err(e) => return error(StatusCode::BAD_REQUEST, "bad_body", e.to_string()),
    };
    if envelope.application_id != key {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "key_mismatch",
            "Idempotency-Key differs from application_id",
        );
    }
    if envelope.municipality_code != s.code {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "wrong_municipality",
            format!("this is {}", s.code),
        );
    }
    if let Some(existing) = s.received.get_mut(&key) {
        if existing.bodies[0] != body.as_ref() {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "key_reused",
                "same Idempotency-Key with a different body",
            );
        }
        existing.bodies.push(body.to_vec());
        let a = Accepted {
            application_id: key,
            reference: existing.reference.clone(),
            status: existing.status,
        };
        return (StatusCode::OK, Json(a)).into_response();
    }
    let content: SealedContent = match counter_sync::seal::open(&envelope.sealed, &s.private_pem)
        .map_err(|e| e.to_string())
        .and_then(|p| serde_json::from_slice(&p).map_err(|e| e.to_string()))
    {
        Ok(c) => c,
        Err(e) => return error(StatusCode::UNPROCESSABLE_ENTITY, "cannot_open", e),
    };
    let reference = format!("{}-{:06}", s.code, s.order.len() + 1);
    s.order.push(key.clone());
    s.received.insert(
        key.clone(),
        Received {
            envelope,
            content,
            reference: reference.clone(),
            status: RemoteStatus::Received,
            bodies: vec![body.to_vec()],
        },
    );
    (
        StatusCode::CREATED,
        Json(Accepted {
            application_id: key,
            reference,
            status: RemoteStatus::Received,
        }),
    )
        .into_response()
}

async fn get_application(State(store): State<Shared>, Path(id): Path<String>) -> Response {
    let s = store.lock().unwrap();
    match s.received.get(&id) {
        Some(r) => Json(StatusAnswer {
            application_id: id,
            reference: r.reference.clone(),
            status: r.status,
        })
        .into_response(),
        None => error(StatusCode::NOT_FOUND, "not_found", "no such application"),
    }
}

async fn admin_list(State(store): State<Shared>) -> Response {
    let s = store.lock().unwrap();
    let list: Vec<&Received> = s.order.iter().filter_map(|id| s.received.get(id)).collect();
    Json(serde_json::json!({ "posts": s.posts, "applications": list })).into_response()
}
