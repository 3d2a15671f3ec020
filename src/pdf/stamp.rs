//! Seal and signature images on a page: a PNG with alpha becomes an image
//! XObject (RGB) with a soft mask (its alpha), drawn inside a form XObject
//! that serves as a signature widget's appearance.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use image::RgbaImage;
use lopdf::{Dictionary, Object, Stream};

use crate::pdf::PdfError;
use crate::pdf::sign::Appearance;

/// One image to stamp, in page coordinates (points, origin bottom-left).
pub struct Stamp<'a> {
    pub png: &'a [u8],
    pub x: f32,
    pub y: f32,
    pub width: f32,
    pub height: f32,
}

/// Prepared image XObjects by the SHA-256 of their PNG: a seal is stamped
/// on thousands of contracts, and decoding and compressing it is most of a
/// signature's cost.
static PREPARED: OnceLock<Mutex<HashMap<Vec<u8>, Stream>>> = OnceLock::new();
const PREPARED_MAX: usize = 256;

/// The image XObject of a PNG: RGB samples with the alpha as /SMask.
pub fn image_xobject(png: &[u8]) -> Result<Stream, PdfError> {
    let key = openssl::hash::hash(openssl::hash::MessageDigest::sha256(), png)
        .map_err(|e| PdfError::Unreadable(format!("hash: {e}")))?
        .to_vec();
    let cache = PREPARED.get_or_init(|| Mutex::new(HashMap::new()));
    if let Some(hit) = cache.lock().ok().and_then(|c| c.get(&key).cloned()) {
        return Ok(hit);
    }
    let image = image::load_from_memory_with_format(png, image::ImageFormat::Png)
        .map_err(|e| PdfError::Unreadable(format!("stamp image: {e}")))?
        .into_rgba8();
    let stream = xobject_of(&image)?;
    if let Ok(mut cache) = cache.lock() {
        if cache.len() >= PREPARED_MAX {
            cache.clear();
        }
        cache.insert(key, stream.clone());
    }
    Ok(stream)
}

fn xobject_of(image: &RgbaImage) -> Result<Stream, PdfError> {
    let (width, height) = image.dimensions();
    let pixels = image.as_raw();
    let mut rgb = Vec::with_capacity(pixels.len() / 4 * 3);
    let mut alpha = Vec::with_capacity(pixels.len() / 4);
    for pixel in pixels.chunks_exact(4) {
        rgb.extend_from_slice(&pixel[..3]);
        alpha.push(pixel[3]);
    }
    let image_dict = |color_space: &str| {
        let mut dict = Dictionary::new();
        dict.set("Type", Object::Name(b"XObject".to_vec()));
        dict.set("Subtype", Object::Name(b"Image".to_vec()));
        dict.set("Width", Object::Integer(i64::from(width)));
        dict.set("Height", Object::Integer(i64::from(height)));
        dict.set("ColorSpace", Object::Name(color_space.as_bytes().to_vec()));
        dict.set("BitsPerComponent", Object::Integer(8));
        dict
    };
    let mut mask = Stream::new(image_dict("DeviceGray"), alpha);
    mask.compress()?;
    let mut color = Stream::new(image_dict("DeviceRGB"), rgb);
    color.compress()?;
    // Streams cannot be direct objects: `sign::prepare` writes the mask as
    // an object of its own and refers to it.
    let mut dict = color.dict.clone();
    dict.set("SMask", Object::Stream(mask));
    Ok(Stream::new(dict, color.content))
}

/// A cross-page seal (骑缝章): the seal cut into one vertical slice per
/// page of `pages` ((0-based page, page width) in order), each slice at the
/// right edge of its page at height `y`, so that the pages laid edge to edge
/// show the whole seal of side `size` points.
pub fn cross_page(
    png: &[u8],
    pages: &[(usize, f32)],
    y: f32,
    size: f32,
) -> Result<Vec<(usize, Appearance)>, PdfError> {
    let image = image::load_from_memory_with_format(png, image::ImageFormat::Png)
        .map_err(|e| PdfError::Unreadable(format!("stamp image: {e}")))?
        .into_rgba8();
    let count = u32::try_from(pages.len()).map_err(|_| PdfError::Structure("too many pages"))?;
    let (width, height) = image.dimensions();
    if count == 0 || count > width {
        return Err(PdfError::Structure(
            "a cross-page seal needs 1 to image-width pages",
        ));
    }
    let slice_pt = size / pages.len() as f32;
    let mut out = Vec::with_capacity(pages.len());
    for (i, (page, page_width)) in (0u32..).zip(pages) {
        let left = i * width / count;
        let right = (i + 1) * width / count;
        let slice = image::imageops::crop_imm(&image, left, 0, right - left, height).to_image();
        let mut content = Vec::new();
        content.extend_from_slice(
            format!("q {slice_pt:.3} 0 0 {size:.3} 0 0 cm /Im0 Do Q\n").as_bytes(),
        );
        out.push((
            *page,
            Appearance {
                origin: (page_width - slice_pt, y),
                size: (slice_pt, size),
                content,
                resources: Dictionary::new(),
                objects: vec![("Im0".to_owned(), xobject_of(&slice)?)],
            },
        ));
    }
    Ok(out)
}

/// The appearance of `stamps`: a form XObject covering them all.
pub fn appearance(stamps: &[Stamp<'_>]) -> Result<Appearance, PdfError> {
    let left = stamps.iter().map(|s| s.x).fold(f32::INFINITY, f32::min);
    let bottom = stamps.iter().map(|s| s.y).fold(f32::INFINITY, f32::min);
    let right = stamps
        .iter()
        .map(|s| s.x + s.width)
        .fold(f32::NEG_INFINITY, f32::max);
    let top = stamps
        .iter()
        .map(|s| s.y + s.height)
        .fold(f32::NEG_INFINITY, f32::max);
    if stamps.is_empty() || !(left.is_finite() && bottom.is_finite()) {
        return Err(PdfError::Structure("an appearance without stamps"));
    }
    let mut content = Vec::new();
    let mut objects = Vec::new();
    for (i, stamp) in stamps.iter().enumerate() {
        let name = format!("Im{i}");
        content.extend_from_slice(
            format!(
                "q {:.3} 0 0 {:.3} {:.3} {:.3} cm /{name} Do Q\n",
                stamp.width,
                stamp.height,
                stamp.x - left,
                stamp.y - bottom
            )
            .as_bytes(),
        );
        objects.push((name, image_xobject(stamp.png)?));
    }
    Ok(Appearance {
        origin: (left, bottom),
        size: (right - left, top - bottom),
        content,
        resources: Dictionary::new(),
        objects,
    })
}
