//! The picture: an RGB canvas with blending, anti-aliased lines and text in an 8x8 bitmap font
//! (`font8x8`), and the colours of the plots.

/// Matplotlib's `tab10`.
pub(super) const PALETTE: [[u8; 3]; 10] = [
    [31, 119, 180],
    [255, 127, 14],
    [44, 160, 44],
    [214, 39, 40],
    [148, 103, 189],
    [140, 86, 75],
    [227, 119, 194],
    [127, 127, 127],
    [188, 189, 34],
    [23, 190, 207],
];
pub(super) const WHITE: [u8; 3] = [255, 255, 255];
pub(super) const BLACK: [u8; 3] = [30, 30, 30];
pub(super) const GRID: [u8; 3] = [225, 225, 225];

#[derive(Clone, Copy)]
pub(super) struct Rect {
    pub(super) x: i32,
    pub(super) y: i32,
    pub(super) w: i32,
    pub(super) h: i32,
}

pub(super) struct Canvas {
    w: u32,
    h: u32,
    pub(super) pixels: Vec<u8>,
}

impl Canvas {
    pub(super) fn new(w: u32, h: u32) -> Self {
        Canvas {
            w,
            h,
            pixels: vec![255; (w * h * 3) as usize],
        }
    }

    /// Blends `c` over the pixel at (x, y) with opacity `alpha`; outside the canvas is ignored.
    fn blend(&mut self, x: i32, y: i32, c: [u8; 3], alpha: f64) {
        if x < 0 || y < 0 || x >= self.w as i32 || y >= self.h as i32 {
            return;
        }
        let i = ((y as u32 * self.w + x as u32) * 3) as usize;
        for (px, &ck) in self.pixels[i..i + 3].iter_mut().zip(&c) {
            let old = f64::from(*px);
            *px = (old + (f64::from(ck) - old) * alpha.clamp(0.0, 1.0)).round() as u8;
        }
    }

    pub(super) fn fill(&mut self, r: Rect, c: [u8; 3]) {
        for y in r.y..r.y + r.h {
            for x in r.x..r.x + r.w {
                self.blend(x, y, c, 1.0);
            }
        }
    }

    /// An anti-aliased line about `width` pixels wide (distance-to-segment coverage).
    pub(super) fn line(
        &mut self,
        (x0, y0): (f64, f64),
        (x1, y1): (f64, f64),
        c: [u8; 3],
        width: f64,
    ) {
        let r = width / 2.0;
        let (dx, dy) = (x1 - x0, y1 - y0);
        let len2 = dx * dx + dy * dy;
        let xmin = (x0.min(x1) - r - 1.0).floor() as i32;
        let xmax = (x0.max(x1) + r + 1.0).ceil() as i32;
        let ymin = (y0.min(y1) - r - 1.0).floor() as i32;
        let ymax = (y0.max(y1) + r + 1.0).ceil() as i32;
        for y in ymin..=ymax {
            for x in xmin..=xmax {
                let (px, py) = (f64::from(x) + 0.5, f64::from(y) + 0.5);
                let t = if len2 > 0.0 {
                    (((px - x0) * dx + (py - y0) * dy) / len2).clamp(0.0, 1.0)
                } else {
                    0.0
                };
                let (qx, qy) = (x0 + t * dx - px, y0 + t * dy - py);
                let d = (qx * qx + qy * qy).sqrt();
                let cover = (r + 0.5 - d).clamp(0.0, 1.0);
                if cover > 0.0 {
                    self.blend_max(x, y, c, cover);
                }
            }
        }
    }

    /// Like `blend`, but a pixel covered twice by one polyline is not darkened twice: the
    /// opacity applied is what the pixel still lacks of `c`, approximately.
    fn blend_max(&mut self, x: i32, y: i32, c: [u8; 3], cover: f64) {
        if x < 0 || y < 0 || x >= self.w as i32 || y >= self.h as i32 {
            return;
        }
        let i = ((y as u32 * self.w + x as u32) * 3) as usize;
        let mut have: f64 = 1.0;
        for (&px, &ck) in self.pixels[i..i + 3].iter().zip(&c) {
            let bg = 255.0 - f64::from(ck);
            if bg.abs() > 8.0 {
                have = have.min((255.0 - f64::from(px)) / bg);
            }
        }
        if cover > have.max(0.0) {
            self.blend(
                x,
                y,
                c,
                (cover - have.max(0.0)) / (1.0 - have.max(0.0)).max(1e-6),
            );
        }
    }

    /// Draws `text` with its top-left corner at (x, y), `scale` pixels per font pixel.
    pub(super) fn text(&mut self, x: i32, y: i32, text: &str, c: [u8; 3], scale: i32) {
        for (n, ch) in text.chars().enumerate() {
            let glyph = font8x8::legacy::BASIC_LEGACY
                .get(ch as usize)
                .copied()
                .unwrap_or(font8x8::legacy::BASIC_LEGACY[b'?' as usize]);
            for (row, bits) in glyph.iter().enumerate() {
                for col in 0..8 {
                    if bits >> col & 1 == 1 {
                        for sy in 0..scale {
                            for sx in 0..scale {
                                self.blend(
                                    x + (n as i32 * 8 + col) * scale + sx,
                                    y + row as i32 * scale + sy,
                                    c,
                                    1.0,
                                );
                            }
                        }
                    }
                }
            }
        }
    }
}

pub(super) fn text_width(text: &str, scale: i32) -> i32 {
    text.chars().count() as i32 * 8 * scale
}
