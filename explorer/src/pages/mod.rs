//! One module per page kind. Each turns the node's data into a template context; the
//! templates (`templates/`) only lay it out, and every value they print is escaped.

pub mod address;
pub mod assets;
pub mod block;
pub mod consortium;
pub mod epochs;
pub mod home;
pub mod rollup;
pub mod search;
pub mod shards;
pub mod token;
pub mod tx;

use std::sync::Arc;

use alloy_primitives::{Address, B256};
use kaimeng_shards::ShardChain;
use minijinja::{Environment, UndefinedBehavior};
use serde_json::Value as Json;

use crate::Explorer;
use crate::web::PageError;

/// Rows per page of every listing.
pub const PER_PAGE: usize = 25;

/// Every template, by name.
pub const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../../templates/base.html")),
    ("macros.html", include_str!("../../templates/macros.html")),
    ("home.html", include_str!("../../templates/home.html")),
    ("block.html", include_str!("../../templates/block.html")),
    ("tx.html", include_str!("../../templates/tx.html")),
    ("address.html", include_str!("../../templates/address.html")),
    ("tokens.html", include_str!("../../templates/tokens.html")),
    ("token.html", include_str!("../../templates/token.html")),
    (
        "consortium.html",
        include_str!("../../templates/consortium.html"),
    ),
    ("epochs.html", include_str!("../../templates/epochs.html")),
    ("epoch.html", include_str!("../../templates/epoch.html")),
    ("shards.html", include_str!("../../templates/shards.html")),
    ("rollup.html", include_str!("../../templates/rollup.html")),
    ("error.html", include_str!("../../templates/error.html")),
];

/// The template environment: HTML auto-escaping (every `.html` template) and strict undefined
/// values, so that a missing catalog key or field is an error, never an empty string.
pub fn templates() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    for (name, text) in TEMPLATES {
        env.add_template(name, text)
            .unwrap_or_else(|e| panic!("template {name} is built in and must parse: {e}"));
    }
    env
}

impl Explorer {
    /// The shard named by a path segment.
    pub(crate) fn shard_arg(&self, text: &str) -> Result<(u32, &Arc<ShardChain>), PageError> {
        let shard: u32 = text
            .parse()
            .map_err(|_| PageError::bad_request(format!("{text:?} is not a shard number")))?;
        let chain = self.chain(shard).ok_or_else(|| {
            PageError::not_found(format!(
                "shard {shard} does not exist (this network has {})",
                self.sources.chains.len()
            ))
        })?;
        Ok((shard, chain))
    }

    pub(crate) fn index(&self) -> Result<&crate::Index, PageError> {
        self.sources.index.as_deref().ok_or_else(|| {
            PageError::unavailable("this node's operator has switched the explorer's indexes off ([explorer] index = false)")
        })
    }

    /// Calls one of the beacon chain's `kaimeng_*` methods in-process.
    pub(crate) fn beacon_call(&self, method: &str, params: Vec<Json>) -> Result<Json, PageError> {
        let methods = self.sources.beacon.as_ref().ok_or_else(|| {
            PageError::unavailable("this node runs a single sealer: there is no beacon chain, no members and no epochs to show")
        })?;
        let mut list = jsonrpsee::core::params::ArrayParams::new();
        for p in params {
            list.insert(p).map_err(PageError::internal)?;
        }
        let call = methods.call::<_, Json>(method, list);
        tokio::runtime::Handle::current()
            .block_on(call)
            .map_err(|e| PageError::internal(format!("{method}: {e}")))
    }
}

pub fn parse_address(text: &str) -> Result<Address, PageError> {
    text.trim().parse::<Address>().map_err(|_| {
        PageError::bad_request(format!("{text:?} is not an address (0x and 40 hex digits)"))
    })
}

pub fn parse_hash(text: &str) -> Result<B256, PageError> {
    text.trim().parse::<B256>().map_err(|_| {
        PageError::bad_request(format!("{text:?} is not a hash (0x and 64 hex digits)"))
    })
}

/// Page links for a listing: the current page, whether there are earlier and later pages, and
/// the last page when the total is known.
pub fn pager(page: usize, shown: usize, total: Option<u64>) -> Json {
    let last = total.map(|t| (t as usize).div_ceil(PER_PAGE).max(1));
    serde_json::json!({
        "page": page,
        "prev": if page > 1 { Some(page - 1) } else { None },
        "next": match last {
            Some(last) if page < last => Some(page + 1),
            None if shown == PER_PAGE => Some(page + 1),
            _ => None,
        },
        "last": last,
        "first": false,
        "nextBefore": null,
    })
}

/// A page past the last of a listing.
pub fn past_the_end(page: usize, total: u64) -> PageError {
    PageError::not_found(format!(
        "page {page} is past the end: there are {total} entries, {} pages",
        (total as usize).div_ceil(PER_PAGE).max(1)
    ))
}
