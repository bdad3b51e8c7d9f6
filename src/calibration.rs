//! `auto` by measurement: a few timed training steps on each backend at hand, and the faster one
//! trains. A software WebGPU adapter (SwiftShader) or a weak GPU is then never chosen over a
//! faster CPU. A measurement can be remembered (the page keeps it per browser) and is reused
//! for the same adapter and the same version of this crate.

use std::sync::Arc;

use burn::tensor::Device;
use serde::{Deserialize, Serialize};
use web_time::Instant;

use crate::{
    config::TrainingConfig,
    data::{Augmentation, IMAGE_PIXELS, MnistDataset, NUM_CLASSES},
    device::{Backend, ComputeDevice},
    training::{Trainer, TrainingError},
};

/// Steps of warm-up (kernels compiled, buffers made), then as many timed, per backend.
const STEPS: usize = 2;

/// What `auto` measured, and so which backend it chose.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct Calibration {
    /// Training images per second on the CPU backend, at the default batch size.
    pub cpu: f64,
    /// The same on WebGPU.
    pub webgpu: f64,
    /// The WebGPU adapter measured, as the platform describes it.
    pub adapter: String,
    /// The version of this crate that measured.
    pub version: String,
}

impl Calibration {
    /// Times training on the CPU and on `webgpu`, whose adapter is `adapter`.
    pub async fn measure(webgpu: &Device, adapter: &str) -> Result<Self, TrainingError> {
        Ok(Self {
            cpu: speed(&ComputeDevice::cpu().device).await?,
            webgpu: speed(webgpu).await?,
            adapter: adapter.to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        })
    }

    /// True when this measurement was made of `adapter` by this version of the crate (a new
    /// version may train at another speed).
    pub fn applies_to(&self, adapter: &str) -> bool {
        self.adapter == adapter && self.version == env!("CARGO_PKG_VERSION")
    }

    /// The backend that trained faster.
    pub fn faster(&self) -> Backend {
        if self.webgpu > self.cpu {
            Backend::WebGpu
        } else {
            Backend::Cpu
        }
    }

    /// What was measured and what it chose, in a sentence for people.
    pub fn reason(&self) -> String {
        let chosen = match self.faster() {
            Backend::WebGpu => "WebGPU trains faster here",
            Backend::Cpu => "the CPU trains faster here",
        };
        format!(
            "measured {:.0} images/s on WebGPU ({}) and {:.0} on the CPU: {chosen}",
            self.webgpu, self.adapter, self.cpu
        )
    }
}

/// `webgpu` (a WebGPU device of `adapter`) or the CPU, whichever trains faster: by `remembered`
/// when it applies to this adapter, otherwise measured now. A failed measurement of WebGPU
/// (a lost device, say) chooses the CPU.
pub async fn choose(
    webgpu: ComputeDevice,
    adapter: &str,
    remembered: Option<Calibration>,
) -> (ComputeDevice, Result<Calibration, TrainingError>) {
    let calibration = match remembered.filter(|c| c.applies_to(adapter)) {
        Some(c) => Ok(c),
        None => Calibration::measure(&webgpu.device, adapter).await,
    };
    let device = match &calibration {
        Ok(c) if c.faster() == Backend::WebGpu => webgpu,
        Ok(c) => ComputeDevice {
            fallback_reason: Some(c.reason()),
            ..ComputeDevice::cpu()
        },
        Err(e) => ComputeDevice {
            fallback_reason: Some(format!("WebGPU failed to train: {e}")),
            ..ComputeDevice::cpu()
        },
    };
    (device, calibration)
}

/// Training images per second on `device`: [`STEPS`] steps of the default settings (without
/// augmentation, the same cost on either backend) timed after as many of warm-up, on made-up
/// images. Each pass over them ends with a read-back, so the time covers the device's work.
pub async fn speed(device: &Device) -> Result<f64, TrainingError> {
    let config = TrainingConfig {
        epochs: 2,
        augmentation: Augmentation::Off,
        read_every: usize::MAX,
        ..TrainingConfig::default()
    };
    let images = STEPS * config.batch_size;
    let pixels = (0..images * IMAGE_PIXELS).map(|i| (i * 37 % 256) as u8);
    let labels = (0..images).map(|i| (i % NUM_CLASSES) as u8);
    let set = MnistDataset::new(pixels.collect(), labels.collect())
        .expect("whole images, one valid label each");
    let mut trainer = Trainer::new(device, Arc::new(set), config)?;
    for _ in 0..STEPS {
        trainer.step().await?;
    }
    let started = Instant::now();
    for _ in 0..STEPS {
        trainer.step().await?;
    }
    Ok(images as f64 / started.elapsed().as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measured(cpu: f64, webgpu: f64) -> Calibration {
        Calibration {
            cpu,
            webgpu,
            adapter: "google swiftshader".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }

    #[test]
    fn the_faster_backend_is_chosen_and_the_reason_says_what_was_measured() {
        let slow_gpu = measured(3300.0, 135.0);
        assert_eq!(slow_gpu.faster(), Backend::Cpu);
        assert_eq!(
            slow_gpu.reason(),
            "measured 135 images/s on WebGPU (google swiftshader) and 3300 on the CPU: the CPU trains faster here"
        );
        assert_eq!(measured(3300.0, 20000.0).faster(), Backend::WebGpu);
    }

    #[test]
    fn a_measurement_applies_to_its_adapter_and_version_only() {
        let c = measured(1.0, 2.0);
        assert!(c.applies_to("google swiftshader"));
        assert!(!c.applies_to("nvidia ampere"));
        let old = Calibration {
            version: "0.0.1".into(),
            ..c
        };
        assert!(!old.applies_to("google swiftshader"));
    }

    #[test]
    fn a_remembered_measurement_is_reused_for_its_adapter_only() {
        use futures_lite::future::block_on;
        // Natively there is no WebGPU: the CPU stands in for it.
        let remembered = measured(3300.0, 135.0);
        let (device, c) = block_on(choose(
            ComputeDevice::cpu(),
            "google swiftshader",
            Some(remembered.clone()),
        ));
        assert_eq!(c.unwrap(), remembered);
        assert_eq!(device.fallback_reason, Some(remembered.reason()));

        let (_, c) = block_on(choose(
            ComputeDevice::cpu(),
            "another adapter",
            Some(remembered),
        ));
        let c = c.unwrap();
        assert_eq!(c.adapter, "another adapter");
        assert!(c.cpu > 0.0 && c.webgpu > 0.0, "measured anew: {c:?}");
    }

    #[test]
    fn the_cpu_speed_is_measured() {
        let speed = futures_lite::future::block_on(speed(&ComputeDevice::cpu().device)).unwrap();
        assert!(speed.is_finite() && speed > 0.0, "{speed}");
    }
}
