//! The real Fashion-MNIST files from Debian's `dataset-fashion-mnist`, when installed (`.ci/run`
//! installs the package and sets `EMBER_REQUIRE_REFERENCES=1`, so there a missing dataset fails).

mod common;

use ember_nets::data::{FASHION_MNIST_DIR, fashion_mnist};

#[test]
fn debians_fashion_mnist_loads_whole_and_balanced() {
    if !std::path::Path::new(FASHION_MNIST_DIR).is_dir() {
        assert!(
            !common::references_required(),
            "{FASHION_MNIST_DIR} is missing: `apt-get install dataset-fashion-mnist` (or unset \
             EMBER_REQUIRE_REFERENCES)"
        );
        eprintln!("SKIPPED: {FASHION_MNIST_DIR} not installed");
        return;
    }
    let split = fashion_mnist(FASHION_MNIST_DIR).unwrap();
    for (set, n) in [(&split.train, 60_000), (&split.test, 10_000)] {
        assert_eq!(set.len(), n);
        assert_eq!(set.shape, [1, 28, 28]);
        assert_eq!(set.images.len(), n * 28 * 28);
        // Ten classes of exactly n/10 images each.
        let mut counts = [0usize; 10];
        for &l in &set.labels {
            counts[l as usize] += 1;
        }
        assert_eq!(counts, [n / 10; 10]);
        // Real images: dark backgrounds, bright garments, no constant image.
        let (mean, std) = set.mean_std();
        assert!(
            (0.2..0.4).contains(&mean) && (0.25..0.45).contains(&std),
            "{mean} {std}"
        );
    }
}
