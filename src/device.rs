//! The choice of backend: WebGPU (burn-wgpu) when the browser gives an adapter, otherwise the
//! pure-Rust CPU backend (burn's `flex`). One build holds both; the rest of the crate only sees a
//! [`Device`] and never branches on the backend.

use std::str::FromStr;
#[cfg(target_arch = "wasm32")]
use std::sync::OnceLock;

use burn::tensor::Device;
use thiserror::Error;

/// The backend a caller asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BackendRequest {
    /// WebGPU when an adapter is available, otherwise the CPU.
    #[default]
    Auto,
    /// WebGPU, or an error.
    WebGpu,
    /// The CPU backend.
    Cpu,
}

/// The backend a device runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    WebGpu,
    Cpu,
}

impl Backend {
    /// The name shown to people and to JS: `"webgpu"` or `"cpu"`.
    pub fn name(self) -> &'static str {
        match self {
            Backend::WebGpu => "webgpu",
            Backend::Cpu => "cpu",
        }
    }
}

/// Why no device of the requested kind could be had.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum DeviceError {
    #[error("unknown backend {0:?}: use \"auto\", \"webgpu\" or \"cpu\"")]
    UnknownBackend(String),
    #[error("WebGPU is not available: {0}")]
    WebGpuUnavailable(String),
    #[error("unknown backend {0:?}: use \"cpu\", \"wgpu\" or \"cuda\"")]
    UnknownNativeBackend(String),
    #[error("this build has no {0} backend: build it with `--features {0}`")]
    NotBuilt(&'static str),
    #[error("no {backend} device {index}: {reason}")]
    NoSuchDevice {
        backend: &'static str,
        index: usize,
        reason: String,
    },
}

impl FromStr for BackendRequest {
    type Err = DeviceError;

    fn from_str(name: &str) -> Result<Self, DeviceError> {
        match name.to_ascii_lowercase().as_str() {
            "" | "auto" => Ok(Self::Auto),
            "webgpu" | "gpu" => Ok(Self::WebGpu),
            "cpu" => Ok(Self::Cpu),
            _ => Err(DeviceError::UnknownBackend(name.to_owned())),
        }
    }
}

/// A device to train on, with the backend it runs on.
#[derive(Debug, Clone)]
pub struct ComputeDevice {
    pub device: Device,
    pub backend: Backend,
    /// Why `Auto` fell back to the CPU, if it did.
    pub fallback_reason: Option<String>,
}

impl ComputeDevice {
    /// The CPU backend; always available.
    pub fn cpu() -> Self {
        run_static_constructors();
        Self {
            device: Device::flex(),
            backend: Backend::Cpu,
            fallback_reason: None,
        }
    }

    /// True for a device the platform can take away mid-run (a GPU: a driver reset, the GPU
    /// unplugged, the browser reclaiming it); the CPU stays.
    pub fn can_be_lost(&self) -> bool {
        self.backend == Backend::WebGpu
    }

    /// A device for `request`. `Auto` falls back to the CPU when WebGPU fails; `WebGpu` returns
    /// the failure. `webgpu_present` is the caller's knowledge of whether the platform offers
    /// WebGPU at all (in a browser, `navigator.gpu`); without it no adapter is requested.
    pub async fn select(
        request: BackendRequest,
        webgpu_present: bool,
    ) -> Result<Self, DeviceError> {
        match request {
            BackendRequest::Cpu => Ok(Self::cpu()),
            BackendRequest::WebGpu => webgpu_device(webgpu_present).await,
            BackendRequest::Auto => {
                Ok(webgpu_device(webgpu_present)
                    .await
                    .unwrap_or_else(|e| Self {
                        fallback_reason: Some(e.to_string()),
                        ..Self::cpu()
                    }))
            }
        }
    }
}

/// A backend of the native trainer (`lenet-train --backend`), and its devices.
#[cfg(not(target_arch = "wasm32"))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NativeBackend {
    /// burn's `flex`, multi-threaded with rayon.
    #[default]
    Cpu,
    /// burn-wgpu natively: Vulkan, Metal or DX12 (cargo feature `wgpu`).
    Wgpu,
    /// burn-cuda (cargo feature `cuda`).
    Cuda,
}

#[cfg(not(target_arch = "wasm32"))]
impl FromStr for NativeBackend {
    type Err = DeviceError;

    fn from_str(name: &str) -> Result<Self, DeviceError> {
        match name.to_ascii_lowercase().as_str() {
            "cpu" => Ok(Self::Cpu),
            "wgpu" => Ok(Self::Wgpu),
            "cuda" => Ok(Self::Cuda),
            _ => Err(DeviceError::UnknownNativeBackend(name.to_owned())),
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
impl NativeBackend {
    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::Cpu => "cpu",
            Self::Wgpu => "wgpu",
            Self::Cuda => "cuda",
        }
    }

    /// The first `count` devices of this backend, to train on data-parallel (see
    /// `Trainer::data_parallel`). The CPU is one device: `count` CPU devices are that device
    /// `count` times, each shard trained in a thread of its own. The GPUs of wgpu are the
    /// machine's discrete GPUs in order (its default GPU when `count` is 1); those of CUDA, the
    /// CUDA devices in order.
    pub fn devices(self, count: usize) -> Result<Vec<Device>, DeviceError> {
        match self {
            Self::Cpu => Ok(vec![ComputeDevice::cpu().device; count]),
            Self::Wgpu => wgpu_devices(count),
            Self::Cuda => cuda_devices(count),
        }
    }
}

#[cfg(all(not(target_arch = "wasm32"), feature = "wgpu"))]
fn wgpu_devices(count: usize) -> Result<Vec<Device>, DeviceError> {
    use burn::tensor::DeviceKind;
    (0..count)
        .map(|index| {
            let kind = match count {
                1 => DeviceKind::DefaultDevice,
                _ => DeviceKind::DiscreteGpu(index),
            };
            Device::wgpu_options()
                .device_kind(kind)
                .init()
                .map_err(|e| DeviceError::NoSuchDevice {
                    backend: "wgpu",
                    index,
                    reason: e.to_string(),
                })
        })
        .collect()
}

#[cfg(all(not(target_arch = "wasm32"), not(feature = "wgpu")))]
fn wgpu_devices(_count: usize) -> Result<Vec<Device>, DeviceError> {
    Err(DeviceError::NotBuilt("wgpu"))
}

#[cfg(all(not(target_arch = "wasm32"), feature = "cuda"))]
fn cuda_devices(count: usize) -> Result<Vec<Device>, DeviceError> {
    use std::panic::{AssertUnwindSafe, catch_unwind};
    (0..count)
        .map(|index| {
            let device = Device::cuda(index);
            // burn-cuda opens a device at its first use and panics if there is none: use it here.
            catch_unwind(AssertUnwindSafe(|| {
                burn::tensor::Tensor::<1>::zeros([1], &device).into_data()
            }))
            .map(|_| device.clone())
            .map_err(|panic| DeviceError::NoSuchDevice {
                backend: "cuda",
                index,
                reason: panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "it could not be opened".into()),
            })
        })
        .collect()
}

#[cfg(all(not(target_arch = "wasm32"), not(feature = "cuda")))]
fn cuda_devices(_count: usize) -> Result<Vec<Device>, DeviceError> {
    Err(DeviceError::NotBuilt("cuda"))
}

/// Runs the module's static constructors, once. burn's WebGPU compiler (cubecl) registers its
/// IR with `inventory`, whose constructors the linker gathers into `__wasm_call_ctors`. A module
/// that never calls it gets it called at the top of every exported function, which cost about
/// 4 ms per call into the .wasm (docs/performance.md); calling it here, before any device exists,
/// turns that off.
fn run_static_constructors() {
    #[cfg(target_arch = "wasm32")]
    {
        unsafe extern "C" {
            fn __wasm_call_ctors();
        }
        static ONCE: std::sync::Once = std::sync::Once::new();
        // SAFETY: the linker's function runs the constructors of the linked crates (inventory
        // registrations, safe to run again); `Once` runs it once.
        ONCE.call_once(|| unsafe { __wasm_call_ctors() });
    }
}

/// The one WebGPU device of this program: burn's wgpu runtime can be initialised only once, so a
/// second request reuses the first device.
#[cfg(target_arch = "wasm32")]
static WEBGPU: OnceLock<Device> = OnceLock::new();

/// Why the WebGPU device was lost, once it was: burn's runtime keeps its first device for the
/// whole program, so later requests for WebGPU here fail, saying why.
#[cfg(target_arch = "wasm32")]
static WEBGPU_LOST: OnceLock<String> = OnceLock::new();

/// Records that the WebGPU device was lost (`message` says why); later requests for WebGPU in
/// this program fail.
pub fn webgpu_lost(message: &str) {
    #[cfg(target_arch = "wasm32")]
    let _ = WEBGPU_LOST.set(message.to_owned());
    #[cfg(not(target_arch = "wasm32"))]
    let _ = message;
}

#[cfg(not(target_arch = "wasm32"))]
async fn webgpu_device(_webgpu_present: bool) -> Result<ComputeDevice, DeviceError> {
    Err(DeviceError::WebGpuUnavailable(
        "native builds train on the CPU backend; WebGPU is for the browser".into(),
    ))
}

#[cfg(target_arch = "wasm32")]
async fn webgpu_device(webgpu_present: bool) -> Result<ComputeDevice, DeviceError> {
    run_static_constructors();
    if !webgpu_present {
        return Err(DeviceError::WebGpuUnavailable(
            "this browser has no navigator.gpu".into(),
        ));
    }
    if let Some(message) = WEBGPU_LOST.get() {
        return Err(DeviceError::WebGpuUnavailable(format!(
            "the GPU device was lost ({}); a reload, or a model in a new worker, gets a new one",
            message.trim_end_matches('.')
        )));
    }
    let device = match WEBGPU.get() {
        Some(device) => device.clone(),
        None => {
            let device = Device::wgpu_options()
                .init_async()
                .await
                .map_err(|e| DeviceError::WebGpuUnavailable(e.to_string()))?;
            WEBGPU.get_or_init(|| device).clone()
        }
    };
    Ok(ComputeDevice {
        device,
        backend: Backend::WebGpu,
        fallback_reason: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn auto_falls_back_to_the_cpu_and_says_why() {
        let device =
            futures_lite::future::block_on(ComputeDevice::select(BackendRequest::Auto, false))
                .unwrap();
        assert_eq!(device.backend, Backend::Cpu);
        assert!(device.fallback_reason.unwrap().contains("WebGPU"));
        assert!(
            futures_lite::future::block_on(ComputeDevice::select(BackendRequest::WebGpu, false))
                .is_err()
        );
    }

    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn native_backends_parse_and_say_when_they_are_not_built() {
        assert_eq!("CPU".parse(), Ok(NativeBackend::Cpu));
        assert_eq!(NativeBackend::Cpu.devices(3).unwrap().len(), 3);
        assert!(matches!(
            "webgpu".parse::<NativeBackend>(),
            Err(DeviceError::UnknownNativeBackend(_))
        ));
        #[cfg(not(feature = "cuda"))]
        assert_eq!(
            "cuda"
                .parse::<NativeBackend>()
                .unwrap()
                .devices(1)
                .unwrap_err()
                .to_string(),
            "this build has no cuda backend: build it with `--features cuda`"
        );
    }

    #[test]
    fn backend_names_parse() {
        assert_eq!("auto".parse(), Ok(BackendRequest::Auto));
        assert_eq!("WebGPU".parse(), Ok(BackendRequest::WebGpu));
        assert_eq!("cpu".parse(), Ok(BackendRequest::Cpu));
        assert!(matches!(
            "tpu".parse::<BackendRequest>(),
            Err(DeviceError::UnknownBackend(_))
        ));
    }
}
