//! Intent codes (意愿认证): before signing, the person acting for a signer
//! proves intent with a code sent to their own phone, bound to the task
//! and to them, single use, valid five minutes, five tries.

use diesel_async::{AsyncConnection, AsyncPgConnection};

use crate::db::ids::TaskId;
use crate::db::outbox::SmsMessage;
use crate::db::signing::{Attempt, CodeTried};
use crate::db::signing_codes::SigningCode;
use crate::domain::accounts::phone::mask_phone;
use crate::domain::accounts::sms_codes::{
    CODE_TTL, CodeSent, MAX_ATTEMPTS, check_send_limits, fresh_code,
};
use crate::domain::tasks::parties;
use crate::domain::{RequestMeta, Services, Viewer};
use crate::error::{AppError, AppResult};
use crate::notify::texts;

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
            let (task, turn) = parties::pending_or_hidden(conn, viewer, id).await?;
            let user = turn.user;
            let code = fresh_code()?;
            let now = svc.clock.now();
            let hash = code_hash(svc, task.id, viewer, &code)?;
            let body = texts::signing_code(&task.title, &code);
            // The code and its SMS, then the limits (pipelined, in this
            // order): the limits' locks (phone, network) are taken last
            // and held until the commit, and a refusal rolls the code back.
            let ((), _, resend_after) = futures_util::try_join!(
                async {
                    let expires = now + CODE_TTL;
                    Ok::<_, AppError>(
                        SigningCode::replace(
                            conn,
                            task.id,
                            user.id,
                            &user.phone,
                            &hash,
                            expires,
                            now,
                        )
                        .await?,
                    )
                },
                async {
                    let expires = Some(now + CODE_TTL);
                    Ok(SmsMessage::enqueue(conn, &user.phone, &body, true, expires).await?)
                },
                check_send_limits(conn, svc, meta, &user.phone),
            )?;
            Ok::<_, AppError>(CodeSent {
                sent_to: mask_phone(&user.phone),
                retry_after_seconds: resend_after.num_seconds(),
            })
        })
        .await?;
    svc.outbox.wake();
    Ok(sent)
}

fn checked_format(code: &str) -> AppResult<&str> {
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AppError::bad_input(
            "smsCode",
            "verification code must be 6 digits",
        ));
    }
    Ok(code)
}

/// The refusal of a wrong, used, expired or tried-out code.
pub fn wrong() -> AppError {
    AppError::bad_input("smsCode", "verification code is wrong or expired")
}

/// The keyed hash of a code the viewer gives for `task`: how an attempt
/// made with it is found again (the code itself is never stored).
pub fn code_mac(
    svc: &Services<'_>,
    task: TaskId,
    viewer: &Viewer,
    code: &str,
) -> AppResult<Vec<u8>> {
    code_hash(svc, task, viewer, checked_format(code)?)
}

/// Records `attempt` if its `code_mac` is the keyed hash of the viewer's
/// live code for the task and the signer's turn is still open, using the
/// code up; a wrong code counts as a try and is refused with [`wrong`].
/// One statement, committed by itself, so tries of one code are counted
/// one by one.
pub async fn record_attempt(conn: &AsyncPgConnection, attempt: &Attempt) -> AppResult<()> {
    match attempt.record_with_code(conn, MAX_ATTEMPTS).await? {
        CodeTried::Recorded => Ok(()),
        CodeTried::TurnEnded => Err(AppError::Conflict(
            "the task moved on meanwhile; look at it again".into(),
        )),
        CodeTried::Wrong => Err(wrong()),
    }
}
