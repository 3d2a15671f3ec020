//! What every PDF we accept must be: within size and parser limits, not
//! encrypted, and without active content (JavaScript, OpenAction, Launch,
//! embedded files).

use lopdf::{Document, LoadOptions, Object};

use crate::pdf::PdfError;

pub struct Limits {
    pub max_bytes: usize,
    pub max_pages: usize,
    pub max_objects: usize,
    pub max_decompressed_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bytes: 20 * 1024 * 1024,
            max_pages: 200,
            max_objects: 200_000,
            max_decompressed_bytes: 64 * 1024 * 1024,
        }
    }
}

/// Parses `bytes` under `limits`.
pub fn load(bytes: &[u8], limits: &Limits) -> Result<Document, PdfError> {
    if bytes.len() > limits.max_bytes {
        return Err(PdfError::TooLarge {
            max: limits.max_bytes / (1024 * 1024),
        });
    }
    if !bytes.starts_with(b"%PDF-") {
        return Err(PdfError::NotPdf);
    }
    let options = LoadOptions {
        max_decompressed_size: Some(limits.max_decompressed_bytes),
        ..LoadOptions::default()
    };
    let document = Document::load_mem_with_options(bytes, options)?;
    if document.is_encrypted() || document.trailer.has(b"Encrypt") {
        return Err(PdfError::Encrypted);
    }
    if document.objects.len() > limits.max_objects {
        return Err(PdfError::Structure("too many objects"));
    }
    Ok(document)
}

/// Refuses active content anywhere in the document.
pub fn refuse_active_content(document: &Document) -> Result<(), PdfError> {
    let catalog = document.catalog()?;
    if catalog.has(b"OpenAction") {
        return Err(PdfError::ActiveContent("OpenAction"));
    }
    if catalog.has(b"AA") {
        return Err(PdfError::ActiveContent("additional actions"));
    }
    if let Ok((_, Object::Dictionary(names))) =
        catalog.get(b"Names").and_then(|n| document.dereference(n))
    {
        if names.has(b"JavaScript") {
            return Err(PdfError::ActiveContent("JavaScript"));
        }
        if names.has(b"EmbeddedFiles") {
            return Err(PdfError::ActiveContent("embedded files"));
        }
    }
    for object in document.objects.values() {
        let dict = match object {
            Object::Dictionary(dict) => dict,
            Object::Stream(stream) => &stream.dict,
            _ => continue,
        };
        if let Ok(Object::Name(action)) = dict.get(b"S") {
            match action.as_slice() {
                b"JavaScript" => return Err(PdfError::ActiveContent("JavaScript")),
                b"Launch" => return Err(PdfError::ActiveContent("Launch")),
                _ => {}
            }
        }
        if dict.has(b"JS") {
            return Err(PdfError::ActiveContent("JavaScript"));
        }
        if let Ok(Object::Name(kind)) = dict.get(b"Type")
            && kind.as_slice() == b"EmbeddedFile"
        {
            return Err(PdfError::ActiveContent("embedded files"));
        }
    }
    Ok(())
}

/// Sizes (width, height in points) of the pages, by their MediaBox.
pub fn page_sizes(document: &Document) -> Result<Vec<(f32, f32)>, PdfError> {
    let mut sizes = Vec::new();
    for (_, id) in document.get_pages() {
        let media_box = inherited(document, id, b"MediaBox")?
            .ok_or(PdfError::Structure("a page without a MediaBox"))?;
        let numbers = match media_box {
            Object::Array(values) => values
                .iter()
                .map(|v| {
                    document
                        .dereference(v)
                        .ok()
                        .and_then(|(_, v)| v.as_float().ok())
                })
                .collect::<Option<Vec<f32>>>(),
            _ => None,
        }
        .filter(|n| n.len() == 4)
        .ok_or(PdfError::Structure("a malformed MediaBox"))?;
        sizes.push((
            (numbers[2] - numbers[0]).abs(),
            (numbers[3] - numbers[1]).abs(),
        ));
    }
    Ok(sizes)
}

/// A page attribute, looked up through the page tree (MediaBox and
/// Resources inherit).
fn inherited<'a>(
    document: &'a Document,
    page: lopdf::ObjectId,
    key: &[u8],
) -> Result<Option<&'a Object>, PdfError> {
    let mut node = document.get_dictionary(page)?;
    for _ in 0..64 {
        if let Ok(value) = node.get(key) {
            return Ok(Some(document.dereference(value)?.1));
        }
        match node.get(b"Parent") {
            Ok(Object::Reference(parent)) => node = document.get_dictionary(*parent)?,
            _ => return Ok(None),
        }
    }
    Err(PdfError::Structure("the page tree is too deep"))
}

/// Everything a template or archive upload must pass; the page sizes.
pub fn accept(bytes: &[u8], limits: &Limits) -> Result<Vec<(f32, f32)>, PdfError> {
    let document = load(bytes, limits)?;
    refuse_active_content(&document)?;
    let sizes = page_sizes(&document)?;
    if sizes.is_empty() {
        return Err(PdfError::NoPages);
    }
    if sizes.len() > limits.max_pages {
        return Err(PdfError::TooManyPages {
            pages: sizes.len(),
            max: limits.max_pages,
        });
    }
    Ok(sizes)
}
