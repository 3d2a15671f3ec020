//! The password rule, the list of refused common passwords, and argon2id hashing.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::error::AppError;

const COMMON_PASSWORDS: &str = include_str!("common-passwords.txt");

/// The platform's published rule: 8-16 characters with at least three of
/// upper case, lower case, digit and symbol; not a well-known password.
pub fn check_password_rule(field: &str, password: &str) -> Result<(), AppError> {
    let length = password.chars().count();
    if !(8..=16).contains(&length) {
        return Err(AppError::bad_input(
            field,
            "password must be 8 to 16 characters",
        ));
    }
    if password
        .chars()
        .any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(AppError::bad_input(
            field,
            "password must not contain spaces or control characters",
        ));
    }
    let classes = [
        password.chars().any(|c| c.is_ascii_uppercase()),
        password.chars().any(|c| c.is_ascii_lowercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password.chars().any(|c| !c.is_ascii_alphanumeric()),
    ];
    if classes.iter().filter(|&&has| has).count() < 3 {
        return Err(AppError::bad_input(
            field,
            "password must contain at least three of: upper case, lower case, digit, symbol",
        ));
    }
    let lowered = password.to_lowercase();
    if COMMON_PASSWORDS
        .lines()
        .any(|common| common.trim() == lowered)
    {
        return Err(AppError::bad_input(
            field,
            "password is too common, choose another",
        ));
    }
    Ok(())
}

/// argon2id with pinned parameters (m=19456 KiB, t=2, p=1), as recommended by OWASP.
fn argon2() -> Argon2<'static> {
    #[expect(
        clippy::expect_used,
        reason = "constant parameters that argon2 accepts"
    )]
    let params = Params::new(19_456, 2, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes on a blocking thread: argon2 takes tens of milliseconds of CPU.
pub async fn hash_password(password: String) -> Result<String, AppError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        argon2()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|e| AppError::internal(anyhow::anyhow!("argon2: {e}")))
    })
    .await?
}

/// Verifies on a blocking thread. With no stored hash, a dummy hash is checked
/// so that an unknown account costs the same time as a wrong password.
pub async fn verify_password(password: String, stored: Option<String>) -> Result<bool, AppError> {
    tokio::task::spawn_blocking(move || {
        let known = stored.is_some();
        let phc = stored.unwrap_or_else(|| DUMMY_HASH.to_owned());
        let parsed = PasswordHash::new(&phc)
            .map_err(|e| AppError::internal(anyhow::anyhow!("stored password hash: {e}")))?;
        let matches = argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        Ok(known && matches)
    })
    .await?
}

/// argon2id hash of a random string nobody knows, with the pinned parameters.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$q0ffRwo1qMB1dmMbgbb2RxHY4Mcx5trn4nB3bOJePJY";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_needs_three_classes_and_length() {
        assert!(check_password_rule("p", "Zq8#wLm2").is_ok());
        assert!(check_password_rule("p", "zq8#wlm2").is_ok());
        assert!(check_password_rule("p", "zqxwlmab12").is_err());
        assert!(check_password_rule("p", "Zq8#wL").is_err());
        assert!(check_password_rule("p", "Zq8#wLm2Zq8#wLm2x").is_err());
    }

    #[test]
    fn common_passwords_are_refused_whatever_their_case() {
        assert!(check_password_rule("p", "Password123").is_err());
        assert!(check_password_rule("p", "P@ssw0rd").is_err());
        assert!(check_password_rule("p", "QWERTY123!").is_err());
    }

    #[tokio::test]
    async fn hashes_are_pinned_argon2id_and_verify() {
        let hash = hash_password("Zq8#wLm2".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(
            verify_password("Zq8#wLm2".into(), Some(hash.clone()))
                .await
                .unwrap()
        );
        assert!(
            !verify_password("Zq8#wLm3".into(), Some(hash))
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn unknown_account_never_verifies() {
        assert!(!verify_password("anything".into(), None).await.unwrap());
    }
}
