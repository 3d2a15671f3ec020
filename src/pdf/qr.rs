//! Per-page QR codes (防抽页): a vector QR code (filled rectangles, no
//! raster) in the bottom-right margin of every page, each encoding its own
//! page's verification URL, so a swapped or removed page shows.

use lopdf::Document;
use qrcode::{Color, EcLevel, QrCode};

use crate::pdf::PdfError;
use crate::pdf::fill::append_content;
use crate::pdf::input::page_sizes;
use crate::pdf::revision::Revision;

/// Distance from the page's right and bottom edges, in points.
const MARGIN: f32 = 12.0;
/// White modules around the code, as the standard asks.
const QUIET_ZONE: usize = 2;

/// The drawing operators of a QR code of `size` points at (x, y).
pub fn qr_operators(text: &str, x: f32, y: f32, size: f32) -> Result<Vec<u8>, PdfError> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)
        .map_err(|_| PdfError::Structure("the QR code text is too long"))?;
    let modules = code.width();
    let colors = code.to_colors();
    let step = size / (modules + 2 * QUIET_ZONE) as f32;
    let mut out = format!("q 1 g {x:.3} {y:.3} {size:.3} {size:.3} re f 0 g\n");
    for (i, color) in colors.iter().enumerate() {
        if *color != Color::Dark {
            continue;
        }
        let (column, row) = (i % modules, i / modules);
        let left = x + (column + QUIET_ZONE) as f32 * step;
        // Row 0 is the top of the code; PDF's y grows upwards.
        let bottom = y + size - (row + QUIET_ZONE + 1) as f32 * step;
        out.push_str(&format!("{left:.3} {bottom:.3} {step:.3} {step:.3} re\n"));
    }
    out.push_str("f Q\n");
    Ok(out.into_bytes())
}

/// Appends a revision with `urls[i]` as a QR code of `size` points on page
/// i, for every page.
pub fn add_page_codes(
    pdf: &[u8],
    document: &Document,
    urls: &[String],
    size: f32,
) -> Result<Vec<u8>, PdfError> {
    let sizes = page_sizes(document)?;
    if urls.len() != sizes.len() {
        return Err(PdfError::Structure("one QR code per page"));
    }
    let pages = document.get_pages();
    let mut revision = Revision::new(pdf, document);
    for ((index, (width, _)), url) in sizes.iter().enumerate().zip(urls) {
        let number = u32::try_from(index + 1).map_err(|_| PdfError::NoSuchPage(index + 1))?;
        let page_id = *pages.get(&number).ok_or(PdfError::NoSuchPage(index + 1))?;
        let content = qr_operators(url, width - MARGIN - size, MARGIN, size)?;
        append_content(&mut revision, page_id, content, None)?;
    }
    Ok(revision.finish()?.bytes)
}
