//! The sequencer's prover listener: `prover_shape`, `prover_lease`, `prover_complete` and
//! `prover_fail` (a worker's report that it cannot prove a job), on their own address and only for workers that present the sequencer's prover secret as
//! `Authorization: Bearer <secret>` (ADR 0109). Users' methods are on the public listener
//! ([`super::rpc`]); nothing here is reachable from there.
//!
//! The secret is 32 random bytes, hex, in a file the sequencer creates (mode 0600) on its first
//! start and the workers are given (`kaimeng prover --secret FILE`).

use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use alloy_primitives::{B256, Bytes};
use anyhow::{Context as _, anyhow, bail};
use jsonrpsee::core::BoxError;
use jsonrpsee::server::{HttpBody, HttpRequest, HttpResponse, RpcModule, Server, ServerHandle};
use kaimeng_prover::ChunkShape;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use super::core::Core;
use super::jobs::{JobId, cut_reason};
use super::rpc::{INVALID, REFUSED, error, param};

/// Connections the prover listener takes at once: workers are few.
const MAX_PROVER_CONNECTIONS: u32 = 256;

/// The prover secret: 32 bytes, kept as the hex text workers send.
#[derive(Clone)]
pub struct ProverSecret(String);

impl std::fmt::Debug for ProverSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProverSecret(..)")
    }
}

impl ProverSecret {
    /// Reads the secret at `path` (64 hex digits, `0x` optional, surrounding whitespace
    /// ignored).
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the prover secret {}", path.display()))?;
        Self::parse(&text).map_err(|e| anyhow!("the prover secret {}: {e}", path.display()))
    }

    fn parse(text: &str) -> anyhow::Result<Self> {
        let text = text.trim();
        let digits = text.strip_prefix("0x").unwrap_or(text);
        if digits.len() != 64 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            bail!(
                "expected 64 hex digits (32 bytes), found {} characters",
                text.len()
            );
        }
        Ok(Self(digits.to_ascii_lowercase()))
    }

    /// Reads the secret at `path`, or creates it (readable by its owner only) if there is
    /// none.
    pub fn read_or_create(path: &Path) -> anyhow::Result<Self> {
        if path.exists() {
            return Self::read(path);
        }
        let secret = Self(hex::encode(B256::random()));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options
            .open(path)
            .with_context(|| format!("creating the prover secret {}", path.display()))?;
        std::io::Write::write_all(&mut file, format!("{}\n", secret.0).as_bytes())?;
        file.sync_all()?;
        tracing::info!(path = %path.display(), "created the prover secret");
        Ok(secret)
    }

    /// The `Authorization` header value a worker sends.
    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.0)
    }

    /// Whether `header` is this secret's bearer value (compared in constant time).
    fn admits(&self, header: Option<&http::HeaderValue>) -> bool {
        header.is_some_and(|value| value.as_bytes().ct_eq(self.bearer().as_bytes()).into())
    }
}

/// Serves the prover methods on `listen` to holders of `secret`; returns the bound address.
pub async fn serve(
    listen: SocketAddr,
    core: Arc<Core>,
    shape: ChunkShape,
    secret: ProverSecret,
) -> anyhow::Result<(SocketAddr, ServerHandle)> {
    let server = Server::builder()
        .set_config(
            jsonrpsee::server::ServerConfig::builder()
                .max_request_body_size(16 << 20)
                .max_response_body_size(64 << 20)
                .max_connections(MAX_PROVER_CONNECTIONS)
                .build(),
        )
        .set_http_middleware(tower::ServiceBuilder::new().layer(BearerLayer(secret)))
        .build(listen)
        .await
        .map_err(|e| anyhow!("prover RPC on {listen}: {e}"))?;
    let addr = server.local_addr()?;
    Ok((addr, server.start(module(core, shape)?)))
}

/// The prover methods.
pub fn module(core: Arc<Core>, shape: ChunkShape) -> anyhow::Result<RpcModule<Arc<Core>>> {
    let mut m = RpcModule::new(core);
    m.register_method(
        "prover_shape",
        move |_, _, _| json!({"slots": shape.slots, "k": shape.k}),
    )?;
    m.register_method("prover_lease", move |params, core, _| {
        let worker: String = param(&params, "worker name")?;
        let Some(lease) = core.jobs.lock().lease(&worker, Instant::now()) else {
            return Ok::<_, jsonrpsee::types::ErrorObjectOwned>(Value::Null);
        };
        let witness: Value = serde_json::from_str(&lease.witness)
            .map_err(|e| error(-32603, format!("witness: {e}")))?;
        Ok(json!({
            "job": lease.id.to_string(),
            "shape": {"slots": shape.slots, "k": shape.k},
            "leaseSeconds": lease.until.saturating_duration_since(Instant::now()).as_secs(),
            "witness": witness,
        }))
    })?;
    m.register_method("prover_fail", |params, core, _| {
        let (id, reason): (JobId, String) = job_and(&params, "reason")?;
        let reason = cut_reason(&reason);
        tracing::warn!(job = %id, %reason, "a prover reports a failed job");
        if core.jobs.lock().fail(id, reason) {
            Ok(true)
        } else {
            Err(error(
                REFUSED,
                format!("job {id} is not open (unknown, or already proven)"),
            ))
        }
    })?;
    m.register_async_method("prover_complete", |params, core, _| async move {
        let (id, proof): (JobId, Bytes) = job_and(&params, "proof")?;
        core.complete_job(id, proof.to_vec())
            .await
            .map_err(|e| error(REFUSED, format!("{e:#}")))
    })?;
    Ok(m)
}

/// The parameters `[job id, <what>]` of a worker's report.
fn job_and<T: serde::de::DeserializeOwned>(
    params: &jsonrpsee::types::Params<'_>,
    what: &str,
) -> Result<(JobId, T), jsonrpsee::types::ErrorObjectOwned> {
    let mut seq = params.sequence();
    let job: String = seq
        .next()
        .map_err(|e| error(INVALID, format!("job id: {}", e.message())))?;
    let value: T = seq
        .next()
        .map_err(|e| error(INVALID, format!("{what}: {}", e.message())))?;
    let id: JobId = job.parse().map_err(|e: String| error(INVALID, e))?;
    Ok((id, value))
}

/// HTTP middleware that answers 401 to any request without the secret; WebSocket upgrades
/// are HTTP requests too, so they are checked alike.
#[derive(Clone)]
struct BearerLayer(ProverSecret);

impl<S> tower::Layer<S> for BearerLayer {
    type Service = Bearer<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Bearer {
            inner,
            secret: self.0.clone(),
        }
    }
}

#[derive(Clone)]
struct Bearer<S> {
    inner: S,
    secret: ProverSecret,
}

type BearerFuture = Pin<Box<dyn Future<Output = Result<HttpResponse, BoxError>> + Send>>;

impl<S> tower::Service<HttpRequest> for Bearer<S>
where
    S: tower::Service<HttpRequest, Response = HttpResponse, Error = BoxError>,
    S::Future: Send + 'static,
{
    type Response = HttpResponse;
    type Error = BoxError;
    type Future = BearerFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: HttpRequest) -> BearerFuture {
        if self
            .secret
            .admits(request.headers().get(http::header::AUTHORIZATION))
        {
            return Box::pin(self.inner.call(request));
        }
        Box::pin(std::future::ready(Ok(unauthorized())))
    }
}

/// HTTP 401 with a JSON-RPC error that says what is missing.
fn unauthorized() -> HttpResponse {
    let body = json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": {
            "code": -32001,
            "message": "unauthorized: the prover RPC needs `Authorization: Bearer <secret>` with \
                        the sequencer's prover secret (prover_secret_file; `kaimeng prover \
                        --secret FILE`)",
        },
    });
    http::Response::builder()
        .status(http::StatusCode::UNAUTHORIZED)
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::WWW_AUTHENTICATE, "Bearer")
        .body(HttpBody::from(body.to_string()))
        .expect("a valid response")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_64_hex_digits_and_only_its_bearer_value_is_admitted() {
        let secret = ProverSecret::parse(&format!("  0x{}\n", "Ab".repeat(32))).unwrap();
        let right = http::HeaderValue::from_str(&format!("Bearer {}", "ab".repeat(32))).unwrap();
        assert!(secret.admits(Some(&right)));
        for wrong in [
            format!("Bearer {}", "ab".repeat(31)),
            format!("Bearer {}0", "ab".repeat(32)),
            format!("bearer {}", "ab".repeat(32)),
            "ab".repeat(32),
            String::new(),
        ] {
            let value = http::HeaderValue::from_str(&wrong).unwrap();
            assert!(!secret.admits(Some(&value)), "{wrong:?} admitted");
        }
        assert!(!secret.admits(None));
        for bad in ["", "abcd", &"zz".repeat(32), &"ab".repeat(33)] {
            let e = ProverSecret::parse(bad).unwrap_err().to_string();
            assert!(e.contains("expected 64 hex digits"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn a_created_secret_is_kept_private_and_read_back_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("prover.secret");
        let created = ProverSecret::read_or_create(&path).unwrap();
        assert_eq!(ProverSecret::read(&path).unwrap().0, created.0);
        assert_eq!(ProverSecret::read_or_create(&path).unwrap().0, created.0);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, "not a secret").unwrap();
        let e = ProverSecret::read_or_create(&path).unwrap_err().to_string();
        assert!(
            e.contains("prover.secret") && e.contains("64 hex digits"),
            "{e}"
        );
    }
}
