//! Deletes expired single-use rows (captchas, certificate challenges).

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::db::DbPool;
use crate::db::throttles::{Captcha, CertificateChallenge};

const EVERY: Duration = Duration::from_secs(600);

pub async fn run(pool: DbPool, clock: Clock, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(EVERY) => {}
        }
        let Ok(mut conn) = pool.get().await else {
            continue;
        };
        let now = clock.now();
        let purged = async {
            Ok::<_, diesel::result::Error>(
                Captcha::purge_expired(&mut conn, now).await?
                    + CertificateChallenge::purge_expired(&mut conn, now).await?,
            )
        }
        .await;
        match purged {
            Ok(n) if n > 0 => tracing::debug!(rows = n, "expired challenges purged"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "clean-up failed"),
        }
    }
}
