//! The event bus: state changes that open connections must react to.
//!
//! This first transport is in-process broadcast (one server process). The
//! Postgres LISTEN/NOTIFY transport for several processes comes with the
//! subscriptions of the signing issues, behind this same interface.

use tokio::sync::broadcast;

use crate::db::ids::{SessionId, UserId};

#[derive(Debug, Clone)]
pub enum Event {
    /// These sessions ended (logout, password change): their sockets close.
    SessionsRevoked(Vec<SessionId>),
    /// The user's own account changed (phone, email, real-name status).
    UserUpdated(UserId),
}

#[derive(Clone)]
pub struct EventBus {
    sender: broadcast::Sender<Event>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new()
    }
}

impl EventBus {
    pub fn new() -> Self {
        let (sender, _) = broadcast::channel(1024);
        Self { sender }
    }

    /// Publishes to whoever listens now; with no listener the event is dropped.
    pub fn publish(&self, event: Event) {
        let _ = self.sender.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.sender.subscribe()
    }
}
