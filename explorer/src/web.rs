//! The HTTP side: routes, the page language, error pages, and the service the RPC server
//! mounts under [`PREFIX`]. Every page is built on a blocking thread (it reads the stores)
//! and rendered from a template with the chosen language's catalog.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use minijinja::Value;

use crate::Explorer;
use crate::i18n::Lang;

/// Where the explorer lives on the RPC port.
pub const PREFIX: &str = "/explorer";

/// What a page builder returns: a template and its context, a redirect, or an error.
pub enum Outcome {
    Page {
        template: &'static str,
        context: Value,
    },
    Redirect(String),
    Json(serde_json::Value),
}

/// A page that cannot be shown, with the catalog key of its reason and details.
#[derive(Debug)]
pub struct PageError {
    pub status: StatusCode,
    pub reason: &'static str,
    pub detail: String,
}

impl PageError {
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            reason: "error_not_found",
            detail: detail.into(),
        }
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            reason: "error_bad_request",
            detail: detail.into(),
        }
    }

    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self {
            status: StatusCode::SERVICE_UNAVAILABLE,
            reason: "error_unavailable",
            detail: detail.into(),
        }
    }

    pub fn internal(detail: impl std::fmt::Display) -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            reason: "error_internal",
            detail: detail.to_string(),
        }
    }
}

impl From<crate::index::IndexError> for PageError {
    fn from(e: crate::index::IndexError) -> Self {
        PageError::internal(e)
    }
}

impl From<kaimeng_shards::chain::ChainError> for PageError {
    fn from(e: kaimeng_shards::chain::ChainError) -> Self {
        PageError::internal(e)
    }
}

impl From<kaimeng_shards::state::StateError> for PageError {
    fn from(e: kaimeng_shards::state::StateError) -> Self {
        PageError::internal(e)
    }
}

pub type PageResult = Result<Outcome, PageError>;

/// What every request brings: its language, query and path.
pub struct Request {
    pub lang: Lang,
    pub query: HashMap<String, String>,
    pub path: String,
    /// The query without `lang`, for the language links (see `keep_query`).
    pub keep: String,
}

impl Request {
    /// The `page` query parameter (1-based), refused when it is not a number from 1 to
    /// 1,000,000.
    pub fn page(&self) -> Result<usize, PageError> {
        match self.query.get("page") {
            None => Ok(1),
            Some(text) => text
                .parse::<usize>()
                .ok()
                .filter(|p| (1..=1_000_000).contains(p))
                .ok_or_else(|| {
                    PageError::bad_request(format!(
                        "page must be a number from 1 to 1000000, not {text:?}"
                    ))
                }),
        }
    }
}

/// The explorer's routes, at the root (the RPC server strips nothing: see [`pages_service`]).
pub fn router(explorer: Arc<Explorer>) -> Router {
    let p = |path: &str| format!("{PREFIX}{path}");
    Router::new()
        .route(
            &p(""),
            get(|| async { Redirect::permanent(&format!("{PREFIX}/")) }),
        )
        .route(
            &p("/"),
            get(|s, q, h| serve(s, q, h, Vec::new(), crate::pages::home::page)),
        )
        .route(
            &p("/api/status"),
            get(|s, q, h| serve(s, q, h, Vec::new(), crate::pages::home::status)),
        )
        .route(&p("/static/{file}"), get(crate::pages::assets::serve))
        .route(
            &p("/s/{shard}/block/{id}"),
            get(|s, q, h, Path(a): Path<(String, String)>| {
                serve(s, q, h, vec![a.0, a.1], crate::pages::block::page)
            }),
        )
        .route(
            &p("/s/{shard}/tx/{hash}"),
            get(|s, q, h, Path(a): Path<(String, String)>| {
                serve(s, q, h, vec![a.0, a.1], crate::pages::tx::page)
            }),
        )
        .route(
            &p("/s/{shard}/address/{address}"),
            get(|s, q, h, Path(a): Path<(String, String)>| {
                serve(s, q, h, vec![a.0, a.1], crate::pages::address::page)
            }),
        )
        .route(
            &p("/s/{shard}/tokens"),
            get(|s, q, h, Path(a): Path<String>| {
                serve(s, q, h, vec![a], crate::pages::token::list)
            }),
        )
        .route(
            &p("/s/{shard}/token/{address}"),
            get(|s, q, h, Path(a): Path<(String, String)>| {
                serve(s, q, h, vec![a.0, a.1], crate::pages::token::page)
            }),
        )
        .route(
            &p("/consortium"),
            get(|s, q, h| serve(s, q, h, Vec::new(), crate::pages::consortium::page)),
        )
        .route(
            &p("/epochs"),
            get(|s, q, h| serve(s, q, h, Vec::new(), crate::pages::epochs::list)),
        )
        .route(
            &p("/epoch/{n}"),
            get(|s, q, h, Path(a): Path<String>| {
                serve(s, q, h, vec![a], crate::pages::epochs::page)
            }),
        )
        .route(
            &p("/shards"),
            get(|s, q, h| serve(s, q, h, Vec::new(), crate::pages::shards::page)),
        )
        .route(
            &p("/rollup"),
            get(|s, q, h| serve(s, q, h, Vec::new(), crate::pages::rollup::page)),
        )
        .route(
            &p("/search"),
            get(|s, q, h| serve(s, q, h, Vec::new(), crate::pages::search::page)),
        )
        .fallback(|s, q, h| {
            serve(s, q, h, Vec::new(), |_, _, r| {
                Err(PageError::not_found(format!("no page at {}", r.path)))
            })
        })
        .with_state(explorer)
}

type Builder = fn(&Explorer, &[String], &Request) -> PageResult;

async fn serve(
    State(explorer): State<Arc<Explorer>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    args: Vec<String>,
    build: Builder,
) -> Response {
    let chosen = query.get("lang").and_then(|l| Lang::parse(l));
    let lang = chosen
        .or_else(|| cookie_lang(&headers))
        .or_else(|| {
            headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(Lang::from_accept)
        })
        .unwrap_or(Lang::En);
    let path = headers
        .get("x-explorer-path")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let keep = keep_query(&query);
    let request = Request {
        lang,
        query,
        path,
        keep,
    };
    // A bounded number of pages are built at once, and a bounded number wait (ADR 0107).
    use std::sync::atomic::Ordering;
    if explorer.waiting.fetch_add(1, Ordering::Relaxed) >= crate::PAGES_WAITING {
        explorer.waiting.fetch_sub(1, Ordering::Relaxed);
        let error = PageError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            reason: "error_unavailable",
            detail: format!(
                "the explorer is busy: {} pages are waiting; try again shortly",
                crate::PAGES_WAITING
            ),
        };
        return explorer.render_error(error, &request);
    }
    let turn = explorer.building.acquire().await;
    explorer.waiting.fetch_sub(1, Ordering::Relaxed);
    let Ok(_turn) = turn else {
        return (StatusCode::SERVICE_UNAVAILABLE, "the explorer is stopping").into_response();
    };
    let worker = explorer.clone();
    let built = tokio::task::spawn_blocking(move || {
        let outcome = build(&worker, &args, &request);
        (outcome, request)
    })
    .await;
    let (outcome, request) = match built {
        Ok(done) => done,
        Err(error) => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("explorer: {error}"),
            )
                .into_response();
        }
    };
    let mut response = match outcome {
        Ok(Outcome::Page { template, context }) => {
            explorer.render(template, context, &request, StatusCode::OK)
        }
        Ok(Outcome::Redirect(to)) => Redirect::to(&to).into_response(),
        Ok(Outcome::Json(value)) => axum::Json(value).into_response(),
        Err(error) => explorer.render_error(error, &request),
    };
    if let Some(lang) = chosen {
        let cookie = format!(
            "lang={}; Path={PREFIX}; Max-Age=31536000; SameSite=Lax",
            lang.code()
        );
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().insert(header::SET_COOKIE, value);
        }
    }
    response
}

fn cookie_lang(headers: &HeaderMap) -> Option<Lang> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix("lang=").and_then(Lang::parse))
}

/// The query without `lang`, URL-encoded and ending in `&` when not empty: what the language
/// links keep of the current page's address.
fn keep_query(query: &HashMap<String, String>) -> String {
    let mut kept: Vec<(&String, &String)> =
        query.iter().filter(|(k, _)| k.as_str() != "lang").collect();
    kept.sort();
    match serde_urlencoded::to_string(&kept) {
        Ok(text) if !text.is_empty() => format!("{text}&"),
        _ => String::new(),
    }
}

impl Explorer {
    fn render_error(&self, error: PageError, request: &Request) -> Response {
        if error.status.is_server_error() {
            tracing::warn!(detail = %error.detail, "explorer page failed");
        }
        let context = minijinja::context! {
            reason => error.reason,
            detail => error.detail,
            status => error.status.as_u16(),
        };
        self.render("error.html", context, request, error.status)
    }

    /// Renders `template` with `context`, the catalog `t`, the language and the common parts.
    fn render(
        &self,
        template: &str,
        context: Value,
        request: &Request,
        status: StatusCode,
    ) -> Response {
        let t = Value::from_serialize(self.catalogs.get(request.lang));
        let full = minijinja::context! {
            t => t,
            lang => request.lang.html(),
            prefix => PREFIX,
            chain_id => self.sources.chain_id,
            suite => self.sources.crypto_suite.clone(),
            shards => self.sources.chains.len(),
            path => request.path.clone(),
            keep => request.keep.clone(),
            ..context
        };
        let rendered = self
            .templates
            .get_template(template)
            .and_then(|tpl| tpl.render(full));
        match rendered {
            Ok(html) => {
                let mut response = (status, html).into_response();
                let headers = response.headers_mut();
                headers.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/html; charset=utf-8"),
                );
                headers.insert(
                    header::CONTENT_SECURITY_POLICY,
                    HeaderValue::from_static(
                        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'",
                    ),
                );
                headers.insert(
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                );
                response
            }
            Err(error) => {
                tracing::error!(%error, template, "explorer template failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("explorer template {template}: {error}"),
                )
                    .into_response()
            }
        }
    }
}

/// The explorer as a service the RPC server mounts under [`PREFIX`]: requests keep their
/// path; the path is also passed in a header so that pages can link to themselves.
pub fn pages_service(explorer: Arc<Explorer>) -> kaimeng_rpc::Pages {
    let router = router(explorer);
    let service = tower::service_fn(move |request: http::Request<jsonrpsee::server::HttpBody>| {
        let mut router = router.clone();
        async move {
            let (mut parts, body) = request.into_parts();
            if let Ok(value) = HeaderValue::from_str(parts.uri.path()) {
                parts.headers.insert("x-explorer-path", value);
            }
            let request = http::Request::from_parts(parts, axum::body::Body::new(body));
            let response = tower::Service::call(&mut router, request)
                .await
                .unwrap_or_else(|never| match never {});
            Ok::<_, std::convert::Infallible>(response.map(jsonrpsee::server::HttpBody::new))
        }
    });
    kaimeng_rpc::Pages {
        prefix: PREFIX,
        service: tower::util::BoxCloneSyncService::new(service),
    }
}
