//! The checkpoint loader on any bytes: reading a file, loading its weights into LeNet-5 and its
//! optimizer's state must answer with a value or a typed error, never panic.
//!
//! Random bytes mostly stop at the magic or the checksum, so each input is read three ways:
//! - as a whole file;
//! - as the body of a file of each format version, behind the magic and the version and with
//!   a correct checksum: the section lengths and both JSON sections meet the fuzzer's bytes;
//! - as a patch on a valid checkpoint of a fresh LeNet-5 (its first four bytes, little-endian,
//!   are where the patch starts in the body, modulo the body's length), with the checksum
//!   fixed: valid sections with a few bytes changed, which is how burn's weight loading meets
//!   damaged burnpack headers and tensors.
#![no_main]

use std::sync::LazyLock;

use burn::tensor::Device;
use lenet_web::{
    checkpoint::{Checkpoint, MAGIC, TrainingState, VERSION},
    config::TrainingConfig,
    model::LeNet5Config,
};
use libfuzzer_sys::fuzz_target;

/// A checkpoint of a fresh LeNet-5, in the format version the crate writes, made once.
static VALID: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let model = LeNet5Config::new().init(&Device::flex(), 0);
    let state = TrainingState {
        config: TrainingConfig::default(),
        step: 0,
        steps_per_epoch: 1,
        training_images: 1,
    };
    let saved = futures_lite::future::block_on(Checkpoint::save(&model, Vec::new(), state));
    saved.expect("a fresh LeNet-5 saves").to_bytes()
});

fuzz_target!(|data: &[u8]| {
    load(data);
    // Every format version the trainer reads (1 has no architecture section).
    for version in 1..=VERSION {
        load(&framed(version, data));
    }
    if let Some((at, patch)) = data.split_first_chunk::<4>() {
        let valid = &VALID[..];
        let version = u32::from_le_bytes(valid[8..12].try_into().expect("4 bytes"));
        let mut body = valid[12..valid.len() - 4].to_vec();
        let at = u32::from_le_bytes(*at) as usize % (body.len() + 1);
        let end = at + patch.len();
        body.resize(body.len().max(end), 0);
        body[at..end].copy_from_slice(patch);
        load(&framed(version, &body));
    }
});

/// `body` behind the magic and `version`, followed by its CRC-32: a file with a good checksum.
fn framed(version: u32, body: &[u8]) -> Vec<u8> {
    let mut file = [&MAGIC[..], &version.to_le_bytes(), body].concat();
    file.extend_from_slice(&crc32fast::hash(&file).to_le_bytes());
    file
}

/// Everything the page does with a checkpoint it is given: read it, summarise its state, load
/// its weights into LeNet-5 and its optimizer's state for that model.
fn load(file: &[u8]) {
    let Ok(checkpoint) = Checkpoint::from_bytes(file) else {
        return;
    };
    let _ = (checkpoint.state.epochs_done(), checkpoint.state.is_finished());
    let device = Device::flex();
    if let Ok(model) = checkpoint.model(&device) {
        let _ = checkpoint.optimizer(&model, &device);
    }
}
