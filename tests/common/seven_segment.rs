//! Digits as a seven-segment display shows them, drawn with a thick pen: a way of writing that
//! MNIST does not hold (its writers drew no square 4s, 6s and 9s), for teaching the model a
//! style by fine-tuning. Each drawing varies in size, slant, pen width and where each segment
//! ends, and goes through the draw pad's own path to 28x28 (`drawpad::to_mnist`).

use lenet_web::drawpad;
use rand::{Rng, SeedableRng, rngs::StdRng};

/// The segments each digit lights, as in a display: a (top), b (top right), c (bottom right),
/// d (bottom), e (bottom left), f (top left), g (middle).
const SEGMENTS: [&str; 10] = [
    "abcdef", "bc", "abged", "abgcd", "fgbc", "afgcd", "afgedc", "abc", "abcdefg", "abcdfg",
];

/// The ends of a segment on a 1 x 2 grid (x right, y down).
fn ends(segment: char) -> [(f32, f32); 2] {
    match segment {
        'a' => [(0.0, 0.0), (1.0, 0.0)],
        'b' => [(1.0, 0.0), (1.0, 1.0)],
        'c' => [(1.0, 1.0), (1.0, 2.0)],
        'd' => [(0.0, 2.0), (1.0, 2.0)],
        'e' => [(0.0, 1.0), (0.0, 2.0)],
        'f' => [(0.0, 0.0), (0.0, 1.0)],
        'g' => [(0.0, 1.0), (1.0, 1.0)],
        _ => unreachable!("seven segments"),
    }
}

/// Distance from `p` to the segment from `a` to `b`.
fn distance(p: (f32, f32), a: (f32, f32), b: (f32, f32)) -> f32 {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let t = (((p.0 - a.0) * dx + (p.1 - a.1) * dy) / (dx * dx + dy * dy)).clamp(0.0, 1.0);
    ((p.0 - a.0 - t * dx).powi(2) + (p.1 - a.1 - t * dy).powi(2)).sqrt()
}

/// A drawing of `digit`, varied by `seed`: 784 grey levels (0-1), as the draw pad makes them.
pub fn drawing(digit: usize, seed: u64) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed * 10 + digit as u64);
    let (width, height) = (96usize, 128usize);
    let unit_x = rng.random_range(28.0..40.0f32);
    let unit_y = rng.random_range(24.0..32.0f32);
    let slant = rng.random_range(-0.1..0.3f32);
    let pen = rng.random_range(5.0..10.0f32);
    let (x0, y0) = (30.0, 20.0);
    let mut jitter = || {
        (
            rng.random_range(-2.0..2.0f32),
            rng.random_range(-2.0..2.0f32),
        )
    };
    let strokes: Vec<[(f32, f32); 2]> = SEGMENTS[digit]
        .chars()
        .map(|segment| {
            ends(segment).map(|(x, y)| {
                let (jx, jy) = jitter();
                let x_px = x0 + x * unit_x + slant * (2.0 - y) * unit_y + jx;
                (x_px, y0 + y * unit_y + jy)
            })
        })
        .collect();
    let mut ink = vec![0.0f32; width * height];
    for y in 0..height {
        for x in 0..width {
            let p = (x as f32 + 0.5, y as f32 + 0.5);
            let nearest = strokes
                .iter()
                .map(|[a, b]| distance(p, *a, *b))
                .fold(f32::INFINITY, f32::min);
            ink[y * width + x] = (pen / 2.0 + 0.5 - nearest).clamp(0.0, 1.0);
        }
    }
    drawpad::to_mnist(&ink, width, height).expect("a digit has ink")
}
