//! Long-term validation data (PAdES B-LT): a revision with a document
//! security store (/DSS) holding the certificates and CRLs that validate
//! every signature, so that the contract still validates after the
//! certificates expire. The document timestamp that follows is a signature
//! field of kind `SignatureKind::DocumentTimestamp`.

use lopdf::{Dictionary, Document, Object, Stream};

use crate::pdf::PdfError;
use crate::pdf::revision::Revision;

/// Appends a revision whose catalog carries /DSS with `certificates` and
/// `crls` (DER), besides whatever an earlier DSS held.
pub fn add_dss(
    pdf: &[u8],
    document: &Document,
    certificates: &[Vec<u8>],
    crls: &[Vec<u8>],
) -> Result<Vec<u8>, PdfError> {
    let mut revision = Revision::new(pdf, document);
    let root_id = document
        .trailer
        .get(b"Root")
        .and_then(Object::as_reference)
        .map_err(|_| PdfError::Structure("no catalog"))?;
    let mut catalog = document.get_dictionary(root_id)?.clone();
    let mut dss = match catalog.get(b"DSS") {
        Ok(object) => match document.dereference(object)?.1 {
            Object::Dictionary(dict) => dict.clone(),
            _ => Dictionary::new(),
        },
        Err(_) => Dictionary::new(),
    };
    for (key, items) in [(&b"Certs"[..], certificates), (b"CRLs", crls)] {
        let mut refs = match dss.get(key) {
            Ok(object) => match document.dereference(object)?.1 {
                Object::Array(existing) => existing.clone(),
                _ => Vec::new(),
            },
            Err(_) => Vec::new(),
        };
        for der in items {
            let id = revision.reserve();
            let mut stream = Stream::new(Dictionary::new(), der.clone());
            stream.compress()?;
            revision.put(id, &Object::Stream(stream))?;
            refs.push(Object::Reference(id));
        }
        dss.set(key.to_vec(), Object::Array(refs));
    }
    let dss_id = revision.reserve();
    revision.put(dss_id, &Object::Dictionary(dss))?;
    catalog.set("DSS", Object::Reference(dss_id));
    revision.put(root_id, &Object::Dictionary(catalog))?;
    Ok(revision.finish()?.bytes)
}
