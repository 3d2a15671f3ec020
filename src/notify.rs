//! Outgoing messages: SMS and email adapters and the Chinese message texts.
//! Leaf module: it knows nothing of the database or the domain.

pub mod email;
pub mod sms;
pub mod texts;

/// A failed delivery; `retryable` failures are tried again later.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct SendError {
    pub retryable: bool,
    pub message: String,
}

impl SendError {
    pub fn retryable(message: impl Into<String>) -> Self {
        Self {
            retryable: true,
            message: message.into(),
        }
    }

    pub fn permanent(message: impl Into<String>) -> Self {
        Self {
            retryable: false,
            message: message.into(),
        }
    }
}
