//! The viewer's own account: read it, change phone, email and password.

use diesel_async::{AsyncConnection, AsyncPgConnection};

use crate::db::enums::SmsPurpose;
use crate::db::outbox::{EmailMessage, SmsMessage};
use crate::db::throttles::LoginFailure;
use crate::db::users::User;
use crate::domain::accounts::login::begin_password_attempt;
use crate::domain::accounts::password::{check_password_rule, hash_password, verify_password};
use crate::domain::accounts::phone::{mask_phone, parse_phone};
use crate::domain::accounts::sessions;
use crate::domain::accounts::sms_codes::{check_code, consume};
use crate::domain::{RequestMeta, Services, Viewer};
use crate::error::{AppError, AppResult};
use crate::events::Event;
use crate::notify::texts;

pub async fn me(conn: &mut AsyncPgConnection, viewer: &Viewer) -> AppResult<User> {
    Ok(User::find(conn, viewer.user_id).await?)
}

/// Wrong old passwords count toward the same lockout as password logins,
/// so a stolen session cannot be used to guess the password.
pub async fn change_password(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    meta: &RequestMeta,
    viewer: &Viewer,
    old_password: &str,
    new_password: &str,
) -> AppResult<()> {
    check_password_rule("newPassword", new_password)?;
    let user = User::find(conn, viewer.user_id).await?;
    let attempt = begin_password_attempt(conn, svc, meta, &user.phone).await?;
    if !verify_password(old_password.to_owned(), user.password_hash.clone()).await? {
        return Err(AppError::bad_input("oldPassword", "old password is wrong"));
    }
    let hash = hash_password(new_password.to_owned()).await?;
    conn.transaction(async |conn| {
        LoginFailure::delete(conn, attempt).await?;
        User::set_password(conn, user.id, &hash).await?;
        sessions::revoke_others(conn, svc, user.id, Some(viewer.session_id)).await
    })
    .await?;
    Ok(())
}

/// The code was sent to the new phone (purpose CHANGE_PHONE); the old phone
/// is told of the change.
pub async fn change_phone(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    viewer: &Viewer,
    raw_phone: &str,
    sms_code: &str,
) -> AppResult<User> {
    sessions::require_recent_login(svc, viewer)?;
    let phone = parse_phone("newPhone", raw_phone)?;
    let code_id = check_code(
        conn,
        svc,
        "smsCode",
        &phone,
        SmsPurpose::ChangePhone,
        sms_code,
    )
    .await?;
    let user = conn
        .transaction(async |conn| {
            let before = User::lock(conn, viewer.user_id).await?;
            if before.phone == phone {
                return Err(AppError::bad_input(
                    "newPhone",
                    "this is already your phone number",
                ));
            }
            let user = User::set_phone(conn, viewer.user_id, &phone).await?;
            consume(conn, "smsCode", code_id).await?;
            SmsMessage::enqueue(
                conn,
                &before.phone,
                &texts::phone_changed(&mask_phone(&phone)),
                false,
                None,
            )
            .await?;
            svc.events
                .publish(conn, Event::UserUpdated { user: user.id })
                .await?;
            Ok(user)
        })
        .await?;
    svc.outbox.wake();
    Ok(user)
}

pub async fn change_email(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    viewer: &Viewer,
    raw_email: &str,
) -> AppResult<User> {
    sessions::require_recent_login(svc, viewer)?;
    let email = parse_email("email", raw_email)?;
    let user = conn
        .transaction(async |conn| {
            let before = User::lock(conn, viewer.user_id).await?;
            let user = User::set_email(conn, viewer.user_id, &email).await?;
            EmailMessage::enqueue(
                conn,
                &email,
                texts::email_changed_subject(),
                &texts::email_changed_body(),
            )
            .await?;
            // The old address hears of it too, in case it was not the owner's doing.
            if let Some(old) = before.email.as_deref().filter(|old| *old != email) {
                EmailMessage::enqueue(
                    conn,
                    old,
                    texts::email_changed_subject(),
                    &texts::email_moved_body(&email),
                )
                .await?;
            }
            svc.events
                .publish(conn, Event::UserUpdated { user: user.id })
                .await?;
            Ok::<_, AppError>(user)
        })
        .await?;
    svc.outbox.wake();
    Ok(user)
}

/// An address lettre can send to, at most 254 characters.
pub fn parse_email(field: &str, raw: &str) -> AppResult<String> {
    let email = raw.trim();
    if email.len() > 254 || email.parse::<lettre::Address>().is_err() {
        return Err(AppError::bad_input(field, "email address is not valid"));
    }
    Ok(email.to_owned())
}
