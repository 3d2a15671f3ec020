//! Logins by SMS code and by password (with captcha and lockout).

use chrono::TimeDelta;
use diesel_async::{AsyncConnection, AsyncPgConnection};

use crate::db::enums::SmsPurpose;
use crate::db::ids::CaptchaId;
use crate::db::locks::lock_key;
use crate::db::throttles::LoginFailure;
use crate::db::users::User;
use crate::domain::accounts::captcha;
use crate::domain::accounts::password::verify_password;
use crate::domain::accounts::phone::parse_phone;
use crate::domain::accounts::sessions::{self, IssuedSession};
use crate::domain::accounts::sms_codes::{check_code, consume};
use crate::domain::{RequestMeta, Services};
use crate::error::{AppError, AppResult};

pub const LOCKOUT_WINDOW: TimeDelta = TimeDelta::minutes(15);
pub const LOCKOUT_FAILURES: usize = 5;

pub async fn login_with_sms(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    meta: &RequestMeta,
    raw_phone: &str,
    sms_code: &str,
) -> AppResult<IssuedSession> {
    let phone = parse_phone("phone", raw_phone)?;
    let code_id = check_code(conn, svc, "smsCode", &phone, SmsPurpose::Login, sms_code).await?;
    let Some(user) = User::find_by_phone(conn, &phone).await? else {
        return Err(AppError::bad_input(
            "smsCode",
            "verification code is wrong or expired",
        ));
    };
    conn.transaction(async |conn| {
        consume(conn, "smsCode", code_id).await?;
        sessions::issue(conn, svc, meta, user).await
    })
    .await
}

pub struct PasswordLogin<'a> {
    pub phone: &'a str,
    pub password: &'a str,
    pub captcha_id: CaptchaId,
    pub captcha_answer: &'a str,
}

/// Each step commits on its own: the captcha is used up and a failure is
/// counted even though the request then fails.
pub async fn login_with_password(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    meta: &RequestMeta,
    input: PasswordLogin<'_>,
) -> AppResult<IssuedSession> {
    let phone = parse_phone("phone", input.phone)?;
    if !captcha::take_and_check(conn, svc, input.captcha_id, input.captcha_answer).await? {
        return Err(AppError::bad_input(
            "captchaAnswer",
            "captcha is wrong or expired",
        ));
    }
    let attempt = begin_password_attempt(conn, svc, meta, &phone).await?;
    let user = User::find_by_phone(conn, &phone).await?;
    let stored = user.as_ref().and_then(|u| u.password_hash.clone());
    let matches = verify_password(input.password.to_owned(), stored).await?;
    let Some(user) = user.filter(|_| matches) else {
        // The attempt stays recorded as a failure.
        return Err(AppError::Unauthenticated(
            "phone number or password is wrong",
        ));
    };
    conn.transaction(async |conn| {
        LoginFailure::delete(conn, attempt).await?;
        sessions::issue(conn, svc, meta, user).await
    })
    .await
}

/// Refuses while the phone is locked out; otherwise records this attempt as
/// a failure before the password is checked (the caller deletes it on
/// success). Under a per-phone lock, so concurrent guesses cannot all slip
/// under the limit.
pub async fn begin_password_attempt(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    meta: &RequestMeta,
    phone: &str,
) -> AppResult<i64> {
    let now = svc.clock.now();
    conn.transaction(async |conn| {
        lock_key(conn, "login-phone", phone).await?;
        let failures = LoginFailure::since(conn, phone, now - LOCKOUT_WINDOW).await?;
        if failures.len() >= LOCKOUT_FAILURES {
            let unlock_at = failures[failures.len() - LOCKOUT_FAILURES] + LOCKOUT_WINDOW;
            return Err(AppError::RateLimited {
                message: "password login is locked for this phone after repeated failures; log in with an SMS code or try later",
                retry_after_seconds: Some((unlock_at - now).num_seconds().max(1)),
            });
        }
        Ok(LoginFailure::record(conn, phone, &meta.client_ip).await?)
    })
    .await
}
