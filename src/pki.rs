//! Keys, certificates and cryptographic checks (openssl); pure, no database.

pub mod ca;
pub mod cms;
pub mod secrets;
pub mod tsa;
pub mod ukey;
