//! Draw-pad preprocessing: turns a drawing into the kind of 28x28 image MNIST is made of, the way
//! the MNIST images were made (LeCun et al., <http://yann.lecun.com/exdb/mnist/>): the digit is
//! cropped to its ink, scaled so its longer side is 20 pixels keeping the aspect ratio (with
//! anti-aliasing, giving grey levels), and placed in a 28x28 field so that its centre of mass
//! is at the centre.

use thiserror::Error;

use crate::data::{IMAGE_PIXELS, IMAGE_SIDE};

/// Longer side of the digit's box after scaling (MNIST: 20 pixels in a 28x28 field).
pub const DIGIT_BOX: usize = 20;
/// Ink below this level (0-1) counts as background when cropping.
const INK_THRESHOLD: f32 = 0.05;

/// Why a drawing could not be turned into an MNIST image.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DrawingError {
    #[error("the drawing is {width}x{height} but holds {len} RGBA bytes, not {}", width * height * 4)]
    WrongSize {
        width: usize,
        height: usize,
        len: usize,
    },
    #[error("nothing is drawn yet")]
    Blank,
}

/// How a digit is drawn: dark strokes on a light or transparent ground (a draw pad, ink on
/// paper), or light strokes on a dark or transparent one (chalk on a board, MNIST itself).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Ink {
    #[default]
    DarkOnLight,
    LightOnDark,
}

/// A drawing's ink from RGBA pixels (a canvas's `ImageData`): the alpha channel scaled by how dark
/// (or, for `Ink::LightOnDark`, how light) the colour is, so strokes on a transparent or a plain
/// ground both count as ink (0-1).
pub fn ink_from_rgba(
    rgba: &[u8],
    width: usize,
    height: usize,
    ink: Ink,
) -> Result<Vec<f32>, DrawingError> {
    if rgba.len() != width * height * 4 || width == 0 || height == 0 {
        return Err(DrawingError::WrongSize {
            width,
            height,
            len: rgba.len(),
        });
    }
    Ok(rgba
        .chunks_exact(4)
        .map(|p| {
            let luminance =
                (0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32) / 255.0;
            let level = match ink {
                Ink::DarkOnLight => 1.0 - luminance,
                Ink::LightOnDark => luminance,
            };
            level * p[3] as f32 / 255.0
        })
        .collect())
}

/// The 28x28 MNIST-style image (0 = background, 1 = ink, row-major) of a `width` x `height`
/// field of ink levels.
pub fn to_mnist(ink: &[f32], width: usize, height: usize) -> Result<Vec<f32>, DrawingError> {
    let (x0, y0, x1, y1) = ink_box(ink, width, height).ok_or(DrawingError::Blank)?;
    let (box_w, box_h) = (x1 - x0, y1 - y0);
    let scale = DIGIT_BOX as f32 / box_w.max(box_h) as f32;
    let out_w = ((box_w as f32 * scale).round() as usize).clamp(1, DIGIT_BOX);
    let out_h = ((box_h as f32 * scale).round() as usize).clamp(1, DIGIT_BOX);

    // Area-averaging resample of the cropped box, rows then columns.
    let cols = axis_weights(box_w, out_w);
    let rows = axis_weights(box_h, out_h);
    let mut narrow = vec![0.0f32; box_h * out_w];
    for y in 0..box_h {
        let src = &ink[(y0 + y) * width + x0..(y0 + y) * width + x1];
        for (tx, taps) in cols.iter().enumerate() {
            narrow[y * out_w + tx] = taps.iter().map(|&(i, w)| src[i] * w).sum();
        }
    }
    let mut digit = vec![0.0f32; out_h * out_w];
    for (ty, taps) in rows.iter().enumerate() {
        for tx in 0..out_w {
            digit[ty * out_w + tx] = taps.iter().map(|&(i, w)| narrow[i * out_w + tx] * w).sum();
        }
    }

    // Place the digit so that its centre of mass falls on the centre of the 28x28 field.
    let (cx, cy) = centre_of_mass(&digit, out_w);
    let centre = IMAGE_SIDE as f32 / 2.0;
    let limit = |room: usize| (IMAGE_SIDE - room) as f32;
    let left = (centre - cx).round().clamp(0.0, limit(out_w)) as usize;
    let top = (centre - cy).round().clamp(0.0, limit(out_h)) as usize;
    let mut image = vec![0.0f32; IMAGE_PIXELS];
    for y in 0..out_h {
        for x in 0..out_w {
            image[(top + y) * IMAGE_SIDE + left + x] = digit[y * out_w + x].clamp(0.0, 1.0);
        }
    }
    Ok(image)
}

/// Bounding box `(x0, y0, x1, y1)` (end-exclusive) of the pixels with ink.
fn ink_box(ink: &[f32], width: usize, height: usize) -> Option<(usize, usize, usize, usize)> {
    let mut bounds: Option<(usize, usize, usize, usize)> = None;
    for y in 0..height {
        for x in 0..width {
            if ink[y * width + x] > INK_THRESHOLD {
                let (x0, y0, x1, y1) = bounds.unwrap_or((x, y, x + 1, y + 1));
                bounds = Some((x0.min(x), y0.min(y), x1.max(x + 1), y1.max(y + 1)));
            }
        }
    }
    bounds
}

/// For each of `dst` output cells spread over `src` input cells, the input cells it covers and
/// the share of it each covers (shares sum to 1): area averaging, for shrinking and enlarging.
fn axis_weights(src: usize, dst: usize) -> Vec<Vec<(usize, f32)>> {
    let step = src as f32 / dst as f32;
    (0..dst)
        .map(|j| {
            let (start, end) = (j as f32 * step, (j + 1) as f32 * step);
            let first = start.floor() as usize;
            let last = (end.ceil() as usize).min(src);
            (first..last)
                .map(|i| {
                    let overlap = (end.min(i as f32 + 1.0) - start.max(i as f32)).max(0.0);
                    (i, overlap / step)
                })
                .collect()
        })
        .collect()
}

/// Centre of mass `(x, y)` of an image `width` wide, in pixel units (pixel centres at +0.5).
fn centre_of_mass(image: &[f32], width: usize) -> (f32, f32) {
    let (mut total, mut sx, mut sy) = (0.0f32, 0.0f32, 0.0f32);
    for (i, &v) in image.iter().enumerate() {
        total += v;
        sx += v * ((i % width) as f32 + 0.5);
        sy += v * ((i / width) as f32 + 0.5);
    }
    if total > 0.0 {
        (sx / total, sy / total)
    } else {
        (width as f32 / 2.0, image.len() as f32 / width as f32 / 2.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canvas(w: usize, h: usize, strokes: impl Fn(usize, usize) -> bool) -> Vec<f32> {
        (0..w * h)
            .map(|i| if strokes(i % w, i / w) { 1.0 } else { 0.0 })
            .collect()
    }

    #[test]
    fn blank_drawing_is_an_error() {
        assert_eq!(to_mnist(&[0.0; 100], 10, 10), Err(DrawingError::Blank));
    }

    #[test]
    fn rgba_of_the_wrong_size_is_an_error() {
        assert!(matches!(
            ink_from_rgba(&[0; 15], 2, 2, Ink::DarkOnLight),
            Err(DrawingError::WrongSize { .. })
        ));
    }

    #[test]
    fn black_stroke_on_white_and_on_transparent_is_ink() {
        let rgba = [0, 0, 0, 255, 255, 255, 255, 255, 0, 0, 0, 0];
        let ink = ink_from_rgba(&rgba, 3, 1, Ink::DarkOnLight).unwrap();
        assert_eq!(ink, [1.0, 0.0, 0.0]);
    }

    #[test]
    fn white_stroke_on_black_and_on_transparent_is_light_ink() {
        let rgba = [0, 0, 0, 255, 255, 255, 255, 255, 255, 255, 255, 0];
        let ink = ink_from_rgba(&rgba, 3, 1, Ink::LightOnDark).unwrap();
        assert_eq!(ink, [0.0, 1.0, 0.0]);
    }

    #[test]
    fn a_tall_stroke_is_scaled_to_20_pixels_and_centred() {
        // A vertical bar 20 wide and 200 high, off-centre in a 280x280 pad.
        let ink = canvas(280, 280, |x, y| {
            (30..50).contains(&x) && (10..210).contains(&y)
        });
        let image = to_mnist(&ink, 280, 280).unwrap();
        let rows_with_ink = (0..28)
            .filter(|y| (0..28).any(|x| image[y * 28 + x] > 0.5))
            .count();
        assert_eq!(rows_with_ink, 20);
        let (cx, cy) = centre_of_mass(&image, 28);
        assert!(
            (cx - 14.0).abs() <= 0.5 && (cy - 14.0).abs() <= 0.5,
            "{cx} {cy}"
        );
        // 20 wide x 200 high scales to 2 x 20: the ink is conserved (40 pixels' worth).
        let total: f32 = image.iter().sum();
        assert!((total - 40.0).abs() < 0.5, "{total}");
    }

    #[test]
    fn a_small_dot_is_enlarged() {
        let ink = canvas(100, 100, |x, y| {
            (50..54).contains(&x) && (50..54).contains(&y)
        });
        let image = to_mnist(&ink, 100, 100).unwrap();
        assert_eq!(image.iter().filter(|&&v| v > 0.5).count(), 400);
    }

    #[test]
    fn area_weights_sum_to_one() {
        for (src, dst) in [(200, 20), (7, 20), (20, 20), (33, 7)] {
            for taps in axis_weights(src, dst) {
                let sum: f32 = taps.iter().map(|t| t.1).sum();
                assert!((sum - 1.0).abs() < 1e-4, "{src}->{dst}: {sum}");
            }
        }
    }
}
