//! HTTP-level guards in front of jsonrpsee's HTTP handler, for what jsonrpsee 0.26 answers
//! wrongly:
//!
//! - a body over the size limit sent without `Content-Length` (chunked) got HTTP 500 "Internal
//!   error"; here every oversized body gets HTTP 413 with error -32007 naming the limit;
//! - a request whose `id` is not a string, an unsigned integer or null parses as a notification
//!   in jsonrpsee, so it got a bare `null` body, and such a batch entry was silently dropped;
//!   likewise a body that is not UTF-8. Both get -32600 (Invalid Request) with `"id": null`,
//!   in a batch one error per bad entry next to the answers of the good ones.
//!
//! The hot path reads the body once (as jsonrpsee would), checks UTF-8 and hands jsonrpsee a
//! copy. Only when jsonrpsee routed something as a notification ([`MarkNotificationsLayer`]
//! flags the response) or the body is not UTF-8 does this parse JSON itself.
//!
//! WebSocket messages reach jsonrpsee's handler without passing any tower layer, and its RPC
//! middleware sees a notification without the id it dropped, so over WebSocket a message with
//! such an id is still taken for a notification and not answered (short of replacing
//! jsonrpsee's WebSocket loop, there is no place to tell it from a true notification).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Method, StatusCode, header};
use jsonrpsee::MethodResponse;
use jsonrpsee::core::BoxError;
use jsonrpsee::core::http_helpers::{HttpError, read_body};
use jsonrpsee::core::middleware::{Batch, BatchEntry, Notification, RpcServiceT};
use jsonrpsee::server::http::response;
use jsonrpsee::server::{ConnectionGuard, HttpBody, HttpRequest, HttpResponse, ws};
use jsonrpsee::types::error::{
    INVALID_REQUEST_CODE, OVERSIZED_REQUEST_CODE, reject_too_big_batch_request,
};
use jsonrpsee::types::{ErrorCode, ErrorObjectOwned, Id, ResponsePayload};
use serde_json::value::RawValue;

/// The message of -32600 for a request whose id jsonrpsee cannot take.
pub const BAD_ID: &str = "Invalid request: the id must be a string, an unsigned integer or null";
/// The message of -32600 for a request that is not UTF-8.
pub const NOT_UTF8: &str = "Invalid request: not UTF-8";

/// Marks a [`MethodResponse`] (and so jsonrpsee's HTTP response) for which jsonrpsee routed a
/// request or batch entry as a notification.
#[derive(Clone, Copy, Debug)]
struct RoutedAsNotification;

/// RPC middleware that flags responses to anything jsonrpsee took for a notification.
#[derive(Clone, Copy, Debug, Default)]
pub struct MarkNotificationsLayer;

impl<S> tower::Layer<S> for MarkNotificationsLayer {
    type Service = MarkNotifications<S>;

    fn layer(&self, service: S) -> Self::Service {
        MarkNotifications(service)
    }
}

#[derive(Clone, Debug)]
pub struct MarkNotifications<S>(S);

impl<S> RpcServiceT for MarkNotifications<S>
where
    S: RpcServiceT<
            MethodResponse = MethodResponse,
            BatchResponse = MethodResponse,
            NotificationResponse = MethodResponse,
        > + Send
        + Sync
        + Clone
        + 'static,
{
    type MethodResponse = MethodResponse;
    type NotificationResponse = MethodResponse;
    type BatchResponse = MethodResponse;

    fn call<'a>(
        &self,
        request: jsonrpsee::types::Request<'a>,
    ) -> impl Future<Output = MethodResponse> + Send + 'a {
        self.0.call(request)
    }

    fn batch<'a>(&self, batch: Batch<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        let mark = batch
            .iter()
            .any(|entry| matches!(entry, Ok(BatchEntry::Notification(_))));
        let response = self.0.batch(batch);
        async move {
            let mut response = response.await;
            if mark {
                response.extensions_mut().insert(RoutedAsNotification);
            }
            response
        }
    }

    fn notification<'a>(
        &self,
        n: Notification<'a>,
    ) -> impl Future<Output = MethodResponse> + Send + 'a {
        let response = self.0.notification(n);
        async move {
            let mut response = response.await;
            response.extensions_mut().insert(RoutedAsNotification);
            response
        }
    }
}

#[derive(Debug)]
struct GuardConfig {
    max_request_bytes: u32,
    max_response_bytes: u32,
    max_batch_len: usize,
    /// Bounds the requests whose bodies are being read and answered at once (jsonrpsee's own
    /// permit is taken only after this layer has read the body).
    permits: ConnectionGuard,
}

/// The tower HTTP middleware layer.
#[derive(Clone, Debug)]
pub struct HttpGuardLayer {
    config: Arc<GuardConfig>,
}

impl HttpGuardLayer {
    pub fn new(
        max_request_bytes: u32,
        max_response_bytes: u32,
        max_batch_len: u32,
        max_connections: u32,
    ) -> Self {
        Self {
            config: Arc::new(GuardConfig {
                max_request_bytes,
                max_response_bytes,
                max_batch_len: max_batch_len as usize,
                permits: ConnectionGuard::new(max_connections as usize),
            }),
        }
    }
}

impl<S> tower::Layer<S> for HttpGuardLayer {
    type Service = HttpGuard<S>;

    fn layer(&self, inner: S) -> Self::Service {
        HttpGuard {
            inner,
            config: self.config.clone(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct HttpGuard<S> {
    inner: S,
    config: Arc<GuardConfig>,
}

type GuardFuture = Pin<Box<dyn Future<Output = Result<HttpResponse, BoxError>> + Send>>;

impl<S> tower::Service<HttpRequest> for HttpGuard<S>
where
    S: tower::Service<HttpRequest, Response = HttpResponse, Error = BoxError>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = HttpResponse;
    type Error = BoxError;
    type Future = GuardFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: HttpRequest) -> GuardFuture {
        // Anything but a JSON POST (WebSocket upgrades, wrong methods or content types) is
        // jsonrpsee's to answer as it does.
        let json_post = request.method() == Method::POST
            && jsonrpsee::server::http::is_json(request.headers().get(header::CONTENT_TYPE))
            && !ws::is_upgrade_request(&request);
        if !json_post {
            return Box::pin(self.inner.call(request));
        }
        let Some(permit) = self.config.permits.try_acquire() else {
            return Box::pin(std::future::ready(Ok(response::too_many_requests())));
        };
        let inner = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, inner);
        let config = self.config.clone();
        Box::pin(async move {
            let answer = guarded(inner, &config, request).await;
            drop(permit);
            answer
        })
    }
}

async fn guarded<S>(
    mut inner: S,
    config: &GuardConfig,
    request: HttpRequest,
) -> Result<HttpResponse, BoxError>
where
    S: tower::Service<HttpRequest, Response = HttpResponse, Error = BoxError>,
{
    let (parts, body) = request.into_parts();
    let max = config.max_request_bytes;
    let (body, single) = match read_body(&parts.headers, body, max).await {
        Ok(read) => read,
        Err(HttpError::TooLarge) => return Ok(too_large(max)),
        Err(HttpError::Malformed) => return Ok(response::malformed()),
        Err(HttpError::Stream(error)) if is_length_limit(&*error) => return Ok(too_large(max)),
        Err(HttpError::Stream(error)) => {
            tracing::debug!(%error, "reading an RPC request body failed");
            return Ok(response::internal_error());
        }
    };
    let (body, not_utf8) = if std::str::from_utf8(&body).is_ok() {
        (body, 0)
    } else {
        match split_not_utf8(&body, single, config.max_batch_len) {
            NotUtf8::Forward(good, bad) => (good, bad),
            NotUtf8::Answer(answer) => return Ok(*answer),
        }
    };
    // Kept for the slow path: jsonrpsee consumes the body it is given.
    let kept = body.clone();
    let response = inner
        .call(HttpRequest::from_parts(parts, HttpBody::from(body)))
        .await?;
    let routed = response
        .extensions()
        .get::<RoutedAsNotification>()
        .is_some();
    if !routed && not_utf8 == 0 {
        return Ok(response);
    }
    if single {
        return Ok(if has_id_member(&kept) {
            invalid_request(BAD_ID)
        } else {
            response
        });
    }
    let bad_ids = if routed {
        serde_json::from_slice::<Vec<&RawValue>>(&kept)
            .map(|entries| entries.iter().filter(|e| misrouted(e.get())).count())
            .unwrap_or(0)
    } else {
        0
    };
    append_errors(response, config, &[(bad_ids, BAD_ID), (not_utf8, NOT_UTF8)]).await
}

/// `Limited`'s error (http-body-util's `LengthLimitError`, which kaimeng-rpc does not depend
/// on by name): the body went over the limit while being read, as a chunked body does.
fn is_length_limit(error: &(dyn std::error::Error + Send + Sync)) -> bool {
    error.source().is_none() && error.to_string() == "length limit exceeded"
}

/// HTTP 413 with -32007 naming the limit, whether the size was declared or found by reading.
fn too_large(max: u32) -> HttpResponse {
    let error = ErrorObjectOwned::owned(
        OVERSIZED_REQUEST_CODE,
        format!("request too large: at most {max} bytes per request body"),
        None::<()>,
    );
    json_response(StatusCode::PAYLOAD_TOO_LARGE, error_json(error))
}

fn invalid_request(message: &'static str) -> HttpResponse {
    json_response(
        StatusCode::OK,
        error_json(ErrorObjectOwned::owned(
            INVALID_REQUEST_CODE,
            message,
            None::<()>,
        )),
    )
}

fn error_json(error: ErrorObjectOwned) -> String {
    let response = jsonrpsee::types::Response::new(ResponsePayload::<()>::error(error), Id::Null);
    serde_json::to_string(&response).expect("an error response serializes")
}

fn json_response(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::builder()
        .status(status)
        .header(
            header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json; charset=utf-8"),
        )
        .body(HttpBody::from(body))
        .expect("a static status and header")
}

/// Whether the JSON object `text` has a member named `id` (escaped or not, any value).
fn has_id_member(text: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(text)
        .is_ok_and(|object| object.contains_key("id"))
}

/// Whether jsonrpsee takes the batch entry `text` for a notification although it has an `id`
/// member: it is not a request to jsonrpsee (the id is an object, a negative or fractional
/// number, a boolean, or given twice) but it is a notification.
fn misrouted(text: &str) -> bool {
    // The types jsonrpsee parses a batch entry into, in its order.
    serde_json::from_str::<jsonrpsee::types::Request>(text).is_err()
        && serde_json::from_str::<Notification>(text).is_ok()
        && has_id_member(text.as_bytes())
}

/// What to do with a body that is not UTF-8.
enum NotUtf8 {
    /// Forward this batch of the entries that are UTF-8, and add -32600 for this many others.
    Forward(Vec<u8>, usize),
    /// Answer this, forwarding nothing.
    Answer(Box<HttpResponse>),
}

impl NotUtf8 {
    fn answer(response: HttpResponse) -> Self {
        Self::Answer(Box::new(response))
    }
}

/// A body that is not UTF-8: a single request is answered -32600 here; a batch's entries that
/// contain invalid bytes are counted and left out, and the rest forwarded.
fn split_not_utf8(body: &[u8], single: bool, max_batch_len: usize) -> NotUtf8 {
    if single {
        return NotUtf8::answer(invalid_request(NOT_UTF8));
    }
    // Each invalid sequence becomes U+FFFD; `replaced` holds where, in `text`.
    let mut text = String::with_capacity(body.len() + 16);
    let mut replaced = Vec::new();
    for chunk in body.utf8_chunks() {
        text.push_str(chunk.valid());
        if !chunk.invalid().is_empty() {
            replaced.push(text.len());
            text.push(char::REPLACEMENT_CHARACTER);
        }
    }
    let Ok(entries) = serde_json::from_str::<Vec<&RawValue>>(&text) else {
        return NotUtf8::answer(json_response(
            StatusCode::OK,
            error_json(ErrorCode::ParseError.into()),
        ));
    };
    if entries.len() > max_batch_len {
        return NotUtf8::answer(json_response(
            StatusCode::OK,
            error_json(reject_too_big_batch_request(max_batch_len)),
        ));
    }
    let mut good = Vec::with_capacity(text.len());
    let mut bad = 0;
    for entry in entries {
        let start = entry.get().as_ptr() as usize - text.as_ptr() as usize;
        let end = start + entry.get().len();
        if replaced.iter().any(|&at| (start..end).contains(&at)) {
            bad += 1;
            continue;
        }
        good.push(if good.is_empty() { b'[' } else { b',' });
        good.extend_from_slice(entry.get().as_bytes());
    }
    if good.is_empty() {
        return NotUtf8::answer(json_response(
            StatusCode::OK,
            error_array(Vec::new(), &[(bad, NOT_UTF8)]),
        ));
    }
    good.push(b']');
    NotUtf8::Forward(good, bad)
}

/// jsonrpsee's answer to a batch with `count` -32600 errors (id null) of each message added.
async fn append_errors(
    response: HttpResponse,
    config: &GuardConfig,
    errors: &[(usize, &'static str)],
) -> Result<HttpResponse, BoxError> {
    if errors.iter().all(|&(count, _)| count == 0) {
        return Ok(response);
    }
    let (parts, body) = response.into_parts();
    let limit = config.max_response_bytes.saturating_add(1024);
    let answered = match read_body(&parts.headers, body, limit).await {
        // An array: the answers to the good entries.
        Ok((body, false)) => body,
        // One error object for the whole batch (refused by the rate limit, or a response over
        // the limit): that stands.
        Ok((body, true)) => return Ok(HttpResponse::from_parts(parts, HttpBody::from(body))),
        // `null`: every entry jsonrpsee saw was a notification.
        Err(HttpError::Malformed) => b"[]".to_vec(),
        Err(error) => return Err(error.into()),
    };
    let answered: Vec<&RawValue> = serde_json::from_slice(&answered)?;
    Ok(HttpResponse::from_parts(
        parts,
        HttpBody::from(error_array(answered, errors)),
    ))
}

/// `answered` followed by `count` -32600 errors of each message, as a JSON array.
fn error_array(answered: Vec<&RawValue>, errors: &[(usize, &'static str)]) -> String {
    let mut out = String::from("[");
    for entry in answered {
        if out.len() > 1 {
            out.push(',');
        }
        out.push_str(entry.get());
    }
    for &(count, message) in errors {
        if count == 0 {
            continue;
        }
        let error = error_json(ErrorObjectOwned::owned(
            INVALID_REQUEST_CODE,
            message,
            None::<()>,
        ));
        for _ in 0..count {
            if out.len() > 1 {
                out.push(',');
            }
            out.push_str(&error);
        }
    }
    out.push(']');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_object_or_negative_id_is_misrouted_and_a_good_request_or_notification_is_not() {
        assert!(misrouted(
            r#"{"jsonrpc":"2.0","id":{},"method":"eth_blockNumber"}"#
        ));
        assert!(misrouted(
            r#"{"jsonrpc":"2.0","id":-1,"method":"eth_blockNumber"}"#
        ));
        assert!(misrouted(
            r#"{"jsonrpc":"2.0","\u0069d":[1],"method":"eth_blockNumber"}"#
        ));
        assert!(!misrouted(
            r#"{"jsonrpc":"2.0","id":7,"method":"eth_blockNumber"}"#
        ));
        assert!(!misrouted(
            r#"{"jsonrpc":"2.0","id":"x","method":"eth_blockNumber"}"#
        ));
        assert!(!misrouted(
            r#"{"jsonrpc":"2.0","method":"eth_blockNumber"}"#
        ));
    }

    #[test]
    fn entries_with_invalid_bytes_are_left_out_of_a_batch() {
        let mut body = br#"[{"jsonrpc":"2.0","id":1,"method":"a"},{"jsonrpc":"2.0","id":"#.to_vec();
        body.extend_from_slice(b"\"\xff\xfe\"");
        body.extend_from_slice(br#","method":"b"},{"jsonrpc":"2.0","id":3,"method":"c"}]"#);
        let NotUtf8::Forward(good, bad) = split_not_utf8(&body, false, 10) else {
            panic!("the good entries are forwarded");
        };
        assert_eq!(bad, 1);
        assert_eq!(
            String::from_utf8(good).unwrap(),
            r#"[{"jsonrpc":"2.0","id":1,"method":"a"},{"jsonrpc":"2.0","id":3,"method":"c"}]"#
        );
    }

    #[test]
    fn the_length_limit_error_is_recognised_by_its_text() {
        #[derive(Debug)]
        struct LengthLimitError;
        impl std::fmt::Display for LengthLimitError {
            fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("length limit exceeded")
            }
        }
        impl std::error::Error for LengthLimitError {}
        let error: BoxError = LengthLimitError.into();
        assert!(is_length_limit(&*error));
        let other: BoxError = "connection reset".into();
        assert!(!is_length_limit(&*other));
    }
}
