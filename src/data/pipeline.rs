//! The data pipeline of the MindSpore LeNet-5 tutorial, as plain Rust:
//! load ([`MnistDataset`]) -> shuffle (seeded, anew each epoch) -> map ([`Augmentation`], then
//! [`normalize`]) -> batch -> repeat (for the number of epochs).
//!
//! Every random draw comes from a generator seeded by the run's seed and the position in the
//! run (the epoch for the shuffle, the batch for the augmentation), so a run resumed from a
//! checkpoint sees exactly the batches the uninterrupted run would have seen.
//!
//! ```
//! # use std::sync::Arc;
//! # use lenet_web::data::{MnistDataset, Pipeline};
//! # let train = Arc::new(MnistDataset::new(vec![0; 784 * 3], vec![1, 2, 3]).unwrap());
//! let pipeline = Pipeline::new(train).shuffle(7).batch(2).repeat(2);
//! assert_eq!(pipeline.batches_per_epoch(), 2);
//! assert_eq!(pipeline.batches().count(), 4);
//! ```

use std::sync::Arc;

use rand::{SeedableRng, rngs::StdRng, seq::SliceRandom};

use super::{
    augment::Augmentation,
    mnist::{IMAGE_PIXELS, MnistDataset},
};

/// Mean of the MNIST training pixels scaled to [0, 1] (as in the MindSpore tutorial's
/// `shift_nml = -1 * 0.1307 / 0.3081` and PyTorch's MNIST example).
pub const MNIST_MEAN: f32 = 0.1307;
/// Standard deviation of the MNIST training pixels scaled to [0, 1] (same sources).
pub const MNIST_STD: f32 = 0.3081;

/// The map stage: a grey level 0-255 scaled to [0, 1], then standardised with the MNIST mean
/// and standard deviation.
pub fn normalize(grey: u8) -> f32 {
    (grey as f32 / 255.0 - MNIST_MEAN) / MNIST_STD
}

/// A batch ready for the model: `len` images of 784 normalised pixels laid end to end, and
/// their labels.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    pub images: Vec<f32>,
    pub labels: Vec<i64>,
    /// Epoch this batch belongs to, from 0.
    pub epoch: usize,
    /// Position of the batch in its epoch, from 0.
    pub index: usize,
}

impl Batch {
    /// Number of images in the batch.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Never true: the pipeline yields no empty batch.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The batch cut into at most `count` shards of consecutive images, as even as they come
    /// (sizes differ by one at most; a batch smaller than `count` gives one shard per image).
    pub fn shards(self, count: usize) -> Vec<Batch> {
        let count = count.clamp(1, self.len().max(1));
        if count == 1 {
            return vec![self];
        }
        let (base, extra) = (self.len() / count, self.len() % count);
        let mut start = 0;
        (0..count)
            .map(|shard| {
                let end = start + base + usize::from(shard < extra);
                let part = Batch {
                    images: self.images[start * IMAGE_PIXELS..end * IMAGE_PIXELS].to_vec(),
                    labels: self.labels[start..end].to_vec(),
                    ..self
                };
                start = end;
                part
            })
            .collect()
    }
}

/// The pipeline's stages, set with builder calls; [`Pipeline::batches`] runs it.
#[derive(Debug, Clone)]
pub struct Pipeline {
    dataset: Arc<MnistDataset>,
    shuffle_seed: Option<u64>,
    augmentation: Augmentation,
    augment_seed: u64,
    batch_size: usize,
    epochs: usize,
}

impl Pipeline {
    /// The images it reads from.
    pub fn dataset(&self) -> &Arc<MnistDataset> {
        &self.dataset
    }

    /// The load stage: images in file order, batches of 1, one epoch.
    pub fn new(dataset: Arc<MnistDataset>) -> Self {
        Self {
            dataset,
            shuffle_seed: None,
            augmentation: Augmentation::Off,
            augment_seed: 0,
            batch_size: 1,
            epochs: 1,
        }
    }

    /// Shuffles the images with this seed, in a new order every epoch; the same seed gives the
    /// same orders.
    pub fn shuffle(mut self, seed: u64) -> Self {
        self.shuffle_seed = Some(seed);
        self
    }

    /// The map stage's distortions, drawn from `seed`; off by default.
    pub fn augment(mut self, augmentation: Augmentation, seed: u64) -> Self {
        self.augmentation = augmentation;
        self.augment_seed = seed;
        self
    }

    /// Groups images into batches of `size` (at least 1); the last batch of an epoch may be
    /// smaller.
    pub fn batch(mut self, size: usize) -> Self {
        self.batch_size = size.max(1);
        self
    }

    /// Goes over the data `epochs` times.
    pub fn repeat(mut self, epochs: usize) -> Self {
        self.epochs = epochs;
        self
    }

    /// Batches in one epoch.
    pub fn batches_per_epoch(&self) -> usize {
        self.dataset.len().div_ceil(self.batch_size)
    }

    /// Batches over all epochs.
    pub fn total_batches(&self) -> usize {
        self.batches_per_epoch() * self.epochs
    }

    /// Runs the pipeline: an iterator over every batch of every epoch.
    pub fn batches(&self) -> Batches {
        self.batches_from(0)
    }

    /// Runs the pipeline from batch `step` (counted over all epochs from 0): the batches an
    /// uninterrupted run gives from there on.
    pub fn batches_from(&self, step: usize) -> Batches {
        let per_epoch = self.batches_per_epoch().max(1);
        let epoch = step / per_epoch;
        Batches {
            pipeline: self.clone(),
            order: self.order(epoch),
            epoch,
            index: step % per_epoch,
        }
    }

    /// The order of the images in `epoch`: file order, or a shuffle seeded by the seed and the
    /// epoch.
    fn order(&self, epoch: usize) -> Vec<u32> {
        let mut order: Vec<u32> = (0..self.dataset.len() as u32).collect();
        if let Some(seed) = self.shuffle_seed {
            order.shuffle(&mut StdRng::seed_from_u64(mix(seed, epoch as u64)));
        }
        order
    }
}

/// A seed for one position of a run: `seed` and `position` mixed (SplitMix64's finaliser), so
/// neighbouring positions get unrelated streams.
pub(crate) fn mix(seed: u64, position: u64) -> u64 {
    let mut z = seed ^ position.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The batches of a running [`Pipeline`], one at a time.
#[derive(Debug, Clone)]
pub struct Batches {
    pipeline: Pipeline,
    order: Vec<u32>,
    epoch: usize,
    index: usize,
}

impl Iterator for Batches {
    type Item = Batch;

    fn next(&mut self) -> Option<Batch> {
        let p = &self.pipeline;
        if self.index == p.batches_per_epoch() {
            self.epoch += 1;
            self.index = 0;
            if self.epoch < p.epochs {
                self.order = p.order(self.epoch);
            }
        }
        if self.epoch >= p.epochs {
            return None;
        }
        let start = self.index * p.batch_size;
        let end = (start + p.batch_size).min(self.order.len());
        let picked = &self.order[start..end];
        let step = (self.epoch * p.batches_per_epoch() + self.index) as u64;
        let mut rng = StdRng::seed_from_u64(mix(p.augment_seed, step));
        let mut images = Vec::with_capacity(picked.len() * IMAGE_PIXELS);
        let mut labels = Vec::with_capacity(picked.len());
        for &i in picked {
            let distorted;
            let image = match p.augmentation {
                Augmentation::Off => p.dataset.image(i as usize),
                kind => {
                    distorted = kind.apply(p.dataset.image(i as usize), &mut rng);
                    &distorted
                }
            };
            images.extend(image.iter().map(|&g| normalize(g)));
            labels.push(p.dataset.label(i as usize) as i64);
        }
        let batch = Batch {
            images,
            labels,
            epoch: self.epoch,
            index: self.index,
        };
        self.index += 1;
        Some(batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` images whose every pixel equals the image's position, so a batch shows which images
    /// it holds; labels are the position modulo 10.
    fn numbered(n: u8) -> Arc<MnistDataset> {
        let pixels = (0..n).flat_map(|i| [i; IMAGE_PIXELS]).collect();
        let labels = (0..n).map(|i| i % 10).collect();
        Arc::new(MnistDataset::new(pixels, labels).unwrap())
    }

    /// Positions of the images of one epoch, in the order the batches gave them.
    fn epoch_order(batches: &[Batch], epoch: usize) -> Vec<u8> {
        batches
            .iter()
            .filter(|b| b.epoch == epoch)
            .flat_map(|b| b.images.chunks(IMAGE_PIXELS))
            .map(|image| (0..=255u8).find(|&g| normalize(g) == image[0]).unwrap())
            .collect()
    }

    #[test]
    fn shards_split_a_batch_in_order_into_near_equal_parts() {
        let batch = Pipeline::new(numbered(10))
            .batch(10)
            .batches()
            .next()
            .unwrap();
        let shards = batch.clone().shards(3);
        let sizes: Vec<usize> = shards.iter().map(Batch::len).collect();
        assert_eq!(sizes, [4, 3, 3]);
        let labels: Vec<i64> = shards.iter().flat_map(|s| s.labels.clone()).collect();
        let images: Vec<f32> = shards.iter().flat_map(|s| s.images.clone()).collect();
        assert_eq!(
            (labels, images),
            (batch.labels.clone(), batch.images.clone())
        );
        assert!(shards.iter().all(|s| (s.epoch, s.index) == (0, 0)));
        assert_eq!(batch.clone().shards(1).len(), 1);
        assert_eq!(batch.shards(64).len(), 10, "no shard is empty");
    }

    #[test]
    fn normalize_matches_the_mnist_statistics() {
        assert!((normalize(0) - (-0.4242)).abs() < 1e-4);
        assert!((normalize(255) - 2.8215).abs() < 1e-4);
    }

    #[test]
    fn batches_cover_every_image_once_per_epoch_with_a_short_last_batch() {
        let pipeline = Pipeline::new(numbered(5)).batch(2).repeat(3);
        let batches: Vec<Batch> = pipeline.batches().collect();
        assert_eq!(batches.len(), 9);
        assert_eq!(pipeline.total_batches(), 9);
        assert_eq!(
            batches.iter().map(Batch::len).collect::<Vec<_>>(),
            [2, 2, 1, 2, 2, 1, 2, 2, 1]
        );
        for epoch in 0..3 {
            assert_eq!(epoch_order(&batches, epoch), [0, 1, 2, 3, 4]);
        }
    }

    #[test]
    fn map_stage_normalises_each_image_with_its_label() {
        let batch = Pipeline::new(numbered(12))
            .batch(12)
            .batches()
            .next()
            .unwrap();
        assert_eq!(batch.images.len(), 12 * IMAGE_PIXELS);
        assert_eq!(batch.images[IMAGE_PIXELS * 11], normalize(11));
        assert_eq!(batch.labels[9..], [9, 0, 1]);
    }

    #[test]
    fn shuffle_is_seeded_and_differs_between_epochs() {
        let data = numbered(40);
        let run = |seed| -> Vec<Batch> {
            Pipeline::new(data.clone())
                .shuffle(seed)
                .batch(8)
                .repeat(2)
                .batches()
                .collect()
        };
        let (a, b, c) = (run(1), run(1), run(2));
        assert_eq!(a, b);
        assert_ne!(epoch_order(&a, 0), epoch_order(&c, 0));
        assert_ne!(epoch_order(&a, 0), epoch_order(&a, 1));
        let mut seen = epoch_order(&a, 1);
        seen.sort();
        assert_eq!(seen, (0..40).collect::<Vec<u8>>());
    }

    #[test]
    fn a_run_started_midway_gives_the_batches_of_the_whole_run() {
        let pipeline = Pipeline::new(numbered(30))
            .shuffle(9)
            .augment(Augmentation::Affine, 9)
            .batch(4)
            .repeat(3);
        let whole: Vec<Batch> = pipeline.batches().collect();
        for step in [0, 5, 8, 9, 23] {
            let rest: Vec<Batch> = pipeline.batches_from(step).collect();
            assert_eq!(rest, whole[step..], "from step {step}");
        }
        assert_eq!(pipeline.batches_from(whole.len()).count(), 0);
    }

    #[test]
    fn augmentation_changes_images_but_not_labels() {
        // A digit-like image: ink in the middle, so that distortions move it.
        let mut pixels = vec![0u8; IMAGE_PIXELS * 2];
        for p in [10 * 28 + 10, 14 * 28 + 13, 17 * 28 + 16] {
            pixels[p] = 255;
            pixels[IMAGE_PIXELS + p] = 255;
        }
        let data = Arc::new(MnistDataset::new(pixels, vec![3, 8]).unwrap());
        let plain = Pipeline::new(data.clone())
            .batch(2)
            .batches()
            .next()
            .unwrap();
        let augmented = Pipeline::new(data)
            .augment(Augmentation::Elastic, 1)
            .batch(2)
            .batches()
            .next()
            .unwrap();
        assert_eq!(augmented.labels, plain.labels);
        assert_ne!(augmented.images, plain.images);
        assert_ne!(
            augmented.images[..IMAGE_PIXELS],
            augmented.images[IMAGE_PIXELS..]
        );
    }
}
