//! Moving `flex` tensors in and out of plain `f32` slices, for the hand-written kernels of
//! [`crate::conv_same`] and [`crate::batch_norm`].

use burn::backend::ops::FloatTensorOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{DispatchDevice, Flex, FlexDevice};
use burn::tensor::{Device, Shape, TensorData};

/// Whether `device` is the flex backend (with or without autodiff).
pub(crate) fn is_flex(device: &Device) -> bool {
    matches!(
        device.as_dispatch().clone().inner(),
        DispatchDevice::Flex(_)
    )
}

/// Runs `f` on the tensor's values in row-major order, without a copy when the tensor is
/// contiguous from offset 0.
pub(crate) fn with_values<R>(t: FloatTensor<Flex>, f: impl FnOnce(&[f32]) -> R) -> R {
    let n = t.layout().num_elements();
    if t.layout().is_contiguous() && t.layout().start_offset() == 0 {
        f(&t.storage::<f32>()[..n])
    } else {
        let v = t
            .into_data()
            .try_into_vec::<f32>()
            .expect("Ember's flex kernels run on f32 tensors");
        f(&v)
    }
}

/// `t` itself when it is contiguous from offset 0 (so its storage is its values in order), else
/// a contiguous copy.
pub(crate) fn contiguous(t: FloatTensor<Flex>) -> FloatTensor<Flex> {
    if t.layout().is_contiguous() && t.layout().start_offset() == 0 {
        return t;
    }
    let shape = t.layout().shape().to_vec();
    let v = with_values(t, |v| v.to_vec());
    tensor(v, shape)
}

/// A flex tensor of `shape` holding `v` (flex has one device, the CPU).
pub(crate) fn tensor(v: Vec<f32>, shape: Vec<usize>) -> FloatTensor<Flex> {
    Flex::float_from_data(TensorData::new(v, Shape::from(shape)), &FlexDevice)
}
