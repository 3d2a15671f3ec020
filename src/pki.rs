//! Keys, certificates and cryptographic checks (openssl); pure, no database.

pub mod ca;
pub mod secrets;
pub mod ukey;
