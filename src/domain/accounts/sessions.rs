//! Sessions: opaque 256-bit bearer tokens, of which only the SHA-256 is stored.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeDelta, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection};

use crate::db::ids::{SessionId, UserId};
use crate::db::sessions::{NewSession, Session};
use crate::db::users::User;
use crate::domain::{RequestMeta, Services, Viewer};
use crate::error::{AppError, AppResult};
use crate::events::Event;
use crate::pki::secrets::sha256;

/// Writing `last_seen_at` on every request would turn reads into writes;
/// once a minute is precise enough for an idle timeout counted in minutes.
const TOUCH_EVERY: TimeDelta = TimeDelta::seconds(60);

/// A new session and the token that only its owner ever sees.
pub struct IssuedSession {
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub user: User,
}

/// Creates a session for `user` inside the caller's transaction.
pub async fn issue(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    meta: &RequestMeta,
    user: User,
) -> AppResult<IssuedSession> {
    let mut raw = [0u8; 32];
    openssl::rand::rand_bytes(&mut raw).map_err(AppError::internal)?;
    let token = URL_SAFE_NO_PAD.encode(raw);
    let now = svc.clock.now();
    let expires_at = now + TimeDelta::hours(i64::from(svc.config.sessions.lifetime_hours));
    Session::insert(
        conn,
        &NewSession {
            id: SessionId::new(),
            user_id: user.id,
            token_hash: &sha256(token.as_bytes()),
            created_at: now,
            last_seen_at: now,
            expires_at,
            client_ip: Some(&meta.client_ip),
            user_agent: meta.user_agent.as_deref(),
        },
    )
    .await?;
    Ok(IssuedSession {
        token,
        expires_at,
        user,
    })
}

/// The viewer a bearer token stands for, or None when it is unknown, revoked,
/// idle too long or past its lifetime.
pub async fn authenticate(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    token: &str,
) -> AppResult<Option<Viewer>> {
    let now = svc.clock.now();
    let idle_since = now - TimeDelta::minutes(i64::from(svc.config.sessions.idle_minutes));
    let Some(session) =
        Session::find_live(conn, &sha256(token.as_bytes()), idle_since, now).await?
    else {
        return Ok(None);
    };
    if session.last_seen_at < now - TOUCH_EVERY {
        Session::touch(conn, session.id, now).await?;
    }
    Ok(Some(Viewer {
        user_id: session.user_id,
        session_id: session.id,
        session_expires_at: session.expires_at,
        session_created_at: session.created_at,
    }))
}

/// Whether the viewer's session is neither revoked nor past its lifetime
/// (open sockets ask this; their use keeps a session from idling).
pub async fn is_live(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    viewer: &Viewer,
) -> AppResult<bool> {
    Ok(Session::is_live(conn, viewer.session_id, svc.clock.now()).await?)
}

/// Sensitive changes (phone, email, UKey) need a login from the last
/// `RECENT_LOGIN` so that a stolen, long-lived token cannot take the account.
pub const RECENT_LOGIN: TimeDelta = TimeDelta::minutes(15);

pub fn require_recent_login(svc: &Services<'_>, viewer: &Viewer) -> AppResult<()> {
    if svc.clock.now() - viewer.session_created_at > RECENT_LOGIN {
        return Err(AppError::Forbidden(
            "log in again to change this; the last login is too old",
        ));
    }
    Ok(())
}

pub async fn logout(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    viewer: &Viewer,
) -> AppResult<()> {
    conn.transaction(async |conn| {
        Session::revoke(conn, viewer.session_id).await?;
        let event = Event::SessionRevoked {
            session: viewer.session_id,
        };
        svc.events.publish(conn, event).await?;
        Ok(())
    })
    .await
}

/// Revokes every session of `user_id` but `keep`, inside the caller's
/// transaction; their open sockets close when it commits.
pub async fn revoke_others(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    user_id: UserId,
    keep: Option<SessionId>,
) -> AppResult<()> {
    Session::revoke_all_for_user(conn, user_id, keep).await?;
    let event = Event::SessionsOfUserRevoked {
        user: user_id,
        except: keep,
    };
    svc.events.publish(conn, event).await?;
    Ok(())
}
