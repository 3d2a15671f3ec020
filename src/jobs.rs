//! Background work: the outbox delivery loop, periodic clean-up, and a
//! runner for periodic passes whose rules live in `domain`.

pub mod cleanup;
pub mod outbox;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use tokio::sync::Notify;

/// Wakes a worker after a commit that gave it work (messages to send,
/// documents to fill), so the work starts at once instead of at the next
/// poll.
#[derive(Clone, Default)]
pub struct Waker(Arc<Notify>);

pub type OutboxWaker = Waker;

impl Waker {
    pub fn wake(&self) {
        self.0.notify_one();
    }

    pub async fn woken(&self) {
        self.0.notified().await;
    }
}

/// Runs `pass` every `period` until shutdown; a failed pass is logged and
/// the next one runs on time. Passes claim their rows in the database, so
/// several servers may run the same job.
pub async fn every<F, Fut>(
    name: &'static str,
    period: Duration,
    shutdown: CancellationToken,
    pass: F,
) where
    F: Fn() -> Fut,
    Fut: Future<Output = anyhow::Result<usize>>,
{
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(period) => {}
        }
        match pass().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(job = name, items = n, "periodic job pass"),
            Err(e) => tracing::warn!(job = name, error = %e, "periodic job pass failed"),
        }
    }
}

/// Runs `pass` whenever `waker` fires or `poll` passes, and again at once
/// while passes find work; a failed pass is logged and retried at the next
/// poll. Workers claim rows with SKIP LOCKED, so several may run.
pub async fn worker<F, Fut>(
    name: &'static str,
    waker: Waker,
    poll: Duration,
    shutdown: CancellationToken,
    pass: F,
) where
    F: Fn() -> Fut,
    Fut: Future<Output = anyhow::Result<usize>>,
{
    loop {
        loop {
            match pass().await {
                Ok(0) => break,
                Ok(n) => tracing::debug!(job = name, items = n, "worker pass"),
                Err(e) => {
                    tracing::warn!(job = name, error = %e, "worker pass failed");
                    break;
                }
            }
            if shutdown.is_cancelled() {
                return;
            }
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = waker.woken() => {}
            () = tokio::time::sleep(poll) => {}
        }
    }
}
