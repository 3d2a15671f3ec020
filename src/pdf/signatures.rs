//! Finding the signatures of a document: every signature field's value
//! dictionary, its ByteRange and the DER inside its zero-padded /Contents.

use lopdf::{Dictionary, Document, Object, ObjectId};

use crate::pdf::PdfError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubFilter {
    /// PAdES (ETSI.CAdES.detached).
    Cades,
    /// A document timestamp (ETSI.RFC3161).
    DocumentTimestamp,
    Other,
}

#[derive(Debug, Clone)]
pub struct FoundSignature {
    pub field: String,
    pub object: Option<ObjectId>,
    pub sub_filter: SubFilter,
    /// As the dictionary states it; checked by the verifier.
    pub byte_range: Vec<i64>,
    /// The DER object at the start of /Contents (the padding cut off).
    pub cms: Vec<u8>,
    /// /M, if present.
    pub claimed_time: Option<String>,
}

/// The length of the DER TLV at the start of `bytes`.
fn der_length(bytes: &[u8]) -> Option<usize> {
    let rest = bytes.get(1..)?;
    let (&len0, rest) = rest.split_first()?;
    if len0 < 0x80 {
        return Some(2 + usize::from(len0));
    }
    let count = usize::from(len0 & 0x7F);
    if count == 0 || count > 4 || rest.len() < count {
        return None;
    }
    let mut len = 0usize;
    for &b in &rest[..count] {
        len = (len << 8) | usize::from(b);
    }
    Some(2 + count + len).filter(|total| *total <= bytes.len())
}

fn sig_dict<'a>(
    document: &'a Document,
    field: &'a Dictionary,
) -> Option<(Option<ObjectId>, &'a Dictionary)> {
    match field.get(b"V").ok()? {
        Object::Reference(id) => Some((Some(*id), document.get_dictionary(*id).ok()?)),
        Object::Dictionary(dict) => Some((None, dict)),
        _ => None,
    }
}

/// Every signature field with a value, in /Fields order (nested kids included).
pub fn find(document: &Document) -> Result<Vec<FoundSignature>, PdfError> {
    let catalog = document.catalog()?;
    let form = match catalog.get(b"AcroForm") {
        Ok(object) => document.dereference(object)?.1,
        Err(_) => return Ok(Vec::new()),
    };
    let Object::Dictionary(form) = form else {
        return Ok(Vec::new());
    };
    let mut pending: Vec<(Object, usize)> = match form.get(b"Fields") {
        Ok(fields) => match document.dereference(fields)?.1 {
            Object::Array(items) => items.iter().rev().map(|i| (i.clone(), 0)).collect(),
            _ => Vec::new(),
        },
        Err(_) => Vec::new(),
    };
    let mut found = Vec::new();
    let mut visited = 0usize;
    while let Some((item, depth)) = pending.pop() {
        visited += 1;
        if depth > 32 || visited > 10_000 {
            return Err(PdfError::Structure("the form fields nest too deeply"));
        }
        let Object::Dictionary(field) = document.dereference(&item)?.1 else {
            continue;
        };
        if let Ok(Object::Array(kids)) = field
            .get(b"Kids")
            .and_then(|k| Ok(document.dereference(k)?.1))
        {
            for kid in kids.iter().rev() {
                pending.push((kid.clone(), depth + 1));
            }
        }
        let is_sig = matches!(field.get(b"FT"), Ok(Object::Name(n)) if n == b"Sig");
        if !is_sig {
            continue;
        }
        let Some((object, sig)) = sig_dict(document, field) else {
            continue;
        };
        let sub_filter = match sig.get(b"SubFilter") {
            Ok(Object::Name(n)) if n == b"ETSI.CAdES.detached" => SubFilter::Cades,
            Ok(Object::Name(n)) if n == b"ETSI.RFC3161" => SubFilter::DocumentTimestamp,
            _ => SubFilter::Other,
        };
        let byte_range = match sig.get(b"ByteRange") {
            Ok(Object::Array(values)) => values.iter().filter_map(|v| v.as_i64().ok()).collect(),
            _ => Vec::new(),
        };
        let contents = sig.get(b"Contents").and_then(Object::as_str).unwrap_or(&[]);
        let cms = der_length(contents)
            .map(|len| contents[..len].to_vec())
            .unwrap_or_default();
        let field_name = field
            .get(b"T")
            .ok()
            .and_then(|t| lopdf::decode_text_string(t).ok())
            .unwrap_or_default();
        let claimed_time = sig
            .get(b"M")
            .ok()
            .and_then(|m| m.as_str().ok())
            .map(|m| String::from_utf8_lossy(m).into_owned());
        found.push(FoundSignature {
            field: field_name,
            object,
            sub_filter,
            byte_range,
            cms,
            claimed_time,
        });
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::der_length;

    #[test]
    fn der_lengths() {
        assert_eq!(der_length(&[0x30, 0x03, 1, 2, 3, 0, 0]), Some(5));
        assert_eq!(der_length(&[0x30, 0x82, 0x00, 0x02, 9, 9, 0]), Some(6));
        assert_eq!(der_length(&[0x30, 0x82, 0xFF, 0xFF, 9]), None);
        assert_eq!(der_length(&[0x30]), None);
        assert_eq!(der_length(&[]), None);
    }
}
