//! Shared test machinery.

pub mod contracts;
pub mod database;
pub mod flows;
pub mod sql_count;
pub mod test_app;
pub mod ws;

pub use test_app::TestApp;
