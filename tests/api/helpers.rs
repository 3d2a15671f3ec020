//! Shared test machinery.

pub mod database;
pub mod flows;
pub mod test_app;
pub mod ws;

pub use test_app::TestApp;
