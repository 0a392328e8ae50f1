//! Still images (`--input photo.jpg`) decoded by the `image` crate into a
//! BGR `Mat`: grey, alpha and 16-bit images come out as 8-bit BGR, and the
//! EXIF orientation is applied (as OpenCV's `imread` did).

use std::path::Path;

use image::ImageDecoder;
use opencv::core::{Mat, CV_8UC3};
use opencv::prelude::*;

/// The image at `path` as continuous 8-bit BGR.
pub fn read(path: &Path) -> Result<Mat, String> {
    let reader = image::ImageReader::open(path)
        .and_then(|r| r.with_guessed_format())
        .map_err(|e| e.to_string())?;
    let mut decoder = reader.into_decoder().map_err(not_readable)?;
    let orientation = decoder.orientation().ok();
    let mut img = image::DynamicImage::from_decoder(decoder).map_err(not_readable)?;
    if let Some(o) = orientation {
        img.apply_orientation(o);
    }
    let rgb = img.into_rgb8();
    let (w, h) = rgb.dimensions();
    if w == 0 || h == 0 {
        return Err("not a readable image (no pixels)".into());
    }
    let mut mat = Mat::new_rows_cols_with_default(h as i32, w as i32, CV_8UC3, 0.into())
        .map_err(|e| e.to_string())?;
    let bytes = mat.data_bytes_mut().map_err(|e| e.to_string())?;
    for (bgr, rgb) in bytes.chunks_exact_mut(3).zip(rgb.as_raw().chunks_exact(3)) {
        bgr.copy_from_slice(&[rgb[2], rgb[1], rgb[0]]);
    }
    Ok(mat)
}

fn not_readable(e: image::ImageError) -> String {
    format!("not a readable image ({e})")
}
