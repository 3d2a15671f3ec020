//! One-time SMS codes: issue (with send limits), check and consume.

use chrono::TimeDelta;
use diesel_async::{AsyncConnection, AsyncPgConnection};

use crate::db::enums::SmsPurpose;
use crate::db::ids::SmsCodeId;
use crate::db::locks::lock_keys;
use crate::db::outbox::SmsMessage;
use crate::db::sms_codes::{SmsCode, SmsCodeSend};
use crate::db::users::User;
use crate::domain::accounts::phone::{mask_phone, parse_phone};
use crate::domain::{RequestMeta, Services};
use crate::error::{AppError, AppResult};
use crate::notify::texts;
use crate::pki::secrets::constant_time_eq;

pub const CODE_TTL: TimeDelta = TimeDelta::minutes(5);
pub const MAX_ATTEMPTS: i32 = 5;

pub struct CodeSent {
    pub sent_to: String,
    pub retry_after_seconds: i64,
}

fn wrong_code(field: &str) -> AppError {
    AppError::bad_input(field, "verification code is wrong or expired")
}

/// Six digits from the CSPRNG, without modulo bias.
fn new_code() -> AppResult<String> {
    loop {
        let mut bytes = [0u8; 4];
        openssl::rand::rand_bytes(&mut bytes).map_err(AppError::internal)?;
        let n = u32::from_be_bytes(bytes);
        // 4_294_000_000 is the largest multiple of 1_000_000 below 2^32.
        if n < 4_294_000_000 {
            return Ok(format!("{:06}", n % 1_000_000));
        }
    }
}

fn code_hash(
    svc: &Services<'_>,
    phone: &str,
    purpose: SmsPurpose,
    code: &str,
) -> AppResult<Vec<u8>> {
    let value = format!("{phone}|{}|{code}", purpose.as_str());
    svc.keys
        .mac(b"sms-code", value.as_bytes())
        .map_err(AppError::internal)
}

/// The public `sendSmsCode`: the same answer whether or not the phone has an
/// account. Codes for logging in or resetting a password of a phone without
/// an account are stored but never sent.
pub async fn send_sms_code(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    meta: &RequestMeta,
    raw_phone: &str,
    purpose: SmsPurpose,
) -> AppResult<CodeSent> {
    let phone = parse_phone("phone", raw_phone)?;
    if purpose == SmsPurpose::RealName {
        return Err(AppError::bad_input(
            "purpose",
            "this purpose is not available here",
        ));
    }
    let deliver = match purpose {
        SmsPurpose::Login | SmsPurpose::ResetPassword => {
            User::find_by_phone(conn, &phone).await?.is_some()
        }
        _ => true,
    };
    issue_code(conn, svc, meta, &phone, purpose, deliver).await
}

/// Stores a fresh code for (phone, purpose) within the send limits and, when
/// `deliver`, queues the SMS that carries it; in a transaction of its own.
pub async fn issue_code(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    meta: &RequestMeta,
    phone: &str,
    purpose: SmsPurpose,
    deliver: bool,
) -> AppResult<CodeSent> {
    let sent = conn
        .transaction(async |conn| issue_code_in(conn, svc, meta, phone, purpose, deliver).await)
        .await?;
    svc.outbox.wake();
    Ok(sent)
}

/// [`issue_code`] inside the caller's transaction (which must wake the
/// outbox after it commits).
pub async fn issue_code_in(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    meta: &RequestMeta,
    phone: &str,
    purpose: SmsPurpose,
    deliver: bool,
) -> AppResult<CodeSent> {
    let code = new_code()?;
    let hash = code_hash(svc, phone, purpose, &code)?;
    let now = svc.clock.now();
    let resend_after = check_send_limits(conn, svc, meta, phone).await?;
    SmsCode::replace(conn, phone, purpose, &hash, now + CODE_TTL).await?;
    if deliver {
        let body = texts::verification_code(purpose.as_str(), &code);
        SmsMessage::enqueue(conn, phone, &body, true, Some(now + CODE_TTL)).await?;
    }
    Ok(CodeSent {
        sent_to: mask_phone(phone),
        retry_after_seconds: resend_after.num_seconds(),
    })
}

/// Refuses a code to `phone` within the resend pause, past the daily
/// limit of the phone or the hourly limit of the client's network, and
/// records the send; the resend pause. Inside the caller's transaction.
pub async fn check_send_limits(
    conn: &AsyncPgConnection,
    svc: &Services<'_>,
    meta: &RequestMeta,
    phone: &str,
) -> AppResult<TimeDelta> {
    let now = svc.clock.now();
    let limits = &svc.config.limits;
    let resend_after = TimeDelta::seconds(i64::from(limits.sms_resend_secs));
    // Pipelined: the count runs once the locks are held.
    let keys = [("sms-phone", phone), ("sms-ip", meta.client_ip.as_str())];
    let ((), before) = futures_util::try_join!(
        lock_keys(conn, &keys),
        SmsCodeSend::record_and_count(
            conn,
            phone,
            &meta.client_ip,
            now,
            now - TimeDelta::days(1),
            now - TimeDelta::hours(1),
        ),
    )?;
    if let Some(last) = before.newest_to_phone
        && last > now - resend_after
    {
        return Err(AppError::RateLimited {
            message: "a code was sent to this phone less than a minute ago",
            retry_after_seconds: Some((last + resend_after - now).num_seconds().max(1)),
        });
    }
    if before.to_phone >= i64::from(limits.sms_codes_per_phone_day) {
        let oldest = before.oldest_to_phone.unwrap_or(now);
        return Err(AppError::RateLimited {
            message: "this phone has received too many codes today",
            retry_after_seconds: Some((oldest + TimeDelta::days(1) - now).num_seconds().max(1)),
        });
    }
    if before.from_ip >= i64::from(limits.sms_codes_per_ip_hour) {
        return Err(AppError::RateLimited {
            message: "too many codes requested from this network, try again later",
            retry_after_seconds: Some(3600),
        });
    }
    Ok(resend_after)
}

/// Six digits from the CSPRNG (for other kinds of codes).
pub fn fresh_code() -> AppResult<String> {
    new_code()
}

/// Counts one try against the live code (committed at once, so failed tries
/// stay counted whatever happens next) and says whether `code` matches.
/// Call [`consume`] inside the transaction that acts on the code.
pub async fn check_code(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    field: &str,
    phone: &str,
    purpose: SmsPurpose,
    code: &str,
) -> AppResult<SmsCodeId> {
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AppError::bad_input(
            field,
            "verification code must be 6 digits",
        ));
    }
    let now = svc.clock.now();
    let Some(stored) = SmsCode::count_attempt(conn, phone, purpose, MAX_ATTEMPTS, now).await?
    else {
        return Err(wrong_code(field));
    };
    let given = code_hash(svc, phone, purpose, code)?;
    if constant_time_eq(&given, &stored.code_hash) {
        Ok(stored.id)
    } else {
        Err(wrong_code(field))
    }
}

/// Whether `code` is the right code of (phone, purpose) but already used:
/// lets a registration that lost a race answer CONFLICT, and tells nothing
/// to anyone who does not hold the code.
pub async fn was_used(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    phone: &str,
    purpose: SmsPurpose,
    code: &str,
) -> AppResult<bool> {
    let hash = code_hash(svc, phone, purpose, code.trim())?;
    Ok(SmsCode::was_consumed(conn, phone, purpose, &hash).await?)
}

/// Uses the code up; fails when a concurrent request used it first.
pub async fn consume(conn: &mut AsyncPgConnection, field: &str, id: SmsCodeId) -> AppResult<()> {
    if SmsCode::consume(conn, id).await? {
        Ok(())
    } else {
        Err(wrong_code(field))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digits() {
        for _ in 0..200 {
            let code = new_code().unwrap();
            assert_eq!(code.len(), 6);
            assert!(code.bytes().all(|b| b.is_ascii_digit()));
        }
    }
}
