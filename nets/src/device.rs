//! `--device cpu|gpu`: the one place that names burn backends.
//!
//! `cpu` is burn's `flex` backend, always built. `gpu` is CUDA with `--features cuda`, else wgpu with
//! `--features wgpu`. A GPU is opened once per process (the first `--device gpu` call), and the
//! adapter it landed on is kept as a [`GpuAdapter`]: its name, the API it runs through, and whether
//! it is a software device on the CPU (Mesa's lavapipe/llvmpipe, which wgpu reports as device type
//! `Cpu`). Runs print it and write it into `summary.json`, so a figure from a software device is
//! never read as a GPU's. Opening the GPU is fallible: a build with wgpu on a machine without a
//! usable adapter gets [`NetsError::GpuUnavailable`], which says what to install, not a panic at
//! the first tensor.

use std::fmt;
use std::str::FromStr;

use burn::tensor::Device;

use crate::error::{NetsError, Result};

/// The adapter `--device gpu` runs on, as its backend reports it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GpuAdapter {
    /// The device's own name (`NVIDIA H200`, `llvmpipe (LLVM 15.0.6, 256 bits)`).
    pub name: String,
    /// The API it runs through: `vulkan`, `metal`, `dx12`, `gl` (wgpu) or `cuda`.
    pub backend: String,
    /// The kind of device wgpu reports: `discrete_gpu`, `integrated_gpu`, `virtual_gpu`, `cpu`
    /// (a software rasterizer) or `other`; `gpu` for CUDA.
    pub device_type: String,
    /// The driver and its version, where the backend reports them (else empty).
    pub driver: String,
    /// A software device on the CPU (device type `cpu`): its results are real, its speed says
    /// nothing about a GPU.
    pub software: bool,
}

impl fmt::Display for GpuAdapter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} via {}", self.name, self.backend)?;
        if !self.driver.is_empty() {
            write!(f, " (driver {})", self.driver)?;
        }
        if self.software {
            f.write_str(", a software device on the CPU, not a GPU: its timings are no GPU figures")
        } else {
            write!(f, ", hardware ({})", self.device_type)
        }
    }
}

/// Where a network runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceChoice {
    /// burn's pure-Rust `flex` CPU backend (SIMD kernels, rayon threads). Always available.
    #[default]
    Cpu,
    /// The first GPU: CUDA when built with `--features cuda`, else wgpu with `--features wgpu`
    /// (the adapter wgpu prefers: a hardware GPU where there is one, else a software device).
    Gpu,
}

impl DeviceChoice {
    /// The burn device, without autodiff (inference, evaluation).
    pub fn device(self) -> Result<Device> {
        match self {
            DeviceChoice::Cpu => Ok(Device::flex()),
            DeviceChoice::Gpu => gpu_device(),
        }
    }

    /// The burn device with autodiff (training).
    pub fn autodiff_device(self) -> Result<Device> {
        Ok(self.device()?.autodiff())
    }

    /// Whether this build has a GPU backend at all.
    pub fn gpu_built() -> bool {
        cfg!(any(feature = "cuda", feature = "wgpu"))
    }

    /// The adapter a `Gpu` choice runs on (opening the GPU if this process has not yet); `None`
    /// for `Cpu`.
    pub fn adapter(self) -> Result<Option<GpuAdapter>> {
        match self {
            DeviceChoice::Cpu => Ok(None),
            DeviceChoice::Gpu => gpu().map(|(_, adapter)| Some(adapter)),
        }
    }

    /// Which backend a choice runs on in this build, for logs and summaries.
    pub fn backend_name(self) -> &'static str {
        match self {
            DeviceChoice::Cpu => "flex",
            DeviceChoice::Gpu if cfg!(feature = "cuda") => "cuda",
            DeviceChoice::Gpu if cfg!(feature = "wgpu") => "wgpu",
            DeviceChoice::Gpu => "none",
        }
    }
}

fn gpu_device() -> Result<Device> {
    gpu().map(|(device, _)| device)
}

/// The GPU device and its adapter, opened once per process: a runtime can be initialized only
/// once, and every later call shares it.
#[cfg(any(feature = "cuda", feature = "wgpu"))]
fn gpu() -> Result<(Device, GpuAdapter)> {
    static GPU: std::sync::OnceLock<std::result::Result<(Device, GpuAdapter), String>> =
        std::sync::OnceLock::new();
    GPU.get_or_init(open_gpu)
        .clone()
        .map_err(NetsError::GpuUnavailable)
}

#[cfg(not(any(feature = "cuda", feature = "wgpu")))]
fn gpu() -> Result<(Device, GpuAdapter)> {
    Err(NetsError::GpuNotBuilt)
}

/// CUDA device 0, named by the runtime.
#[cfg(feature = "cuda")]
fn open_gpu() -> std::result::Result<(Device, GpuAdapter), String> {
    let device = Device::cuda(0);
    let name = identity_name(&device).unwrap_or_else(|| "CUDA device 0".to_string());
    let adapter = GpuAdapter {
        name,
        backend: "cuda".to_string(),
        device_type: "gpu".to_string(),
        driver: String::new(),
        software: false,
    };
    Ok((device, adapter))
}

/// The default wgpu adapter (a hardware GPU where there is one, else a software device), with
/// what wgpu reports about it.
#[cfg(all(feature = "wgpu", not(feature = "cuda")))]
fn open_gpu() -> std::result::Result<(Device, GpuAdapter), String> {
    use burn::tensor::wgpu::wgpu::DeviceType;
    let (device, setup) = Device::wgpu_options()
        .init_with_setup()
        .map_err(|e| e.to_string())?;
    let info = setup.adapter.get_info();
    let device_type = match info.device_type {
        DeviceType::DiscreteGpu => "discrete_gpu",
        DeviceType::IntegratedGpu => "integrated_gpu",
        DeviceType::VirtualGpu => "virtual_gpu",
        DeviceType::Cpu => "cpu",
        DeviceType::Other => "other",
    };
    let driver = [info.driver.as_str(), info.driver_info.as_str()]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(", ");
    let adapter = GpuAdapter {
        name: info.name,
        backend: info.backend.to_str().to_string(),
        device_type: device_type.to_string(),
        driver,
        software: info.device_type == DeviceType::Cpu,
    };
    Ok((device, adapter))
}

/// The device's name as its cubecl runtime reports it (opens the device).
#[cfg(feature = "cuda")]
fn identity_name(device: &Device) -> Option<String> {
    device.as_dispatch().identity().map(|id| id.name)
}

impl FromStr for DeviceChoice {
    type Err = NetsError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "cpu" => Ok(DeviceChoice::Cpu),
            "gpu" => Ok(DeviceChoice::Gpu),
            other => Err(NetsError::UnknownDevice(other.to_string())),
        }
    }
}

impl fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DeviceChoice::Cpu => "cpu",
            DeviceChoice::Gpu => "gpu",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses() {
        assert_eq!("cpu".parse::<DeviceChoice>().unwrap(), DeviceChoice::Cpu);
        assert_eq!("gpu".parse::<DeviceChoice>().unwrap(), DeviceChoice::Gpu);
        let e = "tpu".parse::<DeviceChoice>().unwrap_err().to_string();
        assert!(
            e.contains("tpu") && e.contains("cpu") && e.contains("gpu"),
            "{e}"
        );
    }

    #[test]
    fn gpu_without_a_backend_says_how_to_build_one() {
        if DeviceChoice::gpu_built() {
            return;
        }
        let e = DeviceChoice::Gpu.device().unwrap_err().to_string();
        assert!(
            e.contains("--features cuda") && e.contains("--features wgpu"),
            "{e}"
        );
    }
}
