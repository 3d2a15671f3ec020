//! Document verification (文件验证): anyone may upload a PDF and learn
//! whether its signatures hold, judged against the platform's root and its
//! current CRLs.

use diesel_async::AsyncPgConnection;

use crate::db::enums::KeyPurpose;
use crate::domain::Services;
use crate::domain::certificates::{current_crl, current_root_crl, require};
use crate::error::{AppError, AppResult};
use crate::pdf::PdfError;
use crate::pdf::verify::{self, Report, Trust};

pub async fn verify_document(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    pdf: Vec<u8>,
) -> AppResult<Report> {
    let _permit = svc
        .verifications
        .try_acquire()
        .map_err(|_| AppError::RateLimited {
            message: "too many documents are being verified, try again shortly",
            retry_after_seconds: Some(5),
        })?;
    let root = require(conn, svc, KeyPurpose::Root).await?;
    let root_der = root.cert.to_der().map_err(AppError::internal)?;
    let crls = vec![
        current_crl(conn, svc).await?,
        current_root_crl(conn, svc).await?,
    ];
    tokio::task::spawn_blocking(move || {
        let trust = Trust {
            root: &root_der,
            crls: &crls,
        };
        verify::verify(&pdf, &trust).map_err(|e| match e {
            PdfError::Structure(_) | PdfError::Unreadable(_) => {
                AppError::bad_input("file", "the PDF cannot be read")
            }
            refused => AppError::bad_input("file", refused),
        })
    })
    .await?
}
