//! The PDF engine: pure and synchronous, bytes and parameters in, bytes
//! and reports out (no database, no async). Callers run it on
//! `spawn_blocking`.
//!
//! - `input`: the checks every accepted PDF passes (size, encryption,
//!   active content, parser limits).
//! - `fill`, `font`: field values drawn into their boxes with embedded
//!   font subsets.
//! - `revision`: appending an incremental revision by hand, so that the
//!   previous bytes stay byte-identical and the offsets of what we write are
//!   known exactly.
//! - `sign`: signature fields and their placeholders (PAdES
//!   ETSI.CAdES.detached, document timestamps ETSI.RFC3161).
//! - `signatures`: finding the signature fields of a document.
//! - `ltv`: the document security store (PAdES B-LT).
//! - `outline`: dashed boxes a template preview draws.
//! - `qr`: per-page QR codes drawn as vectors.
//! - `stamp`: seal and signature images (PNG with alpha) as appearances.
//! - `verify`: the report on every signature of a document.

pub mod fill;
pub mod font;
pub mod input;
pub mod ltv;
pub mod outline;
pub mod qr;
pub mod revision;
pub mod sign;
pub mod signatures;
pub mod stamp;
pub mod verify;

#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error("the file is larger than {max} MB")]
    TooLarge { max: usize },
    #[error("the file is not a PDF")]
    NotPdf,
    #[error("the PDF cannot be read: {0}")]
    Unreadable(String),
    #[error("encrypted PDFs are not accepted")]
    Encrypted,
    #[error("the PDF carries active content ({0}), which is not accepted")]
    ActiveContent(&'static str),
    #[error("the PDF has {pages} pages; at most {max} are accepted")]
    TooManyPages { pages: usize, max: usize },
    #[error("the PDF has no pages")]
    NoPages,
    #[error("page {0} does not exist")]
    NoSuchPage(usize),
    #[error("the PDF structure is not as expected: {0}")]
    Structure(&'static str),
    #[error("the value of {field} does not fit its box, even at the smallest font size")]
    TextDoesNotFit { field: String },
    #[error("the value of {field} has a character the fonts cannot draw: {character:?}")]
    Undrawable { field: String, character: char },
    #[error("the signature does not fit its reserved space ({needed} > {reserved} bytes)")]
    SignatureTooLarge { needed: usize, reserved: usize },
}

impl From<lopdf::Error> for PdfError {
    fn from(error: lopdf::Error) -> Self {
        PdfError::Unreadable(error.to_string())
    }
}
