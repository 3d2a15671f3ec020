//! Short-lived single-use rows and failure history: captchas, certificate
//! challenges and failed password logins.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::ids::{CaptchaId, ChallengeId};
use crate::db::schema::{captchas, certificate_challenges, login_failures};

pub struct Captcha;

impl Captcha {
    pub async fn insert(
        conn: &mut AsyncPgConnection,
        id: CaptchaId,
        answer_hash: &[u8],
        expires_at: DateTime<Utc>,
    ) -> QueryResult<()> {
        diesel::insert_into(captchas::table)
            .values((
                captchas::id.eq(id),
                captchas::answer_hash.eq(answer_hash),
                captchas::expires_at.eq(expires_at),
            ))
            .execute(conn)
            .await
            .map(drop)
    }

    /// Deletes the captcha and returns its answer hash if it had not expired.
    /// Deleting first makes every captcha single use, right answer or not.
    pub async fn take(
        conn: &mut AsyncPgConnection,
        id: CaptchaId,
        now: DateTime<Utc>,
    ) -> QueryResult<Option<Vec<u8>>> {
        let taken: Option<(Vec<u8>, DateTime<Utc>)> = diesel::delete(captchas::table.find(id))
            .returning((captchas::answer_hash, captchas::expires_at))
            .get_result(conn)
            .await
            .optional()?;
        Ok(taken.and_then(|(hash, expires_at)| (expires_at > now).then_some(hash)))
    }

    pub async fn purge_expired(
        conn: &mut AsyncPgConnection,
        now: DateTime<Utc>,
    ) -> QueryResult<usize> {
        diesel::delete(captchas::table.filter(captchas::expires_at.lt(now)))
            .execute(conn)
            .await
    }
}

pub struct CertificateChallenge;

impl CertificateChallenge {
    pub async fn insert(
        conn: &mut AsyncPgConnection,
        id: ChallengeId,
        nonce: &[u8],
        expires_at: DateTime<Utc>,
    ) -> QueryResult<()> {
        diesel::insert_into(certificate_challenges::table)
            .values((
                certificate_challenges::id.eq(id),
                certificate_challenges::nonce.eq(nonce),
                certificate_challenges::expires_at.eq(expires_at),
            ))
            .execute(conn)
            .await
            .map(drop)
    }

    /// Deletes the challenge and returns its nonce if it had not expired.
    pub async fn take(
        conn: &mut AsyncPgConnection,
        id: ChallengeId,
        now: DateTime<Utc>,
    ) -> QueryResult<Option<Vec<u8>>> {
        let taken: Option<(Vec<u8>, DateTime<Utc>)> =
            diesel::delete(certificate_challenges::table.find(id))
                .returning((
                    certificate_challenges::nonce,
                    certificate_challenges::expires_at,
                ))
                .get_result(conn)
                .await
                .optional()?;
        Ok(taken.and_then(|(nonce, expires_at)| (expires_at > now).then_some(nonce)))
    }

    pub async fn purge_expired(
        conn: &mut AsyncPgConnection,
        now: DateTime<Utc>,
    ) -> QueryResult<usize> {
        diesel::delete(
            certificate_challenges::table.filter(certificate_challenges::expires_at.lt(now)),
        )
        .execute(conn)
        .await
    }
}

pub struct LoginFailure;

impl LoginFailure {
    /// Records a failure (or an attempt still being checked); returns its id.
    pub async fn record(
        conn: &mut AsyncPgConnection,
        phone: &str,
        client_ip: &str,
    ) -> QueryResult<i64> {
        diesel::insert_into(login_failures::table)
            .values((
                login_failures::phone.eq(phone),
                login_failures::client_ip.eq(client_ip),
            ))
            .returning(login_failures::id)
            .get_result(conn)
            .await
    }

    pub async fn delete(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<()> {
        diesel::delete(login_failures::table.find(id))
            .execute(conn)
            .await
            .map(drop)
    }

    /// Failure times for this phone since `since`, oldest first.
    pub async fn since(
        conn: &mut AsyncPgConnection,
        phone: &str,
        since: DateTime<Utc>,
    ) -> QueryResult<Vec<DateTime<Utc>>> {
        login_failures::table
            .filter(login_failures::phone.eq(phone))
            .filter(login_failures::failed_at.gt(since))
            .order(login_failures::failed_at.asc())
            .select(login_failures::failed_at)
            .load(conn)
            .await
    }

    pub async fn clear(conn: &mut AsyncPgConnection, phone: &str) -> QueryResult<()> {
        diesel::delete(login_failures::table.filter(login_failures::phone.eq(phone)))
            .execute(conn)
            .await
            .map(drop)
    }
}
