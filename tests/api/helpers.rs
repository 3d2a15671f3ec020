//! Shared test machinery.

pub mod database;
pub mod test_app;

pub use test_app::TestApp;
