//! 豫云签: the electronic labor-contract platform's GraphQL backend.

pub mod app;
pub mod ca_review;
pub mod clock;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod events;
pub mod graphql;
pub mod http;
pub mod identity;
pub mod jobs;
pub mod notify;
pub mod pdf;
pub mod pki;
pub mod seal_images;
pub mod seal_uploads;
pub mod server;
pub mod storage;
pub mod tsa_client;

pub use app::App;
pub use config::Config;
pub use http::build_router;
