//! `--device cpu|gpu`: the one place that names burn backends.

use std::fmt;
use std::str::FromStr;

use burn::tensor::Device;

use crate::error::{NetsError, Result};

/// Where a network runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceChoice {
    /// burn's pure-Rust `flex` CPU backend (SIMD kernels, rayon threads). Always available.
    #[default]
    Cpu,
    /// The first GPU: CUDA when built with `--features cuda`, else wgpu with `--features wgpu`.
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

#[allow(unreachable_code)]
fn gpu_device() -> Result<Device> {
    #[cfg(feature = "cuda")]
    return Ok(Device::cuda(0));
    #[cfg(feature = "wgpu")]
    return Ok(Device::wgpu(Default::default()));
    Err(NetsError::GpuNotBuilt)
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
