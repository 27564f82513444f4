//! HTTP pages served beside the JSON-RPC on the same port, under a path prefix (the explorer,
//! ADR 0107). A page request takes [`PAGE_COST`] tokens from the same per-client buckets as the RPC
//! calls of that client, so pages and calls share one rate limit.

use std::convert::Infallible;

use jsonrpsee::server::HttpBody;

/// Rate-limit tokens one page costs: a page reads more than a typical call.
pub const PAGE_COST: usize = 10;

/// A service answering every request whose path starts with `prefix`.
pub type PageService =
    tower::util::BoxCloneSyncService<http::Request<HttpBody>, http::Response<HttpBody>, Infallible>;

/// Pages mounted at `prefix` (for example `/explorer`).
#[derive(Clone)]
pub struct Pages {
    pub prefix: &'static str,
    pub service: PageService,
}

impl Pages {
    /// Whether `path` is one of these pages'.
    pub fn serves(&self, path: &str) -> bool {
        path == self.prefix
            || path
                .strip_prefix(self.prefix)
                .is_some_and(|rest| rest.starts_with('/'))
    }
}

/// What a client over its rate limit gets instead of a page.
pub fn too_many_requests(per_second: u32) -> http::Response<HttpBody> {
    let mut response = http::Response::new(HttpBody::from(format!(
        "rate limit: at most {per_second} requests per second from one address (pages and RPC calls together)\n"
    )));
    *response.status_mut() = http::StatusCode::TOO_MANY_REQUESTS;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_its_prefix_only() {
        let pages = Pages {
            prefix: "/explorer",
            service: tower::util::BoxCloneSyncService::new(tower::service_fn(
                |_: http::Request<HttpBody>| async {
                    Ok::<_, Infallible>(http::Response::new(HttpBody::from("")))
                },
            )),
        };
        assert!(pages.serves("/explorer"));
        assert!(pages.serves("/explorer/"));
        assert!(pages.serves("/explorer/s/0/block/1"));
        assert!(!pages.serves("/explorerx"));
        assert!(!pages.serves("/"));
        assert!(!pages.serves("/rpc"));
    }
}
