//! Registration and password reset by SMS code.

use diesel_async::{AsyncConnection, AsyncPgConnection};

use crate::db::enums::SmsPurpose;
use crate::db::ids::UserId;
use crate::db::throttles::LoginFailure;
use crate::db::users::{NewUser, User};
use crate::domain::accounts::password::{check_password_rule, hash_password};
use crate::domain::accounts::phone::parse_phone;
use crate::domain::accounts::sessions::{self, IssuedSession};
use crate::domain::accounts::sms_codes::{check_code, consume, was_used};
use crate::domain::{RequestMeta, Services};
use crate::error::{AppError, AppResult};

pub struct Registration<'a> {
    pub phone: &'a str,
    pub password: &'a str,
    pub sms_code: &'a str,
    pub accept_agreements: bool,
}

pub async fn register(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    meta: &RequestMeta,
    input: Registration<'_>,
) -> AppResult<IssuedSession> {
    let phone = parse_phone("phone", input.phone)?;
    check_password_rule("password", input.password)?;
    if !input.accept_agreements {
        return Err(AppError::bad_input(
            "acceptAgreements",
            "the privacy policy, service agreement and certificate agreement must be accepted",
        ));
    }
    let code_id = match check_code(
        conn,
        svc,
        "smsCode",
        &phone,
        SmsPurpose::Register,
        input.sms_code,
    )
    .await
    {
        Ok(id) => id,
        Err(e) => {
            let taken = User::find_by_phone(conn, &phone).await?.is_some();
            if taken && was_used(conn, svc, &phone, SmsPurpose::Register, input.sms_code).await? {
                return Err(AppError::Conflict(
                    "phone number is already registered".into(),
                ));
            }
            return Err(e);
        }
    };
    let hash = hash_password(input.password.to_owned()).await?;
    let now = svc.clock.now();
    conn.transaction(async |conn| {
        // The insert comes first: of two concurrent registrations one waits on
        // the unique phone and then fails with CONFLICT.
        let user = User::insert(
            conn,
            &NewUser {
                id: UserId::new(),
                phone: &phone,
                password_hash: &hash,
                agreements_accepted_at: now,
            },
        )
        .await?;
        consume(conn, "smsCode", code_id).await?;
        tracing::info!(user.id = %user.id, "user registered");
        sessions::issue(conn, svc, meta, user).await
    })
    .await
}

pub async fn reset_password(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    raw_phone: &str,
    new_password: &str,
    sms_code: &str,
) -> AppResult<()> {
    let phone = parse_phone("phone", raw_phone)?;
    check_password_rule("newPassword", new_password)?;
    let code_id = check_code(
        conn,
        svc,
        "smsCode",
        &phone,
        SmsPurpose::ResetPassword,
        sms_code,
    )
    .await?;
    let Some(user) = User::find_by_phone(conn, &phone).await? else {
        // Codes for unknown phones are never delivered; answer like a wrong code.
        return Err(AppError::bad_input(
            "smsCode",
            "verification code is wrong or expired",
        ));
    };
    let hash = hash_password(new_password.to_owned()).await?;
    conn.transaction(async |conn| {
        consume(conn, "smsCode", code_id).await?;
        User::set_password(conn, user.id, &hash).await?;
        LoginFailure::clear(conn, &phone).await?;
        sessions::revoke_others(conn, svc, user.id, None).await
    })
    .await?;
    Ok(())
}
