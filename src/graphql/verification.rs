//! Document verification in GraphQL: `verifyDocument` takes a PDF, no login
//! needed, and reports every signature.

use async_graphql::{Context, Enum, ID, Object, Result, SimpleObject, Upload};
use chrono::{DateTime, Utc};

use crate::domain::verification;
use crate::graphql::context::{ContextExt, read_upload};
use crate::pdf::input::Limits;
use crate::pdf::verify;

/// ETSI EN 319 102-1 verdicts.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum Verdict {
    TotalPassed,
    TotalFailed,
    Indeterminate,
}

impl From<verify::Verdict> for Verdict {
    fn from(verdict: verify::Verdict) -> Self {
        match verdict {
            verify::Verdict::TotalPassed => Self::TotalPassed,
            verify::Verdict::TotalFailed => Self::TotalFailed,
            verify::Verdict::Indeterminate => Self::Indeterminate,
        }
    }
}

/// One signature (or document timestamp) of the document.
#[derive(SimpleObject)]
pub struct SignatureCheck {
    verdict: Verdict,
    sub_indication: Option<String>,
    signer_name: String,
    /// The enterprise for an enterprise certificate; null for a person.
    enterprise_name: Option<String>,
    certificate_subject: String,
    serial_number: String,
    signed_at: DateTime<Utc>,
    timestamped_at: Option<DateTime<Utc>>,
    digest_valid: bool,
    signature_valid: bool,
    chain_trusted: bool,
    certificate_valid_at_signing: bool,
    covers_whole_revision: bool,
    /// A document timestamp (ETSI.RFC3161) rather than a party's signature.
    document_timestamp: bool,
}

#[derive(SimpleObject)]
pub struct VerificationReport {
    verdict: Verdict,
    sub_indication: Option<String>,
    /// Signed on this platform; only such documents can pass.
    platform_document: bool,
    /// The platform's document, once documents are stored (null until then).
    document_id: Option<ID>,
    modified_after_last_signature: bool,
    signatures: Vec<SignatureCheck>,
}

/// Persons' certificates carry this organization.
const PERSON_ORGANIZATION: &str = "个人用户";

impl From<verify::Report> for VerificationReport {
    fn from(report: verify::Report) -> Self {
        Self {
            verdict: report.verdict.into(),
            sub_indication: report.sub_indication.map(str::to_owned),
            platform_document: report.platform_document,
            document_id: None,
            modified_after_last_signature: report.modified_after_last_signature,
            signatures: report
                .signatures
                .into_iter()
                .map(|s| SignatureCheck {
                    verdict: s.verdict.into(),
                    sub_indication: s.sub_indication.map(str::to_owned),
                    signer_name: s.signer_name,
                    enterprise_name: s.organization.filter(|o| o != PERSON_ORGANIZATION),
                    certificate_subject: s.certificate_subject,
                    serial_number: s.serial_hex,
                    signed_at: s
                        .claimed_time
                        .or(s.timestamped_at)
                        .unwrap_or(DateTime::UNIX_EPOCH),
                    timestamped_at: s.timestamped_at,
                    digest_valid: s.digest_valid,
                    signature_valid: s.signature_valid,
                    chain_trusted: s.chain_trusted,
                    certificate_valid_at_signing: s.certificate_valid_at_signing,
                    covers_whole_revision: s.covers_whole_revision,
                    document_timestamp: s.document_timestamp,
                })
                .collect(),
        }
    }
}

#[derive(Default)]
pub struct VerificationMutation;

#[Object]
impl VerificationMutation {
    /// Checks every signature of an uploaded PDF (no login needed): digests,
    /// signatures, the chain to the platform root at the timestamp's time,
    /// revocation, timestamps, and changes after the last signature.
    async fn verify_document(&self, ctx: &Context<'_>, file: Upload) -> Result<VerificationReport> {
        let (_, bytes) = read_upload(ctx, "file", &file, Limits::default().max_bytes).await?;
        let mut conn = ctx.conn().await?;
        let report = verification::verify_document(&mut conn, &ctx.app().services(), bytes).await?;
        Ok(report.into())
    }
}
