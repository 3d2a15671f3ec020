//! `GET /health`: 200 when the database answers, 503 when it does not.

use axum::extract::State;
use axum::http::StatusCode;
use diesel_async::RunQueryDsl;

use crate::http::HttpState;

pub async fn health(State(state): State<HttpState>) -> (StatusCode, &'static str) {
    let ok = async {
        let mut conn = state.app.pool.get().await.ok()?;
        diesel::sql_query("SELECT 1").execute(&mut conn).await.ok()
    };
    match tokio::time::timeout(std::time::Duration::from_secs(3), ok).await {
        Ok(Some(_)) => (StatusCode::OK, "ok"),
        _ => (StatusCode::SERVICE_UNAVAILABLE, "database unavailable"),
    }
}
