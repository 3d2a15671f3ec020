//! Image captchas for password login: server-side, single use, two minutes.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, TimeDelta, Utc};
use diesel_async::AsyncPgConnection;

use crate::db::ids::CaptchaId;
use crate::db::throttles::Captcha;
use crate::domain::Services;
use crate::error::{AppError, AppResult};
use crate::pki::secrets::constant_time_eq;

pub const CAPTCHA_TTL: TimeDelta = TimeDelta::minutes(2);

pub struct IssuedCaptcha {
    pub id: CaptchaId,
    /// `data:image/png;base64,...`
    pub image_data_url: String,
    pub expires_at: DateTime<Utc>,
}

fn answer_hash(svc: &Services<'_>, id: CaptchaId, answer: &str) -> AppResult<Vec<u8>> {
    let value = format!("{id}|{}", answer.trim().to_lowercase());
    svc.keys
        .mac(b"captcha", value.as_bytes())
        .map_err(AppError::internal)
}

/// Draws the image on a blocking thread (it is CPU work) and stores the answer's MAC.
pub async fn create(conn: &mut AsyncPgConnection, svc: &Services<'_>) -> AppResult<IssuedCaptcha> {
    let (answer, png) = tokio::task::spawn_blocking(|| {
        let mut captcha = captcha::Captcha::new();
        captcha
            .set_chars(
                &"ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
                    .chars()
                    .collect::<Vec<_>>(),
            )
            .add_chars(5)
            .apply_filter(captcha::filters::Noise::new(0.3))
            .apply_filter(captcha::filters::Wave::new(2.0, 16.0))
            .view(200, 70);
        captcha.as_tuple()
    })
    .await?
    .ok_or_else(|| AppError::internal(anyhow::anyhow!("captcha image could not be drawn")))?;
    let id = CaptchaId::new();
    let expires_at = svc.clock.now() + CAPTCHA_TTL;
    Captcha::insert(conn, id, &answer_hash(svc, id, &answer)?, expires_at).await?;
    Ok(IssuedCaptcha {
        id,
        image_data_url: format!("data:image/png;base64,{}", STANDARD.encode(png)),
        expires_at,
    })
}

/// Uses the captcha up (whatever the answer) and says whether `answer` was right.
pub async fn take_and_check(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    id: CaptchaId,
    answer: &str,
) -> AppResult<bool> {
    let Some(stored) = Captcha::take(conn, id, svc.clock.now()).await? else {
        return Ok(false);
    };
    Ok(constant_time_eq(&answer_hash(svc, id, answer)?, &stored))
}
