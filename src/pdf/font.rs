//! Text in the vendored fonts, embedded as subsets: Chinese from Droid Sans
//! Fallback (Apache-2.0, the seals' font), Latin letters, digits and
//! punctuation from Liberation Sans (OFL-1.1), which the CJK font lacks.
//! Each font becomes a Type0 font with a CIDFontType2 descendant
//! (Identity-H, CIDs = subset glyph ids) and a ToUnicode CMap, so that text
//! extraction returns exactly what was written.

use std::collections::BTreeMap;

use lopdf::{Dictionary, Object, Stream};
use ttf_parser::{Face, GlyphId};

use crate::pdf::PdfError;
use crate::pdf::revision::Revision;

pub const LATIN: &[u8] = include_bytes!("../fonts/LiberationSans-Regular.ttf");
pub const CJK: &[u8] = crate::seal_images::FONT;

const NAMES: [&str; 2] = ["LiberationSans", "DroidSansFallback"];

/// One run of text in one font: (font index, characters with their glyphs).
pub struct Run {
    pub font: usize,
    pub glyphs: Vec<(char, u16)>,
}

pub struct Fonts {
    faces: [Face<'static>; 2],
    /// Used glyphs per font: old glyph id -> the character it shows.
    used: [BTreeMap<u16, char>; 2],
}

impl Fonts {
    pub fn new() -> Result<Self, PdfError> {
        let parse = |data: &'static [u8]| {
            Face::parse(data, 0).map_err(|_| PdfError::Structure("a vendored font is unreadable"))
        };
        Ok(Self {
            faces: [parse(LATIN)?, parse(CJK)?],
            used: [BTreeMap::new(), BTreeMap::new()],
        })
    }

    fn glyph(&self, c: char) -> Option<(usize, u16)> {
        (0..2).find_map(|font| {
            self.faces[font]
                .glyph_index(c)
                .map(|g| (font, g.0))
                .filter(|(_, g)| *g != 0)
        })
    }

    pub fn can_draw(&self, c: char) -> bool {
        c == ' ' || self.glyph(c).is_some()
    }

    /// Advance width of `c` at `size` points.
    pub fn advance(&self, c: char, size: f32) -> f32 {
        match self.glyph(c) {
            Some((font, glyph)) => {
                let face = &self.faces[font];
                let units = face.glyph_hor_advance(GlyphId(glyph)).unwrap_or(0);
                f32::from(units) * size / f32::from(face.units_per_em())
            }
            None => 0.0,
        }
    }

    pub fn width(&self, text: &str, size: f32) -> f32 {
        text.chars().map(|c| self.advance(c, size)).sum()
    }

    /// Splits `text` into runs by font and records the glyphs used.
    pub fn runs(&mut self, text: &str) -> Vec<Run> {
        let mut runs: Vec<Run> = Vec::new();
        for c in text.chars() {
            let Some((font, glyph)) = self.glyph(c) else {
                continue;
            };
            self.used[font].insert(glyph, c);
            match runs.last_mut() {
                Some(run) if run.font == font => run.glyphs.push((c, glyph)),
                _ => runs.push(Run {
                    font,
                    glyphs: vec![(c, glyph)],
                }),
            }
        }
        runs
    }

    /// The resource name of font `index`.
    pub fn resource_name(index: usize) -> String {
        format!("YyqF{index}")
    }

    /// Subsets and writes the used fonts; returns the /Font resources
    /// (name -> reference) and, per font, old glyph id -> CID.
    pub fn embed(
        &self,
        revision: &mut Revision<'_>,
    ) -> Result<(Dictionary, [BTreeMap<u16, u16>; 2]), PdfError> {
        let mut resources = Dictionary::new();
        let mut cids: [BTreeMap<u16, u16>; 2] = [BTreeMap::new(), BTreeMap::new()];
        for font in 0..2 {
            if self.used[font].is_empty() {
                continue;
            }
            let data = if font == 0 { LATIN } else { CJK };
            let mut remapper = subsetter::GlyphRemapper::new();
            remapper.remap(0);
            for glyph in self.used[font].keys() {
                cids[font].insert(*glyph, remapper.remap(*glyph));
            }
            let subset = subsetter::subset(data, 0, &remapper)
                .map_err(|_| PdfError::Structure("the font could not be subset"))?;
            let face = &self.faces[font];
            let scale = 1000.0 / f32::from(face.units_per_em());
            let tag = subset_tag(&self.used[font]);
            let base_font = format!("{tag}+{}", NAMES[font]);

            let mut file_dict = Dictionary::new();
            file_dict.set("Length1", Object::Integer(subset.len() as i64));
            let mut file = Stream::new(file_dict, subset);
            file.compress()?;
            let file_id = revision.reserve();
            revision.put(file_id, &Object::Stream(file))?;

            let bbox = face.global_bounding_box();
            let mut descriptor = Dictionary::new();
            descriptor.set("Type", Object::Name(b"FontDescriptor".to_vec()));
            descriptor.set("FontName", Object::Name(base_font.clone().into_bytes()));
            descriptor.set("Flags", Object::Integer(4));
            descriptor.set(
                "FontBBox",
                Object::Array(
                    [bbox.x_min, bbox.y_min, bbox.x_max, bbox.y_max]
                        .iter()
                        .map(|v| Object::Real(f32::from(*v) * scale))
                        .collect(),
                ),
            );
            descriptor.set("ItalicAngle", Object::Integer(0));
            descriptor.set("Ascent", Object::Real(f32::from(face.ascender()) * scale));
            descriptor.set("Descent", Object::Real(f32::from(face.descender()) * scale));
            descriptor.set(
                "CapHeight",
                Object::Real(f32::from(face.capital_height().unwrap_or(face.ascender())) * scale),
            );
            descriptor.set("StemV", Object::Integer(80));
            descriptor.set("FontFile2", Object::Reference(file_id));
            let descriptor_id = revision.reserve();
            revision.put(descriptor_id, &Object::Dictionary(descriptor))?;

            let mut widths = Vec::new();
            for (glyph, cid) in &cids[font] {
                let advance = face.glyph_hor_advance(GlyphId(*glyph)).unwrap_or(0);
                widths.push(Object::Integer(i64::from(*cid)));
                widths.push(Object::Array(vec![Object::Real(
                    f32::from(advance) * scale,
                )]));
            }
            let mut cid_font = Dictionary::new();
            cid_font.set("Type", Object::Name(b"Font".to_vec()));
            cid_font.set("Subtype", Object::Name(b"CIDFontType2".to_vec()));
            cid_font.set("BaseFont", Object::Name(base_font.clone().into_bytes()));
            let mut system = Dictionary::new();
            system.set("Registry", Object::string_literal("Adobe"));
            system.set("Ordering", Object::string_literal("Identity"));
            system.set("Supplement", Object::Integer(0));
            cid_font.set("CIDSystemInfo", Object::Dictionary(system));
            cid_font.set("FontDescriptor", Object::Reference(descriptor_id));
            cid_font.set("W", Object::Array(widths));
            cid_font.set("CIDToGIDMap", Object::Name(b"Identity".to_vec()));
            let cid_font_id = revision.reserve();
            revision.put(cid_font_id, &Object::Dictionary(cid_font))?;

            let mut cmap =
                Stream::new(Dictionary::new(), to_unicode(&self.used[font], &cids[font]));
            cmap.compress()?;
            let cmap_id = revision.reserve();
            revision.put(cmap_id, &Object::Stream(cmap))?;

            let mut type0 = Dictionary::new();
            type0.set("Type", Object::Name(b"Font".to_vec()));
            type0.set("Subtype", Object::Name(b"Type0".to_vec()));
            type0.set("BaseFont", Object::Name(base_font.into_bytes()));
            type0.set("Encoding", Object::Name(b"Identity-H".to_vec()));
            type0.set(
                "DescendantFonts",
                Object::Array(vec![Object::Reference(cid_font_id)]),
            );
            type0.set("ToUnicode", Object::Reference(cmap_id));
            let type0_id = revision.reserve();
            revision.put(type0_id, &Object::Dictionary(type0))?;
            resources.set(
                Self::resource_name(font).into_bytes(),
                Object::Reference(type0_id),
            );
        }
        Ok((resources, cids))
    }
}

/// Six capital letters naming the subset (ISO 32000-1, 9.6.4).
fn subset_tag(used: &BTreeMap<u16, char>) -> String {
    let mut state: u32 = 0x811C_9DC5;
    for glyph in used.keys() {
        for byte in glyph.to_be_bytes() {
            state = (state ^ u32::from(byte)).wrapping_mul(0x0100_0193);
        }
    }
    (0..6)
        .map(|i| char::from(b'A' + ((state >> (i * 5)) % 26) as u8))
        .collect()
}

/// The ToUnicode CMap: CID -> UTF-16BE of the character it shows.
fn to_unicode(used: &BTreeMap<u16, char>, cids: &BTreeMap<u16, u16>) -> Vec<u8> {
    let mut entries: Vec<(u16, String)> = used
        .iter()
        .filter_map(|(glyph, c)| {
            let cid = cids.get(glyph)?;
            let mut units = [0u16; 2];
            let hex: String = c
                .encode_utf16(&mut units)
                .iter()
                .map(|u| format!("{u:04X}"))
                .collect();
            Some((*cid, hex))
        })
        .collect();
    entries.sort();
    let mut out = String::from(
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n\
         /CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n\
         /CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n\
         1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n",
    );
    for chunk in entries.chunks(100) {
        out.push_str(&format!("{} beginbfchar\n", chunk.len()));
        for (cid, hex) in chunk {
            out.push_str(&format!("<{cid:04X}> <{hex}>\n"));
        }
        out.push_str("endbfchar\n");
    }
    out.push_str("endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n");
    out.into_bytes()
}
