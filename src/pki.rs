//! Keys, certificates and cryptographic checks (openssl); pure, no database.

pub mod algorithms;
pub mod ca;
pub mod chain;
pub mod cms;
pub mod secrets;
pub mod sm2;
pub mod tsa;
pub mod ukey;
