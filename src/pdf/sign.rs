//! A signature field in a new revision, with a placeholder for its CMS:
//! `prepare` writes the revision and fixes the ByteRange, the caller signs
//! `digest()` (or timestamps it), `embed` writes the result into the gap.

use std::collections::BTreeMap;

use crate::pki::algorithms::Digest;
use chrono::{DateTime, Utc};
use lopdf::{Dictionary, Document, Object, ObjectId, Stream};

use crate::pdf::PdfError;
use crate::pdf::fill::{OwnedFieldText, text_appearances};
use crate::pdf::revision::Revision;

/// Room for the CMS: a P-256 signature with two certificates and a
/// timestamp token takes about 3.1 KB.
pub const DEFAULT_RESERVED: usize = 8192;

pub enum SignatureKind {
    /// PAdES: ETSI.CAdES.detached; the time goes into /M (never into the CMS).
    Cades { signing_time: DateTime<Utc> },
    /// A document timestamp (ETSI.RFC3161) over the whole revision.
    DocumentTimestamp,
}

/// What the widget shows: a form XObject of `size` with this content stream
/// and resources (the stamp images), placed at `origin` on its page.
pub struct Appearance {
    pub origin: (f32, f32),
    pub size: (f32, f32),
    pub content: Vec<u8>,
    pub resources: Dictionary,
    /// The XObjects the resources refer to, written with the revision.
    pub objects: Vec<(String, Stream)>,
}

pub struct FieldSpec<'a> {
    /// The field's partial name (/T), unique in the document.
    pub name: &'a str,
    /// 0-based page of the widget.
    pub page: usize,
    pub kind: SignatureKind,
    /// None: an invisible signature.
    pub appearance: Option<Appearance>,
    /// More stamps in the same revision, by 0-based page (the slices of a
    /// cross-page seal, seals at further slots).
    pub stamps: Vec<(usize, Appearance)>,
    /// Values the signer completed, drawn in their boxes as widgets of the
    /// same field.
    pub texts: Vec<OwnedFieldText>,
}

pub struct Prepared {
    bytes: Vec<u8>,
    /// Offset of the `<` that opens /Contents.
    contents_at: usize,
    reserved: usize,
    byte_range: [usize; 4],
}

/// `D:YYYYMMDDHHmmSS+00'00'`.
pub fn pdf_date(at: DateTime<Utc>) -> String {
    format!("D:{}+00'00'", at.format("%Y%m%d%H%M%S"))
}

const BYTE_RANGE_PLACEHOLDER: &[u8] = b"[0 0000000000 0000000000 0000000000]";

fn sig_body(kind: &SignatureKind, reserved: usize) -> (Vec<u8>, usize, usize) {
    let mut body = Vec::with_capacity(reserved * 2 + 256);
    match kind {
        SignatureKind::Cades { signing_time } => {
            body.extend_from_slice(
                b"<</Type/Sig/Filter/Adobe.PPKLite/SubFilter/ETSI.CAdES.detached/M(",
            );
            body.extend_from_slice(pdf_date(*signing_time).as_bytes());
            body.extend_from_slice(b")");
        }
        SignatureKind::DocumentTimestamp => {
            body.extend_from_slice(
                b"<</Type/DocTimeStamp/Filter/Adobe.PPKLite/SubFilter/ETSI.RFC3161",
            );
        }
    }
    body.extend_from_slice(b"/ByteRange");
    let byte_range_at = body.len();
    body.extend_from_slice(BYTE_RANGE_PLACEHOLDER);
    body.extend_from_slice(b"/Contents");
    let contents_at = body.len();
    body.push(b'<');
    body.resize(body.len() + reserved * 2, b'0');
    body.extend_from_slice(b">>>");
    (body, byte_range_at, contents_at)
}

/// The page's object id (0-based index).
fn page_id(document: &Document, page: usize) -> Result<ObjectId, PdfError> {
    let number = u32::try_from(page + 1).map_err(|_| PdfError::NoSuchPage(page + 1))?;
    document
        .get_pages()
        .get(&number)
        .copied()
        .ok_or(PdfError::NoSuchPage(page + 1))
}

/// Appends `item` to the array at `key` of `dict` (inline or indirect),
/// writing whatever changes into the revision. Returns whether `dict`
/// itself changed.
fn append_to_array(
    revision: &mut Revision<'_>,
    dict: &mut Dictionary,
    key: &[u8],
    new_items: Vec<Object>,
) -> Result<bool, PdfError> {
    match dict.get(key) {
        Ok(Object::Reference(array_id)) => {
            let array_id = *array_id;
            let mut array = match revision.document().get_object(array_id)? {
                Object::Array(items) => items.clone(),
                _ => return Err(PdfError::Structure("an array reference that is no array")),
            };
            array.extend(new_items);
            revision.put(array_id, &Object::Array(array))?;
            Ok(false)
        }
        Ok(Object::Array(items)) => {
            let mut items = items.clone();
            items.extend(new_items);
            dict.set(key.to_vec(), Object::Array(items));
            Ok(true)
        }
        Ok(_) => Err(PdfError::Structure("an entry that should be an array")),
        Err(_) => {
            dict.set(key.to_vec(), Object::Array(new_items));
            Ok(true)
        }
    }
}

/// Writes an appearance's images and form XObject; its rectangle on the
/// page and the form's reference. None draws an empty, invisible box.
fn write_appearance(
    revision: &mut Revision<'_>,
    appearance: Option<&Appearance>,
) -> Result<([f32; 4], ObjectId), PdfError> {
    let (rect, stream) = match appearance {
        Some(appearance) => {
            let mut resources = appearance.resources.clone();
            let mut xobjects = Dictionary::new();
            for (name, image) in &appearance.objects {
                let mut image = image.clone();
                if let Ok(Object::Stream(mask)) = image.dict.get(b"SMask") {
                    let mask = Object::Stream(mask.clone());
                    let mask_id = revision.reserve();
                    revision.put(mask_id, &mask)?;
                    image.dict.set("SMask", Object::Reference(mask_id));
                }
                let id = revision.reserve();
                revision.put(id, &Object::Stream(image))?;
                xobjects.set(name.as_bytes().to_vec(), Object::Reference(id));
            }
            if !xobjects.is_empty() {
                resources.set("XObject", Object::Dictionary(xobjects));
            }
            let (x, y) = appearance.origin;
            let (w, h) = appearance.size;
            let mut dict = Dictionary::new();
            dict.set("Type", Object::Name(b"XObject".to_vec()));
            dict.set("Subtype", Object::Name(b"Form".to_vec()));
            dict.set(
                "BBox",
                Object::Array(vec![0.into(), 0.into(), w.into(), h.into()]),
            );
            dict.set("Resources", Object::Dictionary(resources));
            (
                [x, y, x + w, y + h],
                Stream::new(dict, appearance.content.clone()),
            )
        }
        None => {
            let mut dict = Dictionary::new();
            dict.set("Type", Object::Name(b"XObject".to_vec()));
            dict.set("Subtype", Object::Name(b"Form".to_vec()));
            dict.set(
                "BBox",
                Object::Array(vec![0.into(), 0.into(), 0.into(), 0.into()]),
            );
            ([0.0; 4], Stream::new(dict, Vec::new()))
        }
    };
    let id = revision.reserve();
    revision.put(id, &Object::Stream(stream))?;
    Ok((rect, id))
}

/// Writes the revision with the signature field and its placeholder.
pub fn prepare(
    pdf: &[u8],
    document: &Document,
    spec: &FieldSpec<'_>,
    reserved: usize,
) -> Result<Prepared, PdfError> {
    let mut revision = Revision::new(pdf, document);
    let page_ref = page_id(document, spec.page)?;
    let sig_id = revision.reserve();
    let widget_id = revision.reserve();
    let (rect, ap_id) = write_appearance(&mut revision, spec.appearance.as_ref())?;
    let mut annotations: BTreeMap<ObjectId, Vec<Object>> = BTreeMap::new();
    annotations
        .entry(page_ref)
        .or_default()
        .push(Object::Reference(widget_id));
    let borrowed: Vec<_> = spec.texts.iter().map(OwnedFieldText::borrowed).collect();
    let texts = if borrowed.is_empty() {
        Vec::new()
    } else {
        text_appearances(&mut revision, &borrowed)?
    };
    // With stamps elsewhere (further slots, the slices of a cross-page
    // seal, completed values) the signature field gets one widget per
    // stamp besides its main one, so the revision only adds a signature
    // field: validators accept that after earlier signatures, where loose
    // annotations or new page content would not be.
    let field_id = if spec.stamps.is_empty() && texts.is_empty() {
        widget_id
    } else {
        revision.reserve()
    };
    let mut kids = Vec::new();
    let widget_dict = |page_ref: ObjectId, rect: [f32; 4], ap_id: ObjectId| {
        let mut widget = Dictionary::new();
        widget.set("Type", Object::Name(b"Annot".to_vec()));
        widget.set("Subtype", Object::Name(b"Widget".to_vec()));
        widget.set("P", Object::Reference(page_ref));
        widget.set(
            "Rect",
            Object::Array(rect.iter().map(|v| Object::Real(*v)).collect()),
        );
        // Print and Locked.
        widget.set("F", Object::Integer(132));
        let mut ap = Dictionary::new();
        ap.set("N", Object::Reference(ap_id));
        widget.set("AP", Object::Dictionary(ap));
        widget
    };
    // Each widget also carries the field's /V: poppler (22.12) takes a kid
    // with /Parent for a field of its own and reads /V from it, so without
    // it pdfsig reports every widget as an unsigned field. Other readers
    // ignore the key on a widget; our verifier reads signatures from /FT
    // /Sig fields only.
    for (page, appearance) in spec.stamps.iter().chain(&texts) {
        let stamp_page = page_id(document, *page)?;
        let (stamp_rect, stamp_ap) = write_appearance(&mut revision, Some(appearance))?;
        let mut widget = widget_dict(stamp_page, stamp_rect, stamp_ap);
        widget.set("Parent", Object::Reference(field_id));
        widget.set("V", Object::Reference(sig_id));
        let id = revision.reserve();
        revision.put(id, &Object::Dictionary(widget))?;
        annotations
            .entry(stamp_page)
            .or_default()
            .push(Object::Reference(id));
        kids.push(Object::Reference(id));
    }
    let mut widget = widget_dict(page_ref, rect, ap_id);
    let mut field = if kids.is_empty() {
        Dictionary::new()
    } else {
        widget.set("Parent", Object::Reference(field_id));
        widget.set("V", Object::Reference(sig_id));
        revision.put(widget_id, &Object::Dictionary(widget.clone()))?;
        kids.insert(0, Object::Reference(widget_id));
        let mut field = Dictionary::new();
        field.set("Kids", Object::Array(kids));
        field
    };
    field.set("FT", Object::Name(b"Sig".to_vec()));
    field.set("T", lopdf::text_string(spec.name));
    field.set("V", Object::Reference(sig_id));
    if field_id == widget_id {
        for (key, value) in widget.iter() {
            field.set(key.clone(), value.clone());
        }
    }
    revision.put(field_id, &Object::Dictionary(field))?;

    for (page_ref, refs) in annotations {
        let mut page = document.get_dictionary(page_ref)?.clone();
        if append_to_array(&mut revision, &mut page, b"Annots", refs)? {
            revision.put(page_ref, &Object::Dictionary(page))?;
        }
    }

    let root_id = document
        .trailer
        .get(b"Root")
        .and_then(Object::as_reference)
        .map_err(|_| PdfError::Structure("no catalog"))?;
    let mut catalog = document.get_dictionary(root_id)?.clone();
    let mut catalog_changed = false;
    match catalog.get(b"AcroForm") {
        Ok(Object::Reference(form_id)) => {
            let form_id = *form_id;
            let mut form = document.get_dictionary(form_id)?.clone();
            append_to_array(
                &mut revision,
                &mut form,
                b"Fields",
                vec![Object::Reference(field_id)],
            )?;
            form.set("SigFlags", Object::Integer(3));
            revision.put(form_id, &Object::Dictionary(form))?;
        }
        Ok(Object::Dictionary(form)) => {
            let mut form = form.clone();
            append_to_array(
                &mut revision,
                &mut form,
                b"Fields",
                vec![Object::Reference(field_id)],
            )?;
            form.set("SigFlags", Object::Integer(3));
            catalog.set("AcroForm", Object::Dictionary(form));
            catalog_changed = true;
        }
        _ => {
            let mut form = Dictionary::new();
            form.set("Fields", Object::Array(vec![Object::Reference(field_id)]));
            form.set("SigFlags", Object::Integer(3));
            catalog.set("AcroForm", Object::Dictionary(form));
            catalog_changed = true;
        }
    }
    if catalog_changed {
        revision.put(root_id, &Object::Dictionary(catalog))?;
    }

    let (body, byte_range_in_body, contents_in_body) = sig_body(&spec.kind, reserved);
    revision.put_raw(sig_id, body);
    let written = revision.finish()?;
    let object_at = *written
        .offsets
        .get(&sig_id.0)
        .ok_or(PdfError::Structure("the signature object was not written"))?;
    let header = format!("{} 0 obj\n", sig_id.0).len();
    let byte_range_at = object_at + header + byte_range_in_body;
    let contents_at = object_at + header + contents_in_body;
    let mut bytes = written.bytes;
    let gap_end = contents_at + reserved * 2 + 2;
    let byte_range = [0, contents_at, gap_end, bytes.len() - gap_end];
    let text = format!("[0 {} {} {}]", byte_range[1], byte_range[2], byte_range[3]);
    if text.len() > BYTE_RANGE_PLACEHOLDER.len() {
        return Err(PdfError::Structure("the file is too large"));
    }
    let mut padded = text.into_bytes();
    // Spaces before the closing bracket keep the object's length.
    let close = padded.pop().unwrap_or(b']');
    padded.resize(BYTE_RANGE_PLACEHOLDER.len() - 1, b' ');
    padded.push(close);
    bytes[byte_range_at..byte_range_at + padded.len()].copy_from_slice(&padded);
    Ok(Prepared {
        bytes,
        contents_at,
        reserved,
        byte_range,
    })
}

impl Prepared {
    pub fn byte_range(&self) -> [usize; 4] {
        self.byte_range
    }

    /// The digest of the two signed ranges.
    pub fn digest(&self, algorithm: Digest) -> Result<Vec<u8>, PdfError> {
        let [a, b, c, d] = self.byte_range;
        algorithm
            .hash(&[&self.bytes[a..a + b], &self.bytes[c..c + d]])
            .map_err(crypto)
    }

    /// Writes the CMS (hex) into the gap; the rest stays zero padding.
    pub fn embed(mut self, cms: &[u8]) -> Result<Vec<u8>, PdfError> {
        if cms.len() > self.reserved {
            return Err(PdfError::SignatureTooLarge {
                needed: cms.len(),
                reserved: self.reserved,
            });
        }
        let hex = hex::encode_upper(cms);
        let start = self.contents_at + 1;
        self.bytes[start..start + hex.len()].copy_from_slice(hex.as_bytes());
        Ok(self.bytes)
    }
}

fn crypto(error: openssl::error::ErrorStack) -> PdfError {
    PdfError::Unreadable(format!("hash: {error}"))
}
