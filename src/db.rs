//! Persistence: the diesel schema, one model module per table family, typed
//! ids and enums, and the connection pool. No business rules live here.

pub mod audit_logs;
pub mod cached;
pub mod certificate_orders;
pub mod certificates;
pub mod contacts;
pub mod enterprises;
pub mod enums;
pub mod field_definitions;
pub mod files;
pub mod identity_checks;
pub mod ids;
pub mod join_applications;
pub mod local_server;
pub mod locks;
pub mod outbox;
pub mod platform_roles;
pub mod pool;
pub mod quota;
pub mod schema;
pub mod seals;
pub mod sessions;
pub mod signature_captures;
pub mod signing;
pub mod signing_codes;
pub mod sms_codes;
pub mod tasks;
pub mod templates;
pub mod throttles;
pub mod users;

pub use diesel_async::AsyncPgConnection;
pub use pool::{DbPool, PooledConn};
