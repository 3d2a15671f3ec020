//! Callbacks from outside services: identity providers' HMAC-signed results,
//! and the stand-in face page of the local identity provider.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use secrecy::ExposeSecret;

use crate::db::enums::CheckStatus;
use crate::domain::real_name;
use crate::error::AppError;
use crate::http::HttpState;
use crate::identity::{LocalIdentityProvider, Verdict};
use crate::pki::secrets::{constant_time_eq, hmac_sha256};

/// The body a provider POSTs: `{"reference": "...", "passed": true, "reason": null}`.
#[derive(serde::Deserialize)]
struct IdentityResult {
    reference: String,
    passed: bool,
    reason: Option<String>,
}

/// `POST /webhooks/identity/{provider}` with header
/// `X-Signature: hex(HMAC-SHA256(secret, body))`. Idempotent: a repeated
/// delivery answers 200 and changes nothing.
pub async fn identity_webhook(
    State(state): State<HttpState>,
    Path(provider): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(secret) = &state.app.config.identity.webhook_secret else {
        return (StatusCode::NOT_FOUND, "webhooks are not configured").into_response();
    };
    let given = headers
        .get("x-signature")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| hex::decode(v.trim()).ok());
    let expected = match hmac_sha256(secret.expose_secret().as_bytes(), &[&body]) {
        Ok(mac) => mac,
        Err(e) => return AppError::internal(e).into_response(),
    };
    if !given.is_some_and(|given| constant_time_eq(&given, &expected)) {
        return (StatusCode::UNAUTHORIZED, "bad signature").into_response();
    }
    let Ok(result) = serde_json::from_slice::<IdentityResult>(&body) else {
        return (StatusCode::BAD_REQUEST, "body is not an identity result").into_response();
    };
    let verdict = if result.passed {
        Verdict::Match
    } else {
        Verdict::Mismatch(result.reason.unwrap_or_else(|| "人脸识别未通过".to_owned()))
    };
    let outcome = async {
        let mut conn = state.app.pool.get().await?;
        real_name::complete_from_provider(
            &mut conn,
            &state.app.services(),
            &provider,
            &result.reference,
            verdict,
        )
        .await
    }
    .await;
    match outcome {
        Ok(check) => (StatusCode::OK, check.status.as_str()).into_response(),
        Err(e) => e.into_response(),
    }
}

/// The local provider's face page: one button that finishes the check.
pub async fn local_face_page(Path(reference): Path<String>) -> Response {
    let reference = html_escape(&reference);
    Html(format!(
        "<!doctype html><html lang=\"zh-CN\"><meta charset=\"utf-8\"><title>人脸识别（本地模拟）</title>\
         <body><h1>人脸识别（本地模拟）</h1><p>本地模式下不进行真实的人脸识别，点击按钮按测试身份规则完成认证。</p>\
         <form method=\"post\" action=\"/identity/local/face/{reference}\"><button type=\"submit\">完成人脸识别</button></form></body></html>"
    ))
    .into_response()
}

pub async fn local_face_submit(
    State(state): State<HttpState>,
    Path(reference): Path<String>,
) -> Response {
    let outcome = async {
        let mut conn = state.app.pool.get().await?;
        let name = real_name::pending_face_name(&mut conn, "local", &reference).await?;
        real_name::complete_from_provider(
            &mut conn,
            &state.app.services(),
            "local",
            &reference,
            LocalIdentityProvider::face_verdict(&name),
        )
        .await
    }
    .await;
    match outcome {
        Ok(check) if check.status == CheckStatus::Verified => {
            Html("<p>认证成功，请返回应用。</p>").into_response()
        }
        Ok(_) => Html("<p>认证未通过，请返回应用重试。</p>").into_response(),
        Err(e) => e.into_response(),
    }
}

fn html_escape(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '&' => "&amp;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&#39;".to_owned(),
            c => c.to_string(),
        })
        .collect()
}
