//! Seal and handwritten-signature images that people upload: PNG or JPEG,
//! decoded under size and pixel limits, turned into a PNG with a transparent
//! background (scans and photos come on white paper), so that everything
//! downstream (the PDF engine's SMask) handles one kind of image. Leaf
//! module: bytes in, bytes out.

use std::io::Cursor;

use image::{ImageFormat, ImageReader, Limits, RgbaImage};

/// Larger uploads are refused before decoding.
pub const MAX_BYTES: usize = 2 * 1024 * 1024;
/// Neither side may be larger (a decompression bomb stops here).
pub const MAX_SIDE: u32 = 3000;
/// The longer side must have at least this many pixels to print sharply.
pub const MIN_LONG_SIDE: u32 = 300;
/// Pixels at least this light on every channel become transparent.
const PAPER: u8 = 225;

#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("the image is larger than 2 MB")]
    TooLarge,
    #[error("the image must be a PNG or a JPEG")]
    Format,
    #[error("the image could not be decoded")]
    Undecodable,
    #[error("the image must be at most {MAX_SIDE} pixels on each side")]
    TooManyPixels,
    #[error("the image must be at least {MIN_LONG_SIDE} pixels on its longer side")]
    TooSmall,
    #[error("the image shows nothing")]
    Empty,
}

fn format_of(bytes: &[u8]) -> Option<ImageFormat> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(ImageFormat::Png)
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(ImageFormat::Jpeg)
    } else {
        None
    }
}

/// The upload as a transparent-background PNG.
pub fn normalize(bytes: &[u8]) -> Result<Vec<u8>, UploadError> {
    if bytes.len() > MAX_BYTES {
        return Err(UploadError::TooLarge);
    }
    let format = format_of(bytes).ok_or(UploadError::Format)?;
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(64 * 1024 * 1024);
    reader.limits(limits);
    let decoded = reader.decode().map_err(|e| match e {
        image::ImageError::Limits(_) => UploadError::TooManyPixels,
        _ => UploadError::Undecodable,
    })?;
    if decoded.width().max(decoded.height()) < MIN_LONG_SIDE {
        return Err(UploadError::TooSmall);
    }
    let had_alpha = decoded.color().has_alpha();
    let mut rgba: RgbaImage = decoded.into_rgba8();
    if !had_alpha {
        for pixel in rgba.pixels_mut() {
            if pixel.0[..3].iter().all(|&c| c >= PAPER) {
                pixel.0[3] = 0;
            }
        }
    }
    // Something must be drawn: a blank page is not a signature.
    let inked = rgba.pixels().filter(|p| p.0[3] > 32).count();
    if inked < 50 {
        return Err(UploadError::Empty);
    }
    let mut out = Cursor::new(Vec::new());
    rgba.write_to(&mut out, ImageFormat::Png)
        .map_err(|_| UploadError::Undecodable)?;
    Ok(out.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Rgb, RgbImage, Rgba};

    fn encode(image: impl Into<image::DynamicImage>, format: ImageFormat) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        image.into().write_to(&mut out, format).unwrap();
        out.into_inner()
    }

    fn scan(width: u32, height: u32) -> RgbImage {
        RgbImage::from_fn(width, height, |x, y| {
            if (100..200).contains(&x) && (40..60).contains(&y) {
                Rgb([200, 20, 20])
            } else {
                Rgb([250, 250, 250])
            }
        })
    }

    fn decode(png: &[u8]) -> RgbaImage {
        image::load_from_memory_with_format(png, ImageFormat::Png)
            .unwrap()
            .into_rgba8()
    }

    #[test]
    fn a_jpeg_scan_becomes_a_png_with_transparent_paper() {
        let png = normalize(&encode(scan(400, 100), ImageFormat::Jpeg)).unwrap();
        let image = decode(&png);
        assert_eq!(image.dimensions(), (400, 100));
        assert_eq!(image.get_pixel(5, 5).0[3], 0, "paper is transparent");
        let ink = image.get_pixel(150, 50).0;
        assert_eq!(ink[3], 255);
        assert!(ink[0] > 150 && ink[1] < 80, "ink keeps its colour: {ink:?}");
    }

    #[test]
    fn a_png_with_alpha_keeps_it() {
        let image = RgbaImage::from_fn(320, 320, |x, _| {
            if x < 160 {
                Rgba([255, 255, 255, 255])
            } else {
                Rgba([0, 0, 0, 0])
            }
        });
        let png = normalize(&encode(image, ImageFormat::Png)).unwrap();
        let back = decode(&png);
        assert_eq!(
            back.get_pixel(10, 10).0,
            [255, 255, 255, 255],
            "white ink stays"
        );
        assert_eq!(back.get_pixel(300, 10).0[3], 0);
    }

    #[test]
    fn refusals() {
        assert!(matches!(normalize(b"GIF89a...."), Err(UploadError::Format)));
        assert!(matches!(
            normalize(&encode(scan(200, 100), ImageFormat::Png)),
            Err(UploadError::TooSmall)
        ));
        let blank = RgbImage::from_pixel(400, 100, Rgb([255, 255, 255]));
        assert!(matches!(
            normalize(&encode(blank, ImageFormat::Png)),
            Err(UploadError::Empty)
        ));
        let mut broken = encode(scan(400, 100), ImageFormat::Png);
        broken.truncate(60);
        assert!(matches!(normalize(&broken), Err(UploadError::Undecodable)));
        assert!(matches!(
            normalize(&vec![0xFF; MAX_BYTES + 1]),
            Err(UploadError::TooLarge)
        ));
    }

    /// CRC-32 as PNG chunks carry it (over type and data).
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &byte in bytes {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[test]
    fn a_huge_declared_size_is_refused_before_allocation() {
        // A valid 1x1 PNG whose header claims 60000 x 60000 pixels.
        let mut png = encode(RgbImage::from_pixel(1, 1, Rgb([0, 0, 0])), ImageFormat::Png);
        png[16..20].copy_from_slice(&60_000u32.to_be_bytes());
        png[20..24].copy_from_slice(&60_000u32.to_be_bytes());
        let crc = crc32(&png[12..29]);
        png[29..33].copy_from_slice(&crc.to_be_bytes());
        assert!(
            matches!(normalize(&png), Err(UploadError::TooManyPixels)),
            "{:?}",
            normalize(&png)
        );
    }
}
