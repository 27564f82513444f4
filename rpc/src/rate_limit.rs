//! Per-connection request rate limiting (token bucket), as jsonrpsee RPC middleware. A batch
//! costs one token per entry. An exhausted client gets error -32005 naming the limit.

use std::sync::Arc;
use std::time::Instant;

use jsonrpsee::MethodResponse;
use jsonrpsee::core::middleware::{Batch, Notification, RpcServiceT};
use jsonrpsee::types::{Id, Request};
use parking_lot::Mutex;

use crate::error::limit_exceeded;

#[derive(Clone, Copy, Debug)]
pub struct RateLimitLayer {
    per_second: u32,
}

impl RateLimitLayer {
    pub fn new(per_second: u32) -> Self {
        Self { per_second }
    }
}

impl<S> tower::Layer<S> for RateLimitLayer {
    type Service = RateLimit<S>;

    fn layer(&self, service: S) -> Self::Service {
        RateLimit {
            service,
            bucket: Arc::new(Mutex::new(Bucket::full(self.per_second))),
            per_second: self.per_second,
        }
    }
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    refilled: Instant,
}

impl Bucket {
    fn full(capacity: u32) -> Self {
        Self {
            tokens: capacity as f64,
            refilled: Instant::now(),
        }
    }

    /// Takes `cost` tokens if available, refilling at `rate` per second up to `rate`.
    fn take(&mut self, cost: f64, rate: f64) -> bool {
        let now = Instant::now();
        self.tokens = (self.tokens + now.duration_since(self.refilled).as_secs_f64() * rate)
            .min(rate.max(cost));
        self.refilled = now;
        if self.tokens >= cost {
            self.tokens -= cost;
            true
        } else {
            false
        }
    }
}

#[derive(Clone)]
pub struct RateLimit<S> {
    service: S,
    bucket: Arc<Mutex<Bucket>>,
    per_second: u32,
}

impl<S> RateLimit<S> {
    fn allow(&self, cost: usize) -> bool {
        self.bucket.lock().take(cost as f64, self.per_second as f64)
    }

    fn refusal(&self) -> jsonrpsee::types::ErrorObjectOwned {
        limit_exceeded(format!(
            "rate limit exceeded: at most {} requests per second per connection",
            self.per_second
        ))
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
        let refusal = (!self.allow(1)).then(|| self.refusal());
        let service = self.service.clone();
        async move {
            match refusal {
                None => service.call(request).await,
                Some(refusal) => MethodResponse::error(request.id, refusal),
            }
        }
    }

    fn batch<'a>(&self, batch: Batch<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        let refusal = (!self.allow(batch.len().max(1))).then(|| self.refusal());
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
    use super::Bucket;

    #[test]
    fn a_bucket_allows_its_rate_then_refuses() {
        let mut bucket = Bucket::full(3);
        assert!(bucket.take(1.0, 3.0));
        assert!(bucket.take(2.0, 3.0));
        assert!(!bucket.take(1.0, 3.0));
    }
}
