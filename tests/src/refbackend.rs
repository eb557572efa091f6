//! The reference municipality backend: the v1 API of product.md over real HTTP (or HTTPS
//! with client certificates). It keeps what it receives, opens `sealed` with its private key,
//! records every POST body by key, and injects faults: scripted ones, or at random (chaos),
//! including timeouts and connection resets *after* it has stored the application.
//!
//! Every request that reaches a handler is logged as an [`Exchange`] — its arrival time, the
//! request and the response exactly as sent — so that tests can check the client's timing
//! (nothing before `Retry-After`, one probe at a time) and validate the live traffic of both
//! directions against `openapi.yaml` rather than against the types both sides share.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use counter_core::api::{
    Accepted, ApplicationEnvelope, ErrorBody, RemoteStatus, SealedContent, StatusAnswer,
};
use serde::Serialize;
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// One request as the backend saw it and the answer it gave (`None` for a request that was
/// never answered: a hang or a reset).
#[derive(Debug, Clone)]
pub struct Exchange {
    /// When the whole request had arrived.
    pub at: Instant,
    pub method: String,
    pub path: String,
    /// The `Idempotency-Key` header exactly as received.
    pub idempotency_key: Option<String>,
    pub request_body: Vec<u8>,
    pub response: Option<Answer>,
}

/// A response exactly as it went on the wire.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

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

/// A fault to inject on a POST.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Answer this status (with `Retry-After` seconds) without storing.
    Status(u16, Option<u64>),
    /// An HTML page with `200`.
    Garbage,
    /// Never answer, store nothing (a hung backend).
    Hang,
    /// Store the application, then never answer (the client times out).
    StoreThenHang,
    /// Store the application, then reset the connection (TCP RST).
    StoreThenReset,
    /// Answer `307 Temporary Redirect` to this location, storing nothing.
    Redirect(String),
    /// Answer this status with this JSON body, storing nothing (a server outside the API).
    Json(u16, String),
    /// Store the application and answer `201` with the documented body padded with this many
    /// spaces (still valid JSON): a client that reads answers without a cap would take it as
    /// a delivery.
    Huge(usize),
}

/// Random faults: each POST draws one with these per-mille rates (the rest succeed).
#[derive(Debug, Clone)]
pub struct Chaos {
    pub seed: u64,
    pub faults: Vec<(Fault, u32)>,
}

#[derive(Default)]
pub struct Store {
    pub code: String,
    pub private_pem: Vec<u8>,
    pub received: HashMap<String, Received>,
    pub order: Vec<String>,
    pub posts: usize,
    pub faults: VecDeque<Fault>,
    /// Every POST body by Idempotency-Key, faulted ones included.
    pub bodies_by_key: HashMap<String, Vec<Vec<u8>>>,
    /// Faults injected so far, by kind (for the chaos test's report).
    pub injected: Vec<Fault>,
    /// `422 key_reused` answers given (must stay zero: retries are identical).
    pub conflicts: usize,
    /// Every `Idempotency-Key` header exactly as received.
    pub raw_keys: Vec<String>,
    /// Every request with its answer, in arrival order.
    pub exchanges: Vec<Exchange>,
    chaos: Option<(Chaos, u64)>,
}

impl Store {
    /// Turns random faults on (or off with `None`).
    pub fn set_chaos(&mut self, chaos: Option<Chaos>) {
        self.chaos = chaos.map(|c| {
            let state = c.seed | 1;
            (c, state)
        });
    }

    fn next_fault(&mut self) -> Option<Fault> {
        if let Some(f) = self.faults.pop_front() {
            return Some(f);
        }
        let (chaos, state) = self.chaos.as_mut()?;
        // xorshift64*: deterministic per seed, no dependency.
        *state ^= *state >> 12;
        *state ^= *state << 25;
        *state ^= *state >> 27;
        let draw = (state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) % 1000;
        let mut acc = 0;
        for (fault, per_mille) in &chaos.faults {
            acc += u64::from(*per_mille);
            if draw < acc {
                return Some(fault.clone());
            }
        }
        None
    }
}

pub type Shared = Arc<Mutex<Store>>;

/// Server side of mutual TLS: the server's chain and key, and the CA its clients must use.
pub struct ServerTls {
    pub config: Arc<rustls::ServerConfig>,
}

/// A running backend.
pub struct RefBackend {
    pub addr: SocketAddr,
    pub store: Shared,
    tls: bool,
}

impl RefBackend {
    pub fn url(&self) -> String {
        if self.tls {
            format!("https://localhost:{}", self.addr.port())
        } else {
            format!("http://{}", self.addr)
        }
    }

    /// Application ids stored, in arrival order.
    pub fn stored_ids(&self) -> Vec<String> {
        self.store.lock().unwrap().order.clone()
    }

    /// Arrival times of every `POST /v1/applications`, in order.
    pub fn post_times(&self) -> Vec<Instant> {
        self.store
            .lock()
            .unwrap()
            .exchanges
            .iter()
            .filter(|e| e.method == "POST")
            .map(|e| e.at)
            .collect()
    }

    /// Every request so far with its answer.
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.store.lock().unwrap().exchanges.clone()
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
        Self::start_with(code, private_pem, port, None)
    }

    /// Like [`RefBackend::start`], speaking HTTPS and requiring a client certificate.
    pub fn start_with(
        code: &str,
        private_pem: Vec<u8>,
        port: u16,
        tls: Option<ServerTls>,
    ) -> anyhow::Result<Self> {
        let store: Shared = Arc::new(Mutex::new(Store {
            code: code.into(),
            private_pem,
            ..Default::default()
        }));
        let listener = std::net::TcpListener::bind(("127.0.0.1", port))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let app = router(store.clone());
        let acceptor = tls.map(|t| tokio_rustls::TlsAcceptor::from(t.config));
        let is_tls = acceptor.is_some();
        std::thread::Builder::new()
            .name(format!("backend-{code}"))
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                rt.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                    loop {
                        let Ok((stream, _)) = listener.accept().await else {
                            continue;
                        };
                        tokio::spawn(serve_connection(stream, app.clone(), acceptor.clone()));
                    }
                });
            })?;
        Ok(RefBackend {
            addr,
            store,
            tls: is_tls,
        })
    }
}

/// Set by a handler that wants its connection torn down with a TCP reset.
#[derive(Clone)]
struct Kill(Arc<tokio::sync::Notify>);

async fn serve_connection(
    stream: tokio::net::TcpStream,
    app: Router,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
) {
    let _ = stream.set_nodelay(true);
    let fd = std::os::fd::AsRawFd::as_raw_fd(&stream);
    let kill = Kill(Arc::new(tokio::sync::Notify::new()));
    let svc =
        hyper_util::service::TowerToHyperService::new(app.layer(axum::Extension(kill.clone())));
    let builder = hyper::server::conn::http1::Builder::new();
    let served = async {
        match acceptor {
            Some(acceptor) => {
                // A failed handshake (a client without a valid certificate) just ends here.
                if let Ok(tls) = acceptor.accept(stream).await {
                    let _ = builder
                        .serve_connection(hyper_util::rt::TokioIo::new(tls), svc)
                        .await;
                }
            }
            None => {
                let _ = builder
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                    .await;
            }
        }
    };
    tokio::pin!(served);
    tokio::select! {
        _ = &mut served => {}
        _ = kill.0.notified() => {
            // `served` still owns the socket here. A zero linger turns its close into a reset
            // (RST), as a crashing server's would be.
            let linger = libc::linger { l_onoff: 1, l_linger: 0 };
            // SAFETY: `fd` is open (owned by `served`, alive until the end of this function)
            // and `linger` is a valid `struct linger` of the given size.
            unsafe {
                libc::setsockopt(
                    fd,
                    libc::SOL_SOCKET,
                    libc::SO_LINGER,
                    (&linger as *const libc::linger).cast(),
                    std::mem::size_of::<libc::linger>() as libc::socklen_t,
                );
            }
        }
    }
}

pub fn router(store: Shared) -> Router {
    Router::new()
        .route("/v1/applications", post(post_application))
        .route("/v1/applications/{id}", get(get_application))
        .route("/admin/applications", get(admin_list))
        .layer(axum::middleware::from_fn_with_state(store.clone(), record))
        .with_state(store)
}

/// Logs the request (with its arrival time) before the handler runs, and the answer exactly as
/// it is sent. A handler that never answers leaves its exchange with `response: None`.
async fn record(
    State(store): State<Shared>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let index = {
        let mut s = store.lock().unwrap();
        s.exchanges.push(Exchange {
            at: Instant::now(),
            method: parts.method.to_string(),
            path: parts.uri.path().to_string(),
            idempotency_key: parts
                .headers
                .get("idempotency-key")
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
            request_body: bytes.to_vec(),
            response: None,
        });
        s.exchanges.len() - 1
    };
    let response = next
        .run(axum::extract::Request::from_parts(
            parts,
            axum::body::Body::from(bytes),
        ))
        .await;
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    store.lock().unwrap().exchanges[index].response = Some(Answer {
        status: parts.status.as_u16(),
        content_type: parts
            .headers
            .get(axum::http::header::CONTENT_TYPE)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
        body: bytes.to_vec(),
    });
    Response::from_parts(parts, axum::body::Body::from(bytes))
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
    axum::Extension(kill): axum::Extension<Kill>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fault = {
        let mut s = store.lock().unwrap();
        s.posts += 1;
        if let Some(key) = headers.get("idempotency-key").and_then(|v| v.to_str().ok()) {
            s.raw_keys.push(key.to_string());
            let key = key.trim_matches('"').to_string();
            s.bodies_by_key.entry(key).or_default().push(body.to_vec());
        }
        let fault = s.next_fault();
        if let Some(f) = &fault {
            s.injected.push(f.clone());
        }
        fault
    };
    let response = {
        let mut s = store.lock().unwrap();
        accept_application(&mut s, fault.as_ref(), &headers, &body)
    };
    match fault {
        Some(Fault::Hang | Fault::StoreThenHang) => std::future::pending().await,
        Some(Fault::StoreThenReset) => {
            kill.0.notify_one();
            std::future::pending().await
        }
        _ => response,
    }
}

/// The API's behaviour for one POST, with an injected fault that acts before storing.
fn accept_application(
    s: &mut Store,
    fault: Option<&Fault>,
    headers: &HeaderMap,
    body: &Bytes,
) -> Response {
    if let Some(f) = fault {
        match f {
            Fault::Status(code, retry_after) => {
                let mut r = error(
                    StatusCode::from_u16(*code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                    "injected",
                    "injected fault",
                );
                if let Some(ra) = *retry_after {
                    r.headers_mut()
                        .insert("retry-after", ra.to_string().parse().unwrap());
                }
                return r;
            }
            Fault::Garbage => {
                return (StatusCode::OK, "<html>502 Bad Gateway</html>").into_response()
            }
            Fault::Hang => return StatusCode::GATEWAY_TIMEOUT.into_response(), // never sent
            Fault::Redirect(location) => {
                return (
                    StatusCode::TEMPORARY_REDIRECT,
                    [(axum::http::header::LOCATION, location.clone())],
                )
                    .into_response()
            }
            Fault::Json(code, body) => {
                return (
                    StatusCode::from_u16(*code).unwrap_or(StatusCode::OK),
                    [(axum::http::header::CONTENT_TYPE, "application/json")],
                    body.clone(),
                )
                    .into_response()
            }
            Fault::StoreThenHang | Fault::StoreThenReset | Fault::Huge(_) => {}
        }
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
    let envelope: ApplicationEnvelope = match serde_json::from_slice(body) {
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
            s.conflicts += 1;
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
    let content: SealedContent = match counter_core::seal::open(&envelope.sealed, &s.private_pem)
        .map_err(|e| e.to_string())
        .and_then(|p| serde_json::from_slice(&p).map_err(|e| e.to_string()))
    {
        Ok(c) => c,
        Err(e) => return error(StatusCode::UNPROCESSABLE_ENTITY, "cannot_open", e),
    };
    if !content.matches(&envelope) {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "envelope_mismatch",
            "the envelope's application, municipality or procedure differs from the sealed content",
        );
    }
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
    let accepted = Accepted {
        application_id: key,
        reference,
        status: RemoteStatus::Received,
    };
    if let Some(Fault::Huge(padding)) = fault {
        let mut body = serde_json::to_vec(&accepted).unwrap();
        body.extend(std::iter::repeat_n(b' ', *padding));
        return (
            StatusCode::CREATED,
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response();
    }
    (StatusCode::CREATED, Json(accepted)).into_response()
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
