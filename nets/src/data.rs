//! Image datasets in IDX format (MNIST, Fashion-MNIST), seeded shuffling, light augmentation and
//! batching into burn tensors.

use std::io::Read;
use std::path::{Path, PathBuf};

use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::error::{NetsError, Result};

/// Where Debian's `dataset-fashion-mnist` package puts the files.
pub const FASHION_MNIST_DIR: &str = "/usr/share/datasets/fashion-mnist";

/// Fashion-MNIST's class names, by label.
pub const FASHION_MNIST_CLASSES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

/// A labelled set of 8-bit images `[N, C, H, W]`, kept as bytes.
#[derive(Debug, Clone)]
pub struct ImageDataset {
    /// Pixels, `N·C·H·W` bytes.
    pub images: Vec<u8>,
    /// Labels, `N` of them, each `< num_classes`.
    pub labels: Vec<u8>,
    /// `[C, H, W]`.
    pub shape: [usize; 3],
    /// Number of classes.
    pub num_classes: usize,
}

/// A train/test split.
#[derive(Debug, Clone)]
pub struct Split {
    /// Training set.
    pub train: ImageDataset,
    /// Test set.
    pub test: ImageDataset,
}

impl ImageDataset {
    /// Number of examples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no examples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Pixel mean and standard deviation over the whole set, on the 0..1 scale.
    pub fn mean_std(&self) -> (f32, f32) {
        let n = self.images.len().max(1) as f64;
        let (mut s, mut s2) = (0f64, 0f64);
        for &p in &self.images {
            let v = p as f64 / 255.0;
            s += v;
            s2 += v * v;
        }
        let mean = s / n;
        let var = (s2 / n - mean * mean).max(1e-12);
        (mean as f32, var.sqrt() as f32)
    }

    /// Reads an IDX image file (`[N, H, W]` u8) and an IDX label file (`[N]` u8); either may be
    /// gzip-compressed (`.gz`).
    pub fn from_idx(images: &Path, labels: &Path, num_classes: usize) -> Result<Self> {
        let (dims, pixels) = read_idx(images)?;
        let (ldims, labs) = read_idx(labels)?;
        let bad = |path: &Path, reason: String| NetsError::DatasetFormat {
            path: path.to_path_buf(),
            reason,
        };
        let shape = match dims[..] {
            [_, h, w] => [1, h, w],
            [_, c, h, w] => [c, h, w],
            _ => {
                return Err(bad(
                    images,
                    format!("expected [N, H, W] or [N, C, H, W] images, got dims {dims:?}"),
                ));
            }
        };
        if ldims.len() != 1 || ldims[0] != dims[0] {
            return Err(bad(
                labels,
                format!("expected {} labels, got dims {ldims:?}", dims[0]),
            ));
        }
        if let Some(&l) = labs.iter().find(|&&l| l as usize >= num_classes) {
            return Err(bad(
                labels,
                format!("label {l} out of range 0..{num_classes}"),
            ));
        }
        Ok(ImageDataset {
            images: pixels,
            labels: labs,
            shape,
            num_classes,
        })
    }

    /// Builds the batch of examples `idx`: images normalized with `(x/255 − mean)/std`
    /// (augmented when `augment` is given) and their labels, as tensors on `device`.
    pub fn batch(
        &self,
        idx: &[u32],
        mean: f32,
        std: f32,
        augment: Option<(&Augment, &mut SplitMix64)>,
        device: &Device,
    ) -> (Tensor<4>, Tensor<1, Int>) {
        let [c, h, w] = self.shape;
        let per = c * h * w;
        let zero = (0.0 - mean) / std;
        let lut: Vec<f32> = (0..256).map(|p| (p as f32 / 255.0 - mean) / std).collect();
        let mut xs = vec![zero; idx.len() * per];
        let mut ys = Vec::with_capacity(idx.len());
        let mut augment = augment;
        for (b, &i) in idx.iter().enumerate() {
            let i = i as usize;
            let src = &self.images[i * per..(i + 1) * per];
            let dst = &mut xs[b * per..(b + 1) * per];
            let (flip, dy, dx) = match augment.as_mut() {
                Some((a, rng)) => a.draw(rng),
                None => (false, 0, 0),
            };
            for ch in 0..c {
                for y in 0..h {
                    let sy = y as isize - dy;
                    if sy < 0 || sy >= h as isize {
                        continue;
                    }
                    for x in 0..w {
                        let xx = if flip { w - 1 - x } else { x };
                        let sx = xx as isize - dx;
                        if sx < 0 || sx >= w as isize {
                            continue;
                        }
                        dst[(ch * h + y) * w + x] =
                            lut[src[(ch * h + sy as usize) * w + sx as usize] as usize];
                    }
                }
            }
            ys.push(self.labels[i] as i64);
        }
        let n = idx.len();
        let images = Tensor::<4>::from_data(TensorData::new(xs, [n, c, h, w]), device);
        let labels = Tensor::<1, Int>::from_data(TensorData::new(ys, [n]), device);
        (images, labels)
    }
}

/// Light augmentation for small images: a random horizontal flip and a random translation of up
/// to `shift` pixels each way (zero-filled; the same as padding and random cropping).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Augment {
    /// Flip left-right with probability 1/2.
    pub hflip: bool,
    /// Largest translation in pixels.
    pub shift: usize,
}

impl Augment {
    fn draw(&self, rng: &mut SplitMix64) -> (bool, isize, isize) {
        let flip = self.hflip && rng.next_u64() & 1 == 1;
        let s = self.shift as u64;
        let d = |rng: &mut SplitMix64| {
            if s == 0 {
                0
            } else {
                rng.below(2 * s + 1) as isize - s as isize
            }
        };
        let dy = d(rng);
        let dx = d(rng);
        (flip, dy, dx)
    }
}

/// SplitMix64: a tiny, fast, seedable generator for shuffling and augmentation. The data order
/// of epoch `e` is a pure function of `(seed, e)`, which is what lets a resumed run see exactly
/// the batches the killed one would have.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// A generator for stream `stream` of `seed` (e.g. one per epoch).
    pub fn stream(seed: u64, stream: u64) -> Self {
        let mut g = SplitMix64(seed ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03));
        g.next_u64();
        g
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0), by Lemire's multiply-shift (bias below 2^-32 for small n).
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// A uniformly shuffled `0..n` (Fisher-Yates).
    pub fn permutation(&mut self, n: usize) -> Vec<u32> {
        let mut p: Vec<u32> = (0..n as u32).collect();
        for i in (1..n).rev() {
            let j = self.below(i as u64 + 1) as usize;
            p.swap(i, j);
        }
        p
    }
}

/// Reads Fashion-MNIST's four IDX files from `dir` (plain or `.gz`).
pub fn fashion_mnist(dir: impl AsRef<Path>) -> Result<Split> {
    let dir = dir.as_ref();
    let file = |stem: &str| find(dir, stem);
    Ok(Split {
        train: ImageDataset::from_idx(
            &file("train-images-idx3-ubyte")?,
            &file("train-labels-idx1-ubyte")?,
            10,
        )?,
        test: ImageDataset::from_idx(
            &file("t10k-images-idx3-ubyte")?,
            &file("t10k-labels-idx1-ubyte")?,
            10,
        )?,
    })
}

fn find(dir: &Path, stem: &str) -> Result<PathBuf> {
    for name in [format!("{stem}.gz"), stem.to_string()] {
        let p = dir.join(name);
        if p.is_file() {
            return Ok(p);
        }
    }
    Err(NetsError::DatasetMissing {
        path: dir.join(format!("{stem}.gz")),
        hint: format!(
            "install Debian's package with `sudo apt-get install dataset-fashion-mnist` (files go to \
             {FASHION_MNIST_DIR}), or point `data.path` at a directory holding the four IDX files \
             (plain or .gz) from https://github.com/zalandoresearch/fashion-mnist"
        ),
    })
}

/// The largest IDX file read, compressed or not (1 GiB; Fashion-MNIST's largest is 47 MB).
pub const IDX_LIMIT: u64 = 1 << 30;

/// Reads an IDX file of unsigned bytes (a regular file, plain or gzip, at most [`IDX_LIMIT`]
/// bytes before and after decompression): returns its dimensions and data.
pub fn read_idx(path: &Path) -> Result<(Vec<usize>, Vec<u8>)> {
    let raw = ember_envs::files::read_regular(path, IDX_LIMIT).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => NetsError::DatasetMissing {
            path: path.to_path_buf(),
            hint: "no such file".to_string(),
        },
        _ => NetsError::io(path, e),
    })?;
    let bad = |reason: String| NetsError::DatasetFormat {
        path: path.to_path_buf(),
        reason,
    };
    let bytes = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .take(IDX_LIMIT + 1)
            .read_to_end(&mut out)
            .map_err(|e| bad(format!("gzip: {e}")))?;
        if out.len() as u64 > IDX_LIMIT {
            return Err(bad(format!(
                "decompresses to more than {}",
                ember_envs::files::bytes(IDX_LIMIT)
            )));
        }
        out
    } else {
        raw
    };
    if bytes.len() < 4 || bytes[0] != 0 || bytes[1] != 0 {
        return Err(bad("not an IDX file (bad magic)".to_string()));
    }
    if bytes[2] != 0x08 {
        return Err(bad(format!(
            "IDX element type 0x{:02x}; only unsigned bytes (0x08) are read",
            bytes[2]
        )));
    }
    let ndims = bytes[3] as usize;
    let header = 4 + 4 * ndims;
    if ndims == 0 || bytes.len() < header {
        return Err(bad("truncated IDX header".to_string()));
    }
    let dims: Vec<usize> = (0..ndims)
        .map(|k| {
            u32::from_be_bytes(bytes[4 + 4 * k..8 + 4 * k].try_into().expect("4 bytes")) as usize
        })
        .collect();
    let n: usize = dims.iter().product();
    if bytes.len() - header != n {
        return Err(bad(format!(
            "dims {dims:?} need {n} bytes of data, the file has {}",
            bytes.len() - header
        )));
    }
    Ok((dims, bytes[header..].to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idx(dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut v = vec![0, 0, 8, dims.len() as u8];
        for d in dims {
            v.extend_from_slice(&d.to_be_bytes());
        }
        v.extend_from_slice(data);
        v
    }

    #[test]
    fn reads_plain_and_gzip_idx_and_refuses_bad_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x");
        std::fs::write(&p, idx(&[2, 2], &[1, 2, 3, 4])).unwrap();
        assert_eq!(read_idx(&p).unwrap(), (vec![2, 2], vec![1, 2, 3, 4]));

        let gz = dir.path().join("x.gz");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut enc, &idx(&[3], &[7, 8, 9])).unwrap();
        std::fs::write(&gz, enc.finish().unwrap()).unwrap();
        assert_eq!(read_idx(&gz).unwrap(), (vec![3], vec![7, 8, 9]));

        std::fs::write(&p, idx(&[2, 2], &[1, 2, 3])).unwrap();
        assert!(
            read_idx(&p)
                .unwrap_err()
                .to_string()
                .contains("need 4 bytes")
        );
        std::fs::write(&p, b"hello").unwrap();
        assert!(read_idx(&p).unwrap_err().to_string().contains("bad magic"));
        #[cfg(unix)]
        {
            let zero = dir.path().join("zero");
            std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
            let e = read_idx(&zero).unwrap_err().to_string();
            assert!(e.contains("not a regular file"), "{e}");
        }
    }

    #[test]
    fn missing_fashion_mnist_says_how_to_install_it() {
        let dir = tempfile::tempdir().unwrap();
        let e = fashion_mnist(dir.path()).unwrap_err().to_string();
        assert!(e.contains("apt-get install dataset-fashion-mnist"), "{e}");
    }

    #[test]
    fn permutations_are_seeded_and_complete() {
        let a = SplitMix64::stream(7, 3).permutation(100);
        let b = SplitMix64::stream(7, 3).permutation(100);
        let c = SplitMix64::stream(7, 4).permutation(100);
        assert_eq!(a, b);
        assert_ne!(a, c);
        let mut s = a.clone();
        s.sort();
        assert_eq!(s, (0..100).collect::<Vec<u32>>());
    }

    #[test]
    fn augmentation_flips_and_shifts_within_bounds() {
        // One 1x2x3 image; with shift 0 and flip forced over many draws, both orientations occur.
        let ds = ImageDataset {
            images: vec![0, 51, 102, 153, 204, 255],
            labels: vec![1],
            shape: [1, 2, 3],
            num_classes: 2,
        };
        let dev = Device::flex();
        let (x, y) = ds.batch(&[0], 0.0, 1.0, None, &dev);
        let v: Vec<f32> = crate::train::read(x.into_data()).unwrap();
        assert_eq!(v, vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0]);
        assert_eq!(crate::train::read::<i64>(y.into_data()).unwrap(), vec![1]);
        let aug = Augment {
            hflip: true,
            shift: 0,
        };
        let mut rng = SplitMix64::new(1);
        let mut seen_flip = false;
        for _ in 0..20 {
            let (x, _) = ds.batch(&[0], 0.0, 1.0, Some((&aug, &mut rng)), &dev);
            let v: Vec<f32> = crate::train::read(x.into_data()).unwrap();
            if v == vec![0.4, 0.2, 0.0, 1.0, 0.8, 0.6] {
                seen_flip = true;
            } else {
                assert_eq!(v, vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0]);
            }
        }
        assert!(seen_flip);
    }
}
