//! Request rate limiting per client IP address, as jsonrpsee RPC middleware: one token bucket
//! per address in a map shared by every connection of a server, so HTTP (where jsonrpsee builds
//! the middleware afresh for each request) and WebSocket are limited alike. A call costs one
//! token, a batch one per entry. An exhausted client gets error -32005 naming the limit.
//!
//! The map stays bounded: buckets live in two generations that rotate every second (or sooner
//! when the current one is full); a bucket untouched for a whole generation is dropped, which
//! loses nothing because an address idle for a second has a full bucket again. See ADR 0082.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonrpsee::MethodResponse;
use jsonrpsee::core::middleware::{Batch, Notification, RpcServiceT};
use jsonrpsee::types::{ErrorObjectOwned, Id, Request};
use parking_lot::Mutex;

use crate::error::limit_exceeded;

/// The address a request came from; the server puts it in every request's extensions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClientAddr(pub IpAddr);

impl ClientAddr {
    /// The key of the limiter: IPv4-mapped IPv6 addresses (a dual-stack listener) count as
    /// the IPv4 address.
    pub fn new(ip: IpAddr) -> Self {
        Self(ip.to_canonical())
    }
}

/// Addresses tracked per generation; at most twice this many buckets exist.
pub const MAX_TRACKED_CLIENTS: usize = 32_768;

/// A bucket refills from empty in one second, so one untouched for this long is full again
/// and can be forgotten.
const GENERATION: Duration = Duration::from_secs(1);

/// The token buckets of every client address of one server.
#[derive(Debug)]
pub struct ClientBuckets {
    per_second: u32,
    max_tracked: usize,
    generations: Mutex<Generations>,
}

#[derive(Debug)]
struct Generations {
    current: HashMap<IpAddr, Bucket>,
    previous: HashMap<IpAddr, Bucket>,
    rotated: Instant,
}

impl ClientBuckets {
    pub fn new(per_second: u32) -> Self {
        Self::with_capacity(per_second, MAX_TRACKED_CLIENTS)
    }

    /// `max_tracked` addresses per generation (at least 1).
    pub fn with_capacity(per_second: u32, max_tracked: usize) -> Self {
        Self {
            per_second,
            max_tracked: max_tracked.max(1),
            generations: Mutex::new(Generations {
                current: HashMap::new(),
                previous: HashMap::new(),
                rotated: Instant::now(),
            }),
        }
    }

    pub fn per_second(&self) -> u32 {
        self.per_second
    }

    /// Takes `cost` tokens from `client`'s bucket at time `now`; false (and nothing taken) if
    /// it has fewer.
    pub fn take(&self, client: IpAddr, cost: usize, now: Instant) -> bool {
        let rate = f64::from(self.per_second);
        let mut generations = self.generations.lock();
        let Generations {
            current,
            previous,
            rotated,
        } = &mut *generations;
        let full = current.len() >= self.max_tracked && !current.contains_key(&client);
        if full || now.saturating_duration_since(*rotated) >= GENERATION {
            // Whatever is still in `previous` was untouched for a whole generation.
            std::mem::swap(current, previous);
            current.clear();
            *rotated = now;
        }
        current
            .entry(client)
            .or_insert_with(|| {
                previous
                    .remove(&client)
                    .unwrap_or_else(|| Bucket::full(rate, now))
            })
            .take(cost as f64, rate, now)
    }

    /// How many addresses have a bucket now.
    pub fn tracked(&self) -> usize {
        let generations = self.generations.lock();
        generations.current.len() + generations.previous.len()
    }

    fn refusal(&self) -> ErrorObjectOwned {
        limit_exceeded(format!(
            "rate limit exceeded: at most {} requests per second per client address",
            self.per_second
        ))
    }
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    refilled: Instant,
}

impl Bucket {
    fn full(rate: f64, now: Instant) -> Self {
        Self {
            tokens: rate,
            refilled: now,
        }
    }

    /// Refills at `rate` per second up to `rate`, then takes `cost` tokens if there are as many.
    fn take(&mut self, cost: f64, rate: f64, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(rate);
        self.refilled = self.refilled.max(now);
        if self.tokens >= cost {
            self.tokens -= cost;
            true
        } else {
            false
        }
    }
}

/// The RPC middleware layer; every connection's middleware shares `buckets`.
#[derive(Clone, Debug)]
pub struct RateLimitLayer {
    buckets: Arc<ClientBuckets>,
}

impl RateLimitLayer {
    pub fn new(buckets: Arc<ClientBuckets>) -> Self {
        Self { buckets }
    }
}

impl<S> tower::Layer<S> for RateLimitLayer {
    type Service = RateLimit<S>;

    fn layer(&self, service: S) -> Self::Service {
        RateLimit {
            service,
            buckets: self.buckets.clone(),
        }
    }
}

#[derive(Clone)]
pub struct RateLimit<S> {
    service: S,
    buckets: Arc<ClientBuckets>,
}

/// The address in `extensions`; requests that did not come through the server's listener
/// (none do today) share the unspecified address's bucket.
fn client_of(extensions: &http::Extensions) -> IpAddr {
    extensions
        .get::<ClientAddr>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0)
}

impl<S> RateLimit<S> {
    /// `None` if `client` may spend `cost`, else the refusal.
    fn check(&self, client: IpAddr, cost: usize) -> Option<ErrorObjectOwned> {
        (!self.buckets.take(client, cost, Instant::now())).then(|| self.buckets.refusal())
    }
}

impl<S> RpcServiceT for RateLimit<S>
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

    fn call<'a>(&self, request: Request<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        let refusal = self.check(client_of(request.extensions()), 1);
        let service = self.service.clone();
        async move {
            match refusal {
                None => service.call(request).await,
                Some(refusal) => MethodResponse::error(request.id, refusal),
            }
        }
    }

    fn batch<'a>(&self, batch: Batch<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        // Entries jsonrpsee could not parse carry no extensions; every other one has the
        // connection's.
        let client = batch
            .iter()
            .flatten()
            .next()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |entry| {
                client_of(entry.extensions())
            });
        let refusal = self.check(client, batch.len().max(1));
        let service = self.service.clone();
        async move {
            match refusal {
                None => service.batch(batch).await,
                Some(refusal) => MethodResponse::error(Id::Null, refusal),
            }
        }
    }

    fn notification<'a>(
        &self,
        n: Notification<'a>,
    ) -> impl Future<Output = MethodResponse> + Send + 'a {
        self.service.notification(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, last))
    }

    #[test]
    fn a_client_gets_its_rate_then_is_refused_until_tokens_refill() {
        let buckets = ClientBuckets::new(10);
        let t0 = Instant::now();
        for i in 0..10 {
            assert!(buckets.take(ip(1), 1, t0), "call {i}");
        }
        assert!(
            !buckets.take(ip(1), 1, t0),
            "the 11th call in the same instant"
        );
        // 100 ms refills one token at 10/s.
        let later = t0 + Duration::from_millis(100);
        assert!(buckets.take(ip(1), 1, later));
        assert!(!buckets.take(ip(1), 1, later));
    }

    #[test]
    fn addresses_have_separate_buckets() {
        let buckets = ClientBuckets::new(2);
        let t0 = Instant::now();
        assert!(buckets.take(ip(1), 2, t0));
        assert!(!buckets.take(ip(1), 1, t0));
        assert!(buckets.take(ip(2), 2, t0));
    }

    #[test]
    fn a_batch_costs_its_length_and_one_larger_than_the_rate_never_passes() {
        let buckets = ClientBuckets::new(5);
        let t0 = Instant::now();
        assert!(!buckets.take(ip(1), 6, t0));
        // Idle for a minute: still capped at the rate.
        assert!(!buckets.take(ip(1), 6, t0 + Duration::from_secs(60)));
        assert!(buckets.take(ip(1), 5, t0 + Duration::from_secs(60)));
    }

    #[test]
    fn a_client_active_across_a_rotation_keeps_its_drained_bucket() {
        let buckets = ClientBuckets::new(10);
        let t0 = Instant::now();
        assert!(buckets.take(ip(1), 10, t0 + Duration::from_millis(950)));
        // The generation rotates at 1 s; the bucket moves to `previous`, not away, and has
        // refilled 0.5 tokens only.
        let t1 = t0 + Duration::from_millis(1_000);
        assert!(!buckets.take(ip(1), 1, t1));
    }

    #[test]
    fn the_map_stays_bounded_under_a_flood_of_addresses() {
        let buckets = ClientBuckets::with_capacity(10, 100);
        let t0 = Instant::now();
        for i in 0..10_000u32 {
            let client = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i));
            assert!(buckets.take(client, 1, t0));
            assert!(buckets.tracked() <= 200, "{} buckets", buckets.tracked());
        }
    }

    #[test]
    fn idle_addresses_are_forgotten() {
        let buckets = ClientBuckets::new(10);
        let t0 = Instant::now();
        for last in 0..50 {
            assert!(buckets.take(ip(last), 1, t0));
        }
        assert_eq!(buckets.tracked(), 50);
        // Two rotations later only the address seen since is left.
        assert!(buckets.take(ip(200), 1, t0 + Duration::from_secs(1)));
        assert!(buckets.take(ip(200), 1, t0 + Duration::from_secs(2)));
        assert_eq!(buckets.tracked(), 1);
    }

    #[test]
    fn an_ipv4_mapped_address_is_the_ipv4_address() {
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(ClientAddr::new(mapped), ClientAddr(ip(1)));
    }
}
