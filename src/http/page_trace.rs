//! `GET /t/{code}`: what a phone shows after scanning a page's QR code
//! (防抽页): the document, its task and the page number, in Chinese.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::domain::page_codes;
use crate::error::AppError;
use crate::http::HttpState;

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn page(status: StatusCode, body: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"zh-CN\">\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>页面溯源</title>\n<body style=\"font-family: sans-serif; padding: 16px\">\n\
         <h1>页面溯源</h1>\n{body}\n</body>\n</html>\n"
    );
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        html,
    )
        .into_response()
}

pub async fn show(State(state): State<HttpState>, Path(code): Path<String>) -> Response {
    let traced = async {
        let mut conn = state.app.pool.get().await?;
        page_codes::trace(&mut conn, &state.app.services(), &code).await
    }
    .await;
    match traced {
        Ok(trace) => page(
            StatusCode::OK,
            &format!(
                "<p>本页属于电子合同《{}》（签署任务：{}）。</p>\n<p>第 {} 页，共 {} 页。</p>\n\
                 <p>文件编号：{}</p>",
                escape(&trace.document_name),
                escape(&trace.task_title),
                trace.page,
                trace.page_count,
                trace.document_id
            ),
        ),
        Err(AppError::NotFound(_)) => page(
            StatusCode::NOT_FOUND,
            "<p>二维码无效：未找到对应的合同页面。请确认扫描的是本平台出具的合同。</p>",
        ),
        Err(e) => e.into_response(),
    }
}
