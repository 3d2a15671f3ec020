//! Filling a contract (填充合同内容): field values drawn into their boxes on
//! the template's own pages (never a new page), left-aligned and wrapped,
//! shrinking the font down to `MIN_FONT_SIZE` before giving up, in an
//! incremental revision over the template.

use std::collections::BTreeMap;

use lopdf::{Dictionary, Document, Object, ObjectId, Stream};

use crate::pdf::PdfError;
use crate::pdf::font::{Fonts, Run};
use crate::pdf::revision::Revision;
use crate::pdf::sign::Appearance;

pub const MIN_FONT_SIZE: f32 = 6.0;
const LINE_HEIGHT: f32 = 1.2;
/// Where the baseline sits below the line's top, as a share of the size.
const ASCENT: f32 = 0.88;

/// One value in its box; points, origin at the page's bottom left.
pub struct FieldText<'a> {
    /// Named in errors.
    pub key: &'a str,
    /// 0-based page.
    pub page: usize,
    pub x: f32,
    pub y: f32,
    pub width: f32,
    pub height: f32,
    pub font_size: f32,
    pub text: &'a str,
}

/// A `FieldText` owning its strings, to cross into the blocking pool (or
/// to be kept in a signing plan).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct OwnedFieldText {
    pub key: String,
    pub page: usize,
    pub x: f32,
    pub y: f32,
    pub width: f32,
    pub height: f32,
    pub font_size: f32,
    pub text: String,
}

impl OwnedFieldText {
    pub fn borrowed(&self) -> FieldText<'_> {
        FieldText {
            key: &self.key,
            page: self.page,
            x: self.x,
            y: self.y,
            width: self.width,
            height: self.height,
            font_size: self.font_size,
            text: &self.text,
        }
    }
}

/// Greedy wrapping: lines no wider than `width`; None when a single
/// character is wider than the box.
fn wrap(fonts: &Fonts, text: &str, width: f32, size: f32) -> Option<Vec<String>> {
    let mut lines = Vec::new();
    for paragraph in text.split('\n') {
        let mut line = String::new();
        let mut line_width = 0.0;
        for c in paragraph.chars() {
            let advance = fonts.advance(c, size);
            if advance > width {
                return None;
            }
            if line_width + advance > width && !line.is_empty() {
                lines.push(std::mem::take(&mut line));
                line_width = 0.0;
                if c == ' ' {
                    continue;
                }
            }
            line.push(c);
            line_width += advance;
        }
        lines.push(line);
    }
    Some(lines)
}

/// The largest size from the field's own down to the minimum at which the
/// text fits its box, with its lines.
fn layout(fonts: &Fonts, field: &FieldText<'_>) -> Option<(f32, Vec<String>)> {
    let mut size = field.font_size;
    while size >= MIN_FONT_SIZE - f32::EPSILON {
        if let Some(lines) = wrap(fonts, field.text, field.width, size)
            && lines.len() as f32 * size * LINE_HEIGHT
                <= field.height + 0.01 + size * (LINE_HEIGHT - 1.0)
        {
            return Some((size, lines));
        }
        size -= 0.5;
    }
    None
}

struct Placed {
    page: usize,
    x: f32,
    baseline: f32,
    size: f32,
    runs: Vec<Run>,
}

fn content_for(placed: &[&Placed], cids: &[BTreeMap<u16, u16>; 2]) -> Vec<u8> {
    let mut out = String::from("q 0 g\n");
    for line in placed {
        out.push_str(&format!(
            "BT 1 0 0 1 {:.2} {:.2} Tm\n",
            line.x, line.baseline
        ));
        for run in &line.runs {
            let hex: String = run
                .glyphs
                .iter()
                .map(|(_, glyph)| {
                    format!("{:04X}", cids[run.font].get(glyph).copied().unwrap_or(0))
                })
                .collect();
            out.push_str(&format!(
                "/{} {:.2} Tf <{hex}> Tj\n",
                Fonts::resource_name(run.font),
                line.size
            ));
        }
        out.push_str("ET\n");
    }
    out.push_str("Q\n");
    out.into_bytes()
}

/// A page attribute through the page tree.
fn inherited(document: &Document, page: ObjectId, key: &[u8]) -> Option<Object> {
    let mut node = document.get_dictionary(page).ok()?;
    for _ in 0..64 {
        if let Ok(value) = node.get(key) {
            return document.dereference(value).ok().map(|(_, v)| v.clone());
        }
        node = document
            .get_dictionary(node.get(b"Parent").ok()?.as_reference().ok()?)
            .ok()?;
    }
    None
}

/// Whether the value can be drawn in its box at some size down to the
/// minimum; the error `fill` would give otherwise.
pub fn check_fits(fonts: &Fonts, field: &FieldText<'_>) -> Result<(), PdfError> {
    fitted(fonts, field).map(|_| ())
}

/// The size and lines `field` is drawn with, or why it cannot be.
fn fitted(fonts: &Fonts, field: &FieldText<'_>) -> Result<(f32, Vec<String>), PdfError> {
    if let Some(c) = field
        .text
        .chars()
        .find(|c| *c != '\n' && !fonts.can_draw(*c))
    {
        return Err(PdfError::Undrawable {
            field: field.key.to_owned(),
            character: c,
        });
    }
    layout(fonts, field).ok_or_else(|| PdfError::TextDoesNotFit {
        field: field.key.to_owned(),
    })
}

/// Draws every field; a value that cannot be drawn or does not fit is an
/// error naming the field.
pub fn fill(
    pdf: &[u8],
    document: &Document,
    fields: &[FieldText<'_>],
) -> Result<Vec<u8>, PdfError> {
    fill_with_overlay(pdf, document, fields, &BTreeMap::new())
}

/// `fill`, drawing `overlay` (content operators per 0-based page) under
/// the text in the same revision.
pub fn fill_with_overlay(
    pdf: &[u8],
    document: &Document,
    fields: &[FieldText<'_>],
    overlay: &BTreeMap<usize, Vec<u8>>,
) -> Result<Vec<u8>, PdfError> {
    let pages = document.get_pages();
    let mut fonts = Fonts::new()?;
    let mut placed = Vec::new();
    for field in fields {
        if !pages.contains_key(
            &(u32::try_from(field.page)
                .unwrap_or(u32::MAX)
                .saturating_add(1)),
        ) {
            return Err(PdfError::NoSuchPage(field.page + 1));
        }
        let (size, lines) = fitted(&fonts, field)?;
        let top = field.y + field.height;
        for (i, line) in lines.iter().enumerate() {
            let runs = fonts.runs(line);
            placed.push(Placed {
                page: field.page,
                x: field.x,
                baseline: top - size * ASCENT - i as f32 * size * LINE_HEIGHT,
                size,
                runs,
            });
        }
    }
    let mut revision = Revision::new(pdf, document);
    let (font_resources, cids) = fonts.embed(&mut revision)?;
    let mut by_page: BTreeMap<usize, Vec<&Placed>> = BTreeMap::new();
    for line in &placed {
        by_page.entry(line.page).or_default().push(line);
    }
    for page in overlay.keys() {
        by_page.entry(*page).or_default();
    }
    for (page, lines) in by_page {
        let page_id = *pages
            .get(&(u32::try_from(page).unwrap_or(u32::MAX).saturating_add(1)))
            .ok_or(PdfError::NoSuchPage(page + 1))?;
        let mut content = overlay.get(&page).cloned().unwrap_or_default();
        content.extend(content_for(&lines, &cids));
        append_content(&mut revision, page_id, content, Some(&font_resources))?;
    }
    Ok(revision.finish()?.bytes)
}

/// Draws `content` over a page in `revision`: the page's own drawing is
/// wrapped in q/Q so that a graphics state it leaves behind cannot move
/// ours, and `fonts` join its font resources.
pub fn append_content(
    revision: &mut Revision<'_>,
    page_id: ObjectId,
    content: Vec<u8>,
    fonts: Option<&Dictionary>,
) -> Result<(), PdfError> {
    let document = revision.document();
    let mut page_dict = document.get_dictionary(page_id)?.clone();
    let save_id = revision.reserve();
    revision.put(
        save_id,
        &Object::Stream(Stream::new(Dictionary::new(), b"q\n".to_vec())),
    )?;
    let mut ours = Stream::new(Dictionary::new(), {
        let mut bytes = b"Q\n".to_vec();
        bytes.extend(content);
        bytes
    });
    ours.compress()?;
    let ours_id = revision.reserve();
    revision.put(ours_id, &Object::Stream(ours))?;
    let mut contents = vec![Object::Reference(save_id)];
    match page_dict.get(b"Contents") {
        Ok(Object::Reference(id)) => match document.get_object(*id)? {
            Object::Array(items) => contents.extend(items.iter().cloned()),
            _ => contents.push(Object::Reference(*id)),
        },
        Ok(Object::Array(items)) => contents.extend(items.iter().cloned()),
        _ => {}
    }
    contents.push(Object::Reference(ours_id));
    page_dict.set("Contents", Object::Array(contents));
    if let Some(fonts) = fonts {
        let mut resources = match inherited(document, page_id, b"Resources") {
            Some(Object::Dictionary(dict)) => dict,
            _ => Dictionary::new(),
        };
        let mut font_dict = match resources.get(b"Font") {
            Ok(object) => match document.dereference(object)?.1 {
                Object::Dictionary(dict) => dict.clone(),
                _ => Dictionary::new(),
            },
            Err(_) => Dictionary::new(),
        };
        for (name, reference) in fonts.iter() {
            font_dict.set(name.clone(), reference.clone());
        }
        resources.set("Font", Object::Dictionary(font_dict));
        page_dict.set("Resources", Object::Dictionary(resources));
    }
    revision.put(page_id, &Object::Dictionary(page_dict))
}

/// Values as appearances of their own boxes, for widgets: a signer's
/// completed values join that signer's signature revision instead of the
/// page content that earlier signatures cover. The fonts are written into
/// `revision`.
pub fn text_appearances(
    revision: &mut Revision<'_>,
    fields: &[FieldText<'_>],
) -> Result<Vec<(usize, Appearance)>, PdfError> {
    let mut fonts = Fonts::new()?;
    let mut laid = Vec::with_capacity(fields.len());
    for field in fields {
        let (size, lines) = fitted(&fonts, field)?;
        let placed: Vec<Placed> = lines
            .iter()
            .enumerate()
            .map(|(i, line)| Placed {
                page: field.page,
                x: 0.0,
                baseline: field.height - size * ASCENT - i as f32 * size * LINE_HEIGHT,
                size,
                runs: fonts.runs(line),
            })
            .collect();
        laid.push((field, placed));
    }
    let (font_resources, cids) = fonts.embed(revision)?;
    Ok(laid
        .into_iter()
        .map(|(field, placed)| {
            let lines: Vec<&Placed> = placed.iter().collect();
            let mut resources = Dictionary::new();
            resources.set("Font", Object::Dictionary(font_resources.clone()));
            (
                field.page,
                Appearance {
                    origin: (field.x, field.y),
                    size: (field.width, field.height),
                    content: content_for(&lines, &cids),
                    resources,
                    objects: Vec::new(),
                },
            )
        })
        .collect())
}

/// The date formats a field may use; the first is the default.
pub const DATE_FORMATS: [&str; 5] = [
    "yyyy年MM月dd日",
    "yyyy-MM-dd",
    "yyyy/MM/dd",
    "yyyy.MM.dd",
    "yyyy年M月d日",
];

/// A date in one of the allowed formats (`yyyy-MM-dd`, `yyyy年MM月dd日`,
/// `yyyy/MM/dd`, `yyyy.MM.dd`, `yyyy年M月d日`); None for another format.
pub fn format_date(date: chrono::NaiveDate, format: &str) -> Option<String> {
    let pattern = match format {
        "yyyy-MM-dd" => "%Y-%m-%d",
        "yyyy年MM月dd日" => "%Y年%m月%d日",
        "yyyy/MM/dd" => "%Y/%m/%d",
        "yyyy.MM.dd" => "%Y.%m.%d",
        "yyyy年M月d日" => "%Y年%-m月%-d日",
        _ => return None,
    };
    Some(date.format(pattern).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_shrinking_and_refusing() {
        let fonts = Fonts::new().unwrap();
        let field = |text: &'static str, width: f32, height: f32| FieldText {
            key: "k",
            page: 0,
            x: 0.0,
            y: 0.0,
            width,
            height,
            font_size: 12.0,
            text,
        };
        let (size, lines) = layout(&fonts, &field("郑州云签科技有限公司", 200.0, 16.0)).unwrap();
        assert_eq!((size, lines.len()), (12.0, 1));
        // Ten 12 pt characters do not fit 60 pt on one line: wrap into two.
        let (size, lines) = layout(&fonts, &field("郑州云签科技有限公司", 60.0, 30.0)).unwrap();
        assert_eq!(size, 12.0);
        assert_eq!(lines, ["郑州云签科", "技有限公司"]);
        // One line of 30 pt: the size shrinks until it fits.
        let (size, lines) = layout(&fonts, &field("郑州云签科技有限公司", 100.0, 14.0)).unwrap();
        assert!(
            (MIN_FONT_SIZE..12.0).contains(&size) && lines.len() == 1,
            "{size}"
        );
        assert!(
            layout(
                &fonts,
                &field("郑州云签科技有限公司郑州云签科技有限公司", 30.0, 8.0)
            )
            .is_none()
        );
        // Latin and digits come from the Latin font.
        assert!(fonts.width("2026-11-30", 12.0) > 30.0);
    }

    #[test]
    fn dates_in_the_allowed_formats() {
        let date = chrono::NaiveDate::from_ymd_opt(2026, 3, 5).unwrap();
        assert_eq!(format_date(date, "yyyy-MM-dd").unwrap(), "2026-03-05");
        assert_eq!(
            format_date(date, "yyyy年MM月dd日").unwrap(),
            "2026年03月05日"
        );
        assert_eq!(format_date(date, "yyyy年M月d日").unwrap(), "2026年3月5日");
        assert!(format_date(date, "dd/MM/yyyy").is_none());
        for format in DATE_FORMATS {
            assert!(format_date(date, format).is_some(), "{format}");
        }
    }
}
