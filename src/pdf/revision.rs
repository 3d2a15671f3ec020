//! An incremental revision written by hand (ISO 32000-1, 7.5.6): the
//! previous bytes unchanged, then the new and changed objects, then a
//! cross-reference section of the previous file's kind and a trailer that
//! points back with /Prev. Writing it ourselves keeps the earlier bytes
//! untouched without re-serialising anything, and tells us the exact
//! offset of every object we write.

use std::collections::BTreeMap;
use std::io::Write;

use lopdf::xref::XrefType;
use lopdf::{Dictionary, Document, Object, ObjectId, Writer};

use crate::pdf::PdfError;

pub struct Revision<'a> {
    prev: &'a [u8],
    document: &'a Document,
    next_id: u32,
    /// Serialised object bodies, in writing order.
    objects: Vec<(ObjectId, Vec<u8>)>,
}

/// The finished file and where each written object starts.
pub struct Written {
    pub bytes: Vec<u8>,
    pub offsets: BTreeMap<u32, usize>,
}

/// The offset of the previous cross-reference section, from the last
/// `startxref` of the file.
pub fn last_startxref(bytes: &[u8]) -> Result<usize, PdfError> {
    let tail_start = bytes.len().saturating_sub(2048);
    let tail = &bytes[tail_start..];
    let at = tail
        .windows(9)
        .rposition(|w| w == b"startxref")
        .ok_or(PdfError::Structure("no startxref"))?;
    let digits: String = tail[at + 9..]
        .iter()
        .skip_while(|b| b.is_ascii_whitespace())
        .take_while(|b| b.is_ascii_digit())
        .map(|&b| char::from(b))
        .collect();
    digits
        .parse()
        .map_err(|_| PdfError::Structure("a malformed startxref"))
}

pub fn serialize(object: &Object) -> Result<Vec<u8>, PdfError> {
    let mut body = Vec::new();
    Writer::write_object(&mut body, object).map_err(io)?;
    Ok(body)
}

impl<'a> Revision<'a> {
    pub fn new(prev: &'a [u8], document: &'a Document) -> Self {
        Self {
            prev,
            document,
            next_id: document.max_id + 1,
            objects: Vec::new(),
        }
    }

    pub fn document(&self) -> &'a Document {
        self.document
    }

    /// A fresh object number.
    pub fn reserve(&mut self) -> ObjectId {
        let id = (self.next_id, 0);
        self.next_id += 1;
        id
    }

    pub fn put(&mut self, id: ObjectId, object: &Object) -> Result<(), PdfError> {
        let body = serialize(object)?;
        self.put_raw(id, body);
        Ok(())
    }

    /// An object whose body the caller serialised (to know offsets inside it).
    pub fn put_raw(&mut self, id: ObjectId, body: Vec<u8>) {
        self.objects.retain(|(existing, _)| *existing != id);
        self.objects.push((id, body));
    }

    pub fn finish(self) -> Result<Written, PdfError> {
        let prev_xref = last_startxref(self.prev)?;
        let written: usize = self.objects.iter().map(|(_, b)| b.len() + 32).sum();
        let mut out = Vec::with_capacity(self.prev.len() + written + 1024);
        out.extend_from_slice(self.prev);
        if !self.prev.ends_with(b"\n") {
            out.push(b'\n');
        }
        let mut offsets = BTreeMap::new();
        for ((number, generation), body) in &self.objects {
            offsets.insert(*number, out.len());
            writeln!(out, "{number} {generation} obj").map_err(io)?;
            out.extend_from_slice(body);
            out.extend_from_slice(b"\nendobj\n");
        }
        let mut trailer = Dictionary::new();
        for key in [&b"Root"[..], b"Info", b"ID"] {
            if let Ok(value) = self.document.trailer.get(key) {
                trailer.set(key.to_vec(), value.clone());
            }
        }
        trailer.set("Prev", Object::Integer(prev_xref as i64));
        match self.document.reference_table.cross_reference_type {
            XrefType::CrossReferenceTable => {
                let size = self.next_id.max(self.document.max_id + 1);
                trailer.set("Size", Object::Integer(i64::from(size)));
                let xref_at = out.len();
                out.extend_from_slice(b"xref\n0 1\n0000000000 65535 f \n");
                for (number, offset) in &offsets {
                    write!(out, "{number} 1\n{offset:010} 00000 n \n").map_err(io)?;
                }
                out.extend_from_slice(b"trailer\n");
                out.extend_from_slice(&serialize(&Object::Dictionary(trailer))?);
                write!(out, "\nstartxref\n{xref_at}\n%%EOF\n").map_err(io)?;
            }
            XrefType::CrossReferenceStream => {
                let xref_id = self.next_id;
                let xref_at = out.len();
                offsets.insert(xref_id, xref_at);
                let mut index = Vec::new();
                let mut data = Vec::with_capacity(offsets.len() * 7);
                for (number, offset) in &offsets {
                    index.push(Object::Integer(i64::from(*number)));
                    index.push(Object::Integer(1));
                    let offset = u32::try_from(*offset)
                        .map_err(|_| PdfError::Structure("the file is too large"))?;
                    data.push(1u8);
                    data.extend_from_slice(&offset.to_be_bytes());
                    data.extend_from_slice(&[0, 0]);
                }
                trailer.set("Type", Object::Name(b"XRef".to_vec()));
                trailer.set("Size", Object::Integer(i64::from(xref_id + 1)));
                trailer.set("W", Object::Array(vec![1.into(), 4.into(), 2.into()]));
                trailer.set("Index", Object::Array(index));
                trailer.set("Length", Object::Integer(data.len() as i64));
                writeln!(out, "{xref_id} 0 obj").map_err(io)?;
                out.extend_from_slice(&serialize(&Object::Dictionary(trailer))?);
                out.extend_from_slice(b"\nstream\n");
                out.extend_from_slice(&data);
                out.extend_from_slice(b"\nendstream\nendobj\n");
                write!(out, "startxref\n{xref_at}\n%%EOF\n").map_err(io)?;
            }
        }
        Ok(Written {
            bytes: out,
            offsets,
        })
    }
}

fn io(error: std::io::Error) -> PdfError {
    PdfError::Unreadable(error.to_string())
}
