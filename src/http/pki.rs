//! The platform's public PKI material: root and issuing CA certificates and
//! the current CRL, for validators and relying parties.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::db::enums::KeyPurpose;
use crate::domain::certificates;
use crate::error::AppError;
use crate::http::HttpState;

async fn certificate(state: &HttpState, purpose: KeyPurpose) -> Result<String, AppError> {
    let mut conn = state.app.pool.get().await?;
    certificates::platform_certificate_pem(&mut conn, &state.app.services(), purpose).await
}

fn pem_response(pem: String) -> Response {
    ([(header::CONTENT_TYPE, "application/x-pem-file")], pem).into_response()
}

pub async fn root_pem(State(state): State<HttpState>) -> Response {
    match certificate(&state, KeyPurpose::Root).await {
        Ok(pem) => pem_response(pem),
        Err(e) => e.into_response(),
    }
}

pub async fn issuing_pem(State(state): State<HttpState>) -> Response {
    match certificate(&state, KeyPurpose::Issuing).await {
        Ok(pem) => pem_response(pem),
        Err(e) => e.into_response(),
    }
}

fn crl_response(crl: Result<Vec<u8>, AppError>) -> Response {
    match crl {
        Ok(der) => (
            [
                (header::CONTENT_TYPE, "application/pkix-crl"),
                (header::CACHE_CONTROL, "max-age=300"),
            ],
            der,
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

pub async fn crl(State(state): State<HttpState>) -> Response {
    let crl = async {
        let mut conn = state.app.pool.get().await?;
        certificates::current_crl(&mut conn, &state.app.services()).await
    }
    .await;
    crl_response(crl)
}

/// The root's CRL, covering the issuing CA.
pub async fn root_crl(State(state): State<HttpState>) -> Response {
    let crl = async {
        let mut conn = state.app.pool.get().await?;
        certificates::current_root_crl(&mut conn, &state.app.services()).await
    }
    .await;
    crl_response(crl)
}
