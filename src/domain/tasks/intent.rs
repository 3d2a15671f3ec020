//! Intent codes (意愿认证): before signing, the person acting for a signer
//! proves intent with a code sent to their own phone, bound to the task
//! and to them, single use, valid five minutes, five tries.

use diesel_async::{AsyncConnection, AsyncPgConnection};

use crate::db::ids::TaskId;
use crate::db::outbox::SmsMessage;
use crate::db::signing_codes::SigningCode;
use crate::db::users::User;
use crate::domain::accounts::phone::mask_phone;
use crate::domain::accounts::sms_codes::{
    CODE_TTL, CodeSent, MAX_ATTEMPTS, check_send_limits, fresh_code,
};
use crate::domain::tasks::{inbox, parties};
use crate::domain::{RequestMeta, Services, Viewer};
use crate::error::{AppError, AppResult};
use crate::notify::texts;
use crate::pki::secrets::constant_time_eq;

fn code_hash(svc: &Services<'_>, task: TaskId, viewer: &Viewer, code: &str) -> AppResult<Vec<u8>> {
    svc.keys
        .mac(
            b"signing-code",
            format!("{task}|{}|{code}", viewer.user_id).as_bytes(),
        )
        .map_err(AppError::internal)
}

/// `sendSigningCode`: a code to the viewer's phone for `task`.
pub async fn send(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    meta: &RequestMeta,
    viewer: &Viewer,
    id: TaskId,
) -> AppResult<CodeSent> {
    let sent = conn
        .transaction(async |conn| {
            let task = inbox::find(conn, viewer, id).await?;
            parties::pending(conn, viewer, &task).await?;
            let user = User::find(conn, viewer.user_id).await?;
            let resend_after = check_send_limits(conn, svc, meta, &user.phone).await?;
            let code = fresh_code()?;
            let now = svc.clock.now();
            SigningCode::replace(
                conn,
                task.id,
                user.id,
                &user.phone,
                &code_hash(svc, task.id, viewer, &code)?,
                now + CODE_TTL,
                now,
            )
            .await?;
            let body = texts::signing_code(&task.title, &code);
            SmsMessage::enqueue(conn, &user.phone, &body, true, Some(now + CODE_TTL)).await?;
            Ok::<_, AppError>(CodeSent {
                sent_to: mask_phone(&user.phone),
                retry_after_seconds: resend_after.num_seconds(),
            })
        })
        .await?;
    svc.outbox.wake();
    Ok(sent)
}

/// Checks and uses up the viewer's code for `task`, inside the caller's
/// transaction (a wrong try counts even when that transaction rolls back
/// only if the caller commits it: signing checks in its own step first).
pub async fn consume(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    viewer: &Viewer,
    task: TaskId,
    code: &str,
) -> AppResult<()> {
    let wrong = || AppError::bad_input("smsCode", "verification code is wrong or expired");
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AppError::bad_input(
            "smsCode",
            "verification code must be 6 digits",
        ));
    }
    let now = svc.clock.now();
    let stored = SigningCode::count_attempt(conn, task, viewer.user_id, MAX_ATTEMPTS, now)
        .await?
        .ok_or_else(wrong)?;
    if !constant_time_eq(&code_hash(svc, task, viewer, code)?, &stored) {
        return Err(wrong());
    }
    if !SigningCode::consume(conn, task, viewer.user_id, now).await? {
        return Err(wrong());
    }
    Ok(())
}
