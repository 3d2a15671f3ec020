//! Seal images drawn as PNG with a transparent background: the round red
//! enterprise seal (name along the upper arc, a five-pointed star, the seal's
//! name below), the square name seal of a legal representative or a person,
//! and the date seal. Glyphs come from the vendored CJK font (Apache-2.0,
//! `src/fonts/`), the one the PDF engine embeds. Leaf module: pure and
//! synchronous.

use std::f32::consts::PI;

use tiny_skia::{FillRule, Paint, Path, PathBuilder, Pixmap, Rect, Stroke, Transform};
use ttf_parser::{Face, OutlineBuilder};

pub const FONT: &[u8] = include_bytes!("fonts/DroidSansFallbackFull.ttf");

/// Every seal image is this many pixels across (at least 600 by the spec).
pub const SIZE: u32 = 600;

#[derive(Debug, thiserror::Error)]
pub enum SealImageError {
    #[error("the seal font cannot be read")]
    Font,
    #[error("the font has no glyph for {0:?}")]
    MissingGlyph(char),
    #[error("text must have 1 to {max} characters")]
    TextLength { max: usize },
    #[error("drawing failed")]
    Drawing,
}

/// Whether every character of `text` (spaces aside) has a glyph in the seal font.
pub fn can_draw(text: &str) -> bool {
    let Ok(face) = face() else {
        return false;
    };
    text.chars().filter(|c| !c.is_whitespace()).all(|c| {
        let c = c
            .to_digit(10)
            .and_then(|d| char::from_u32(0xFF10 + d))
            .unwrap_or(c);
        face.glyph_index(c).is_some()
    })
}

fn face() -> Result<Face<'static>, SealImageError> {
    Face::parse(FONT, 0).map_err(|_| SealImageError::Font)
}

fn red() -> Paint<'static> {
    let mut paint = Paint::default();
    paint.set_color_rgba8(0xD9, 0x1E, 0x18, 0xFF);
    paint.anti_alias = true;
    paint
}

struct Outline(PathBuilder);

impl OutlineBuilder for Outline {
    fn move_to(&mut self, x: f32, y: f32) {
        self.0.move_to(x, y);
    }
    fn line_to(&mut self, x: f32, y: f32) {
        self.0.line_to(x, y);
    }
    fn quad_to(&mut self, x1: f32, y1: f32, x: f32, y: f32) {
        self.0.quad_to(x1, y1, x, y);
    }
    fn curve_to(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, x: f32, y: f32) {
        self.0.cubic_to(x1, y1, x2, y2, x, y);
    }
    fn close(&mut self) {
        self.0.close();
    }
}

/// Draws `ch` with its em box centred on (x, y), `size` pixels tall,
/// rotated by `angle` radians (0 = upright).
fn draw_char(
    pixmap: &mut Pixmap,
    face: &Face<'_>,
    ch: char,
    (x, y): (f32, f32),
    size: (f32, f32),
    angle: f32,
) -> Result<(), SealImageError> {
    let glyph = face
        .glyph_index(ch)
        .ok_or(SealImageError::MissingGlyph(ch))?;
    let mut outline = Outline(PathBuilder::new());
    if face.outline_glyph(glyph, &mut outline).is_none() {
        return Ok(()); // a blank glyph draws nothing
    }
    let Some(path) = outline.0.finish() else {
        return Ok(());
    };
    let em = f32::from(face.units_per_em());
    let advance = face.glyph_hor_advance(glyph).map_or(em, f32::from);
    // Centre of the em box in font units (y up): half the advance, and the
    // middle between descender and ascender.
    let mid_y = (f32::from(face.ascender()) + f32::from(face.descender())) / 2.0;
    let (width, height) = size;
    let transform = Transform::from_translate(x, y)
        .pre_rotate(angle.to_degrees())
        .pre_scale(width / advance, -height / em)
        .pre_translate(-advance / 2.0, -mid_y);
    pixmap.fill_path(&path, &red(), FillRule::Winding, transform, None);
    // Seal lettering is heavier than the font: embolden with an outline.
    let stroke = Stroke {
        width: em * 0.035,
        ..Stroke::default()
    };
    pixmap.stroke_path(&path, &red(), &stroke, transform, None);
    Ok(())
}

fn star(cx: f32, cy: f32, radius: f32) -> Option<Path> {
    let inner = radius * 0.382;
    let mut pb = PathBuilder::new();
    for i in 0..10 {
        let r = if i % 2 == 0 { radius } else { inner };
        let a = -PI / 2.0 + i as f32 * PI / 5.0;
        let (px, py) = (cx + r * a.cos(), cy + r * a.sin());
        if i == 0 {
            pb.move_to(px, py);
        } else {
            pb.line_to(px, py);
        }
    }
    pb.close();
    pb.finish()
}

fn png(pixmap: &Pixmap) -> Result<Vec<u8>, SealImageError> {
    pixmap.encode_png().map_err(|_| SealImageError::Drawing)
}

/// The round enterprise seal: `enterprise` along the upper arc, a star in
/// the centre, and `bottom` (e.g. 合同专用章) below it when given.
pub fn round_seal(enterprise: &str, bottom: Option<&str>) -> Result<Vec<u8>, SealImageError> {
    let chars: Vec<char> = enterprise.chars().filter(|c| !c.is_whitespace()).collect();
    if chars.is_empty() || chars.len() > 40 {
        return Err(SealImageError::TextLength { max: 40 });
    }
    let face = face()?;
    let s = SIZE as f32;
    let c = s / 2.0;
    let mut pixmap = Pixmap::new(SIZE, SIZE).ok_or(SealImageError::Drawing)?;
    let ring = PathBuilder::from_circle(c, c, s * 0.465).ok_or(SealImageError::Drawing)?;
    let stroke = Stroke {
        width: s * 0.035,
        ..Stroke::default()
    };
    pixmap.stroke_path(&ring, &red(), &stroke, Transform::identity(), None);
    let star = star(c, c, s * 0.15).ok_or(SealImageError::Drawing)?;
    pixmap.fill_path(
        &star,
        &red(),
        FillRule::Winding,
        Transform::identity(),
        None,
    );

    // The name spans up to 240 degrees of the upper arc, centred on the top.
    let span = (240f32).min(22.0 * chars.len() as f32).to_radians();
    let step = if chars.len() > 1 {
        span / (chars.len() - 1) as f32
    } else {
        0.0
    };
    let text_radius = s * 0.345;
    let glyph =
        (s * 0.12).min(2.0 * PI * text_radius * (span / (2.0 * PI)) / chars.len() as f32 * 1.1);
    for (i, ch) in chars.iter().enumerate() {
        // Angle measured from the top, clockwise.
        let theta = -span / 2.0 + step * i as f32;
        let x = c + text_radius * theta.sin();
        let y = c - text_radius * theta.cos();
        draw_char(&mut pixmap, &face, *ch, (x, y), (glyph * 0.8, glyph), theta)?;
    }
    if let Some(bottom) = bottom {
        let chars: Vec<char> = bottom.chars().collect();
        if chars.len() > 10 {
            return Err(SealImageError::TextLength { max: 10 });
        }
        let size = s * 0.075;
        let start = c - size * (chars.len() as f32 - 1.0) / 2.0;
        for (i, ch) in chars.iter().enumerate() {
            draw_char(
                &mut pixmap,
                &face,
                *ch,
                (start + size * i as f32, s * 0.76),
                (size, size),
                0.0,
            )?;
        }
    }
    png(&pixmap)
}

/// The square name seal: the name (with 之印 or 印 added to fill four
/// places) in two columns, read top to bottom, right to left; longer names
/// take more rows.
pub fn square_seal(name: &str) -> Result<Vec<u8>, SealImageError> {
    let mut chars: Vec<char> = name.chars().filter(|c| !c.is_whitespace()).collect();
    match chars.len() {
        1 | 2 => chars.extend("之印".chars()),
        3 => chars.push('印'),
        4..=12 => {}
        _ => return Err(SealImageError::TextLength { max: 12 }),
    }
    square_seal_grid(&chars)
}

/// 4 to 12 characters in two columns of as many rows as needed.
fn square_seal_grid(chars: &[char]) -> Result<Vec<u8>, SealImageError> {
    let face = face()?;
    let s = SIZE as f32;
    let mut pixmap = Pixmap::new(SIZE, SIZE).ok_or(SealImageError::Drawing)?;
    let border =
        Rect::from_xywh(s * 0.04, s * 0.04, s * 0.92, s * 0.92).ok_or(SealImageError::Drawing)?;
    let stroke = Stroke {
        width: s * 0.05,
        ..Stroke::default()
    };
    pixmap.stroke_path(
        &PathBuilder::from_rect(border),
        &red(),
        &stroke,
        Transform::identity(),
        None,
    );
    let rows = chars.len().div_ceil(2);
    let cell_h = s * 0.84 / rows as f32;
    for (i, ch) in chars.iter().enumerate() {
        let (column, row) = (i / rows, i % rows);
        let x = if column == 0 { s * 0.72 } else { s * 0.28 };
        let y = s * 0.08 + cell_h * (row as f32 + 0.5);
        draw_char(
            &mut pixmap,
            &face,
            *ch,
            (x, y),
            (s * 0.4, cell_h * 0.95),
            0.0,
        )?;
    }
    png(&pixmap)
}

/// The date seal: `text` (e.g. 2026年11月29日) in one red line, 600 x 150.
pub fn date_seal(text: &str) -> Result<Vec<u8>, SealImageError> {
    let chars: Vec<char> = text.chars().collect();
    if chars.is_empty() || chars.len() > 16 {
        return Err(SealImageError::TextLength { max: 16 });
    }
    let face = face()?;
    let (w, h) = (SIZE as f32, SIZE as f32 / 4.0);
    let mut pixmap = Pixmap::new(SIZE, SIZE / 4).ok_or(SealImageError::Drawing)?;
    // The CJK font has no Latin digits: draw their full-width forms, narrower.
    let glyphs: Vec<(char, f32)> = chars
        .iter()
        .map(|ch| match ch.to_digit(10) {
            Some(d) => (char::from_u32(0xFF10 + d).unwrap_or(*ch), 0.6),
            None => (*ch, 1.0),
        })
        .collect();
    let units: f32 = glyphs.iter().map(|(_, width)| width).sum();
    let size = (w * 0.95 / units).min(h * 0.8);
    let mut x = w / 2.0 - size * units / 2.0;
    for (ch, width) in glyphs {
        let advance = size * width;
        let drawn = if width < 1.0 {
            advance * 1.2
        } else {
            advance * 0.92
        };
        draw_char(
            &mut pixmap,
            &face,
            ch,
            (x + advance / 2.0, h / 2.0),
            (drawn, size),
            0.0,
        )?;
        x += advance;
    }
    png(&pixmap)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Image {
        pixmap: Pixmap,
    }

    impl Image {
        fn decode(png: &[u8]) -> Self {
            Self {
                pixmap: Pixmap::decode_png(png).unwrap(),
            }
        }

        fn alpha_at(&self, x: u32, y: u32) -> u8 {
            self.pixmap.pixel(x, y).unwrap().alpha()
        }

        /// Opaque red pixels in the rectangle.
        fn red_in(&self, x0: u32, y0: u32, x1: u32, y1: u32) -> usize {
            let mut n = 0;
            for y in y0..y1 {
                for x in x0..x1 {
                    let p = self.pixmap.pixel(x, y).unwrap().demultiply();
                    if p.alpha() > 200 && p.red() > 180 && p.green() < 80 {
                        n += 1;
                    }
                }
            }
            n
        }
    }

    #[test]
    fn round_seal_is_a_transparent_red_ring_with_a_star_and_text() {
        let png = round_seal("河南豫信科技有限公司", Some("合同专用章")).unwrap();
        let image = Image::decode(&png);
        assert!(image.pixmap.width() >= 600 && image.pixmap.height() >= 600);
        assert_eq!(image.alpha_at(2, 2), 0, "transparent corners");
        assert_eq!(image.alpha_at(300, 300), 255, "the star's centre is filled");
        // The name along the upper arc and the seal name at the bottom are inked.
        assert!(image.red_in(150, 60, 450, 160) > 3_000);
        assert!(image.red_in(200, 430, 400, 490) > 1_000);
    }

    #[test]
    fn square_seal_fills_four_places() {
        let image = Image::decode(&square_seal("王五").unwrap());
        assert_eq!(image.pixmap.width(), 600);
        assert_eq!(
            image.alpha_at(300, 300),
            0,
            "the middle between the characters stays clear"
        );
        for (x, y) in [(432, 174), (432, 426), (168, 174), (168, 426)] {
            assert!(
                image.red_in(x - 80, y - 80, x + 80, y + 80) > 1_000,
                "a character at ({x}, {y})"
            );
        }
        assert!(
            square_seal("阿不都热合曼").is_ok(),
            "long names take more rows"
        );
        assert!(square_seal("一二三四五六七八九十一二三").is_err());
        assert!(can_draw("河南豫信科技有限公司") && can_draw("2026年"));
        assert!(!can_draw("😀"));
    }

    #[test]
    fn date_seal_draws_the_date() {
        let image = Image::decode(&date_seal("2026年11月29日").unwrap());
        assert_eq!((image.pixmap.width(), image.pixmap.height()), (600, 150));
        assert!(image.red_in(0, 0, 600, 150) > 3_000);
    }
}
