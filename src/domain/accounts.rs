//! Accounts: registration, logins, sessions, one-time codes, captchas, profile
//! changes and UKey binding.

pub mod captcha;
pub mod login;
pub mod password;
pub mod phone;
pub mod profile;
pub mod register;
pub mod sessions;
pub mod sms_codes;
pub mod ukey;

pub use sessions::IssuedSession;
