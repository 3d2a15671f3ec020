//! Background work: the outbox delivery loop and periodic clean-up.

pub mod cleanup;
pub mod outbox;

use std::sync::Arc;

use tokio::sync::Notify;

/// Wakes the outbox worker after a commit that queued messages, so codes
/// leave at once instead of at the next poll.
#[derive(Clone, Default)]
pub struct OutboxWaker(Arc<Notify>);

impl OutboxWaker {
    pub fn wake(&self) {
        self.0.notify_one();
    }

    pub async fn woken(&self) {
        self.0.notified().await;
    }
}
