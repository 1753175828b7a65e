//! Trunks: [`ConvTrunk`] for image-like observations, [`MlpTrunk`] for vectors, and [`Encoder`],
//! the choice between them that the RL heads hold.

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::ops::PadMode;
use burn::tensor::{Device, Tensor};

use crate::error::{NetsError, Result};

/// Plain blocks are conv → BN → ReLU; residual blocks are two of those with a skip connection
/// (a 1x1 projection where the channel count changes), as in ResNet and AlphaZero.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum BlockKind {
    /// conv → (BN) → ReLU.
    Plain,
    /// ReLU(x' + skip(x)) with x' = (BN) conv (ReLU (BN) conv x).
    Residual,
}

/// The shared convolutional trunk: `depth` blocks of `width` channels (doubled after every
/// downsampling), `[B, C, H, W] → [B, F, H', W']` (see [`ConvTrunkConfig::output_shape`]).
#[derive(Config, Debug)]
pub struct ConvTrunkConfig {
    /// Observation shape `[C, H, W]`.
    pub input_shape: [usize; 3],
    /// Channels of the first block (the trunk's width).
    pub width: usize,
    /// Number of blocks.
    pub depth: usize,
    /// Square kernel size of every conv (odd; "same" padding keeps H and W).
    #[config(default = 3)]
    pub kernel_size: usize,
    /// Plain or residual blocks.
    #[config(default = "BlockKind::Plain")]
    pub block: BlockKind,
    /// Batch normalization after every conv.
    #[config(default = true)]
    pub batch_norm: bool,
    /// Indices of the blocks followed by a 2x2 max-pool; the blocks after each pool have twice
    /// the channels. Empty keeps the full resolution (Q-nets, AlphaZero).
    #[config(default = "Vec::new()")]
    pub downsample_after: Vec<usize>,
}

/// The most parameters a trunk may have (2^28, 1 GiB of `f32` weights): a larger config is
/// refused before anything is allocated.
pub const MAX_PARAMETERS: u128 = 1 << 28;

/// Refuses a network of more than [`MAX_PARAMETERS`] parameters; `what` names the sizes.
fn check_parameters(params: u128, what: impl FnOnce() -> String) -> Result<()> {
    if params > MAX_PARAMETERS {
        return Err(invalid(format!(
            "{} would give about {} parameters, more than the {MAX_PARAMETERS} allowed",
            what(),
            ember_envs::fmt_number(params as f64)
        )));
    }
    Ok(())
}

impl ConvTrunkConfig {
    /// Checks the config; every `init` calls this first.
    pub fn validate(&self) -> Result<()> {
        let [c, h, w] = self.input_shape;
        if c == 0 || h == 0 || w == 0 {
            return Err(invalid(format!(
                "input_shape {:?} has a zero dimension",
                self.input_shape
            )));
        }
        if self.width == 0 || self.depth == 0 {
            return Err(invalid(format!(
                "width ({}) and depth ({}) must be at least 1",
                self.width, self.depth
            )));
        }
        if self.kernel_size == 0 || self.kernel_size.is_multiple_of(2) {
            return Err(invalid(format!(
                "kernel_size must be odd, got {}",
                self.kernel_size
            )));
        }
        // Blocks of width·width·k² weights (two convs in a residual block), plus the first conv.
        let k2 = (self.kernel_size as u128).pow(2);
        let params = (c as u128 + 2 * self.depth as u128 * self.width as u128)
            .saturating_mul(self.width as u128)
            .saturating_mul(k2);
        check_parameters(params, || {
            format!(
                "width {}, depth {}, kernel_size {}",
                self.width, self.depth, self.kernel_size
            )
        })?;
        let (mut h, mut w) = (h, w);
        let mut last = None;
        for &i in &self.downsample_after {
            if i >= self.depth {
                return Err(invalid(format!(
                    "downsample_after names block {i}, but there are only {} blocks (0..{})",
                    self.depth, self.depth
                )));
            }
            if last.is_some_and(|l| i <= l) {
                return Err(invalid(format!(
                    "downsample_after must be strictly increasing, got {:?}",
                    self.downsample_after
                )));
            }
            last = Some(i);
            if h < 2 || w < 2 {
                return Err(invalid(format!(
                    "too many downsamplings for a {}x{} input",
                    self.input_shape[1], self.input_shape[2]
                )));
            }
            (h, w) = (h / 2, w / 2);
        }
        Ok(())
    }

    /// The output shape `[F, H', W']` for this config's input.
    pub fn output_shape(&self) -> [usize; 3] {
        let pools = self.downsample_after.len();
        // A pool doubles the channels of the blocks after it; one after the last block does not.
        let doublings = self
            .downsample_after
            .iter()
            .filter(|&&i| i + 1 < self.depth)
            .count();
        [
            self.width << doublings,
            self.input_shape[1] >> pools,
            self.input_shape[2] >> pools,
        ]
    }

    /// Flattened output size `F·H'·W'`.
    pub fn output_len(&self) -> usize {
        self.output_shape().iter().product()
    }

    /// Builds the trunk on `device`.
    pub fn init(&self, device: &Device) -> Result<ConvTrunk> {
        self.validate()?;
        let mut blocks = Vec::with_capacity(self.depth);
        let mut cin = self.input_shape[0];
        let mut cout = self.width;
        for i in 0..self.depth {
            let pool = self.downsample_after.contains(&i);
            blocks.push(self.block_init(cin, cout, pool, device));
            cin = cout;
            if pool {
                cout *= 2;
            }
        }
        Ok(ConvTrunk {
            blocks,
            input_shape: self.input_shape,
        })
    }

    fn block_init(&self, cin: usize, cout: usize, pool: bool, device: &Device) -> ConvBlock {
        let bn = self.batch_norm;
        let conv = |i: usize, o: usize| {
            Conv2dConfig::new([i, o], [self.kernel_size, self.kernel_size])
                .with_padding(PaddingConfig2d::Same)
                .with_bias(!bn)
                .init(device)
        };
        let norm = |o: usize| bn.then(|| BatchNormConfig::new(o).init(device));
        let residual = self.block == BlockKind::Residual;
        ConvBlock {
            conv1: conv(cin, cout),
            norm1: norm(cout),
            conv2: residual.then(|| conv(cout, cout)),
            norm2: if residual { norm(cout) } else { None },
            project: (residual && cin != cout).then(|| {
                Conv2dConfig::new([cin, cout], [1, 1])
                    .with_bias(false)
                    .init(device)
            }),
            pool: pool.then(|| MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init()),
        }
    }
}

/// One block of the trunk (see [`BlockKind`]), optionally followed by a 2x2 max-pool.
#[derive(Module, Debug)]
pub struct ConvBlock {
    conv1: Conv2d,
    norm1: Option<BatchNorm>,
    conv2: Option<Conv2d>,
    norm2: Option<BatchNorm>,
    project: Option<Conv2d>,
    pool: Option<MaxPool2d>,
}

impl ConvBlock {
    /// `[B, Cin, H, W] → [B, Cout, H, W]`, or `[B, Cout, H/2, W/2]` with a pool.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let y = conv(&self.conv1, x.clone()); // [B, Cout, H, W]
        let y = norm(&self.norm1, y); // [B, Cout, H, W]
        let y = match &self.conv2 {
            None => y, // [B, Cout, H, W]: plain block, before its ReLU
            Some(conv2) => {
                let y = conv(conv2, relu(y)); // [B, Cout, H, W]
                let y = norm(&self.norm2, y); // [B, Cout, H, W]
                let skip = match &self.project {
                    Some(p) => p.forward(x), // [B, Cout, H, W]: 1x1 projection
                    None => x,               // [B, Cout, H, W]: Cin == Cout
                };
                y + skip // [B, Cout, H, W]: before the block's last ReLU
            }
        };
        match &self.pool {
            // One fused pass on the CPU (same values and gradients).
            Some(_) if crate::relu_pool::usable(&y) => crate::relu_pool::relu_max_pool_2x2(y), // [B, Cout, H/2, W/2]
            Some(pool) => pool.forward(relu(y)), // [B, Cout, H/2, W/2]
            None => relu(y),                     // [B, Cout, H, W]
        }
    }
}

/// The trunk's convolution on the CPU: [`conv_im2col`] for the convs that burn's flex backend
/// sends to its direct small-channel loops (`C_in ≤ 4`, `C_out ≤ 16`, as MinAtar's first conv),
/// [`crate::conv_same`] (per image one matmul into the output planes, hand-written backward) for the other
/// "same" convs (the classifier's), and burn's `conv.forward(x)` elsewhere (other backends,
/// strides, dilation, groups).
fn conv(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let [c_out, c_in, kh, kw] = conv.weight.dims();
    let plain = conv.stride == [1, 1] && conv.dilation == [1, 1] && conv.groups == 1;
    let same = matches!(conv.padding, PaddingConfig2d::Same);
    if plain && same && c_in <= 4 && c_out <= 16 {
        conv_im2col(conv, x)
    } else if plain && same && kh == kw && crate::conv_same::usable(&x, kh) {
        conv_same_layer(conv, x)
    } else {
        conv.forward(x)
    }
}

/// A stride-1, "same"-padded `conv` through [`crate::conv_same`], with the conv's own bias.
/// `[B, C, H, W] → [B, O, H, W]`.
fn conv_same_layer(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let [c_out, _, _, _] = conv.weight.dims();
    let bias = match &conv.bias {
        Some(bias) => bias.val(),                    // [O]
        None => Tensor::zeros([c_out], &x.device()), // [O]
    };
    crate::conv_same::conv_same(x, conv.weight.val(), bias) // [B, O, H, W]
}

/// A stride-1, "same"-padded, ungrouped, undilated `conv` (odd kernel) as im2col + one batched
/// matmul with the conv's own weight and bias: the `kh·kw` shifted views of the zero-padded
/// input stacked as columns `[B, C·kh·kw, H·W]`, multiplied by the weight seen as `[O, C·kh·kw]`.
/// `[B, C, H, W] → [B, O, H, W]`.
pub fn conv_im2col(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    let [o, _, kh, kw] = conv.weight.dims();
    let (ph, pw) = (kh / 2, kw / 2);
    let xp = x.pad([(ph, ph), (pw, pw)], PadMode::Constant(0.0)); // [B, C, H+kh−1, W+kw−1]
    let taps: Vec<Tensor<4>> = (0..kh)
        .flat_map(|i| (0..kw).map(move |j| (i, j)))
        .map(|(i, j)| xp.clone().slice([0..b, 0..c, i..i + h, j..j + w])) // [B, C, H, W]
        .collect();
    let cols = Tensor::stack::<5>(taps, 2).reshape([b, c * kh * kw, h * w]); // [B, C·kh·kw, H·W]
    let weight = conv.weight.val().reshape([1, o, c * kh * kw]); // [1, O, C·kh·kw]
    let y = weight.matmul(cols); // [B, O, H·W]
    let y = match &conv.bias {
        Some(bias) => y + bias.val().reshape([1, o, 1]), // [B, O, H·W]
        None => y,
    };
    y.reshape([b, o, h, w]) // [B, O, H, W]
}

fn norm(bn: &Option<BatchNorm>, x: Tensor<4>) -> Tensor<4> {
    match bn {
        Some(bn) => crate::batch_norm::forward(bn, x), // fused on the CPU while training
        None => x,
    }
}

/// The conv trunk shared by every image network.
#[derive(Module, Debug)]
pub struct ConvTrunk {
    blocks: Vec<ConvBlock>,
    input_shape: [usize; 3],
}

impl ConvTrunk {
    /// `[B, C, H, W] → [B, F, H', W']`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let mut x = x; // [B, C, H, W]
        for block in &self.blocks {
            x = block.forward(x); // [B, width·2^k, H/2^k, W/2^k] after k pools
        }
        x // [B, F, H', W']
    }

    /// Flat observations `[B, C·H·W] → [B, F, H', W']`.
    pub fn forward_flat(&self, obs: Tensor<2>) -> Tensor<4> {
        let [b, _] = obs.dims();
        let [c, h, w] = self.input_shape;
        self.forward(obs.reshape([b, c, h, w])) // [B, C·H·W] → [B, C, H, W] → [B, F, H', W']
    }

    /// The observation shape `[C, H, W]` this trunk takes.
    pub fn input_shape(&self) -> [usize; 3] {
        self.input_shape
    }

    /// The trunk's one convolution, when the trunk is a single plain block of a stride-1,
    /// "same", biased conv without batch norm or pooling (MinAtar's DQN network), for
    /// [`crate::qnet_fused`].
    pub(crate) fn single_plain_conv(&self) -> Option<&Conv2d> {
        let [block] = self.blocks.as_slice() else {
            return None;
        };
        let conv = &block.conv1;
        let [_, _, kh, kw] = conv.weight.dims();
        let plain = block.norm1.is_none()
            && block.conv2.is_none()
            && block.pool.is_none()
            && conv.bias.is_some()
            && conv.stride == [1, 1]
            && conv.dilation == [1, 1]
            && conv.groups == 1
            && kh == kw
            && kh % 2 == 1
            && matches!(conv.padding, PaddingConfig2d::Same);
        plain.then_some(conv)
    }
}

/// A multi-layer perceptron for vector observations: Linear → ReLU per hidden layer.
#[derive(Config, Debug)]
pub struct MlpTrunkConfig {
    /// Input size.
    pub input: usize,
    /// Hidden layer sizes (at least one).
    pub hidden: Vec<usize>,
}

impl MlpTrunkConfig {
    /// Checks the config.
    pub fn validate(&self) -> Result<()> {
        if self.input == 0 || self.hidden.is_empty() || self.hidden.contains(&0) {
            return Err(invalid(format!(
                "an MLP needs input >= 1 and at least one non-empty hidden layer, got input {} \
                 and hidden {:?}",
                self.input, self.hidden
            )));
        }
        let mut fan_in = self.input as u128;
        let mut params: u128 = 0;
        for &h in &self.hidden {
            params = params.saturating_add(fan_in.saturating_mul(h as u128));
            fan_in = h as u128;
        }
        check_parameters(params, || format!("hidden {:?}", self.hidden))?;
        Ok(())
    }

    /// Size of the output features.
    pub fn output_len(&self) -> usize {
        self.hidden.last().copied().unwrap_or(self.input)
    }

    /// Builds the MLP.
    pub fn init(&self, device: &Device) -> Result<MlpTrunk> {
        self.validate()?;
        let sizes: Vec<usize> = std::iter::once(self.input)
            .chain(self.hidden.iter().copied())
            .collect();
        let layers = sizes
            .windows(2)
            .map(|w| LinearConfig::new(w[0], w[1]).init(device))
            .collect();
        Ok(MlpTrunk { layers })
    }
}

/// See [`MlpTrunkConfig`].
#[derive(Module, Debug)]
pub struct MlpTrunk {
    layers: Vec<Linear>,
}

impl MlpTrunk {
    /// `[B, I] → [B, H_last]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let mut x = x; // [B, I]
        for layer in &self.layers {
            x = relu(layer.forward(x)); // [B, H_k]
        }
        x // [B, H_last]
    }
}

/// The observation encoder of an RL network: the conv trunk for `[C, H, W]` observations, an MLP
/// for vectors.
#[derive(Config, Debug)]
pub enum EncoderConfig {
    /// Image-like observations.
    Conv(ConvTrunkConfig),
    /// Vector observations.
    Mlp(MlpTrunkConfig),
}

impl EncoderConfig {
    /// Checks the config.
    pub fn validate(&self) -> Result<()> {
        match self {
            EncoderConfig::Conv(c) => c.validate(),
            EncoderConfig::Mlp(m) => m.validate(),
        }
    }

    /// Flat observation length the encoder takes.
    pub fn input_len(&self) -> usize {
        match self {
            EncoderConfig::Conv(c) => c.input_shape.iter().product(),
            EncoderConfig::Mlp(m) => m.input,
        }
    }

    /// Flat feature length the encoder produces.
    pub fn output_len(&self) -> usize {
        match self {
            EncoderConfig::Conv(c) => c.output_len(),
            EncoderConfig::Mlp(m) => m.output_len(),
        }
    }

    /// Builds the encoder.
    pub fn init(&self, device: &Device) -> Result<Encoder> {
        Ok(match self {
            EncoderConfig::Conv(c) => Encoder::Conv(c.init(device)?),
            EncoderConfig::Mlp(m) => Encoder::Mlp(m.init(device)?),
        })
    }
}

/// See [`EncoderConfig`].
#[derive(Module, Debug)]
pub enum Encoder {
    /// The shared conv trunk.
    Conv(ConvTrunk),
    /// An MLP.
    Mlp(MlpTrunk),
}

impl Encoder {
    /// Flat observations `[B, obs_len] → [B, features]`.
    pub fn forward(&self, obs: Tensor<2>) -> Tensor<2> {
        match self {
            Encoder::Conv(t) => t.forward_flat(obs).flatten(1, 3), // [B, F, H', W'] → [B, F·H'·W']
            Encoder::Mlp(m) => m.forward(obs),                     // [B, H_last]
        }
    }
}

pub(crate) fn invalid(msg: String) -> NetsError {
    NetsError::Config(msg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;

    /// Values and gradients of `conv_im2col` and `conv_same::conv_same` against burn's
    /// `Conv2d::forward`.
    fn compare(cin: usize, cout: usize, k: usize, bias: bool, [b, h, w]: [usize; 3]) {
        compare_with(cin, cout, k, bias, [b, h, w], &|conv, x| {
            conv_im2col(conv, x)
        });
        compare_with(cin, cout, k, bias, [b, h, w], &conv_same_layer);
    }

    /// Values and gradients (input, weight, bias) of `f` and of burn's `Conv2d::forward`.
    fn compare_with(
        cin: usize,
        cout: usize,
        k: usize,
        bias: bool,
        [b, h, w]: [usize; 3],
        f: &dyn Fn(&Conv2d, Tensor<4>) -> Tensor<4>,
    ) {
        let dev = Device::flex().autodiff();
        dev.seed(7);
        let conv = Conv2dConfig::new([cin, cout], [k, k])
            .with_padding(PaddingConfig2d::Same)
            .with_bias(bias)
            .init(&dev);
        let x = Tensor::<4>::random([b, cin, h, w], Distribution::Normal(0.0, 1.0), &dev);
        // A random linear functional of the output, so every output element has its own weight.
        let r = Tensor::<4>::random([b, cout, h, w], Distribution::Normal(0.0, 1.0), &dev);
        let run = |f: &dyn Fn(Tensor<4>) -> Tensor<4>| {
            let x = x.clone().detach().require_grad();
            let y = f(x.clone());
            let grads = (y.clone() * r.clone()).sum().backward();
            let mut out = vec![y.into_data(), x.grad(&grads).unwrap().into_data()];
            out.push(conv.weight.val().grad(&grads).unwrap().into_data());
            if let Some(bias) = &conv.bias {
                out.push(bias.val().grad(&grads).unwrap().into_data());
            }
            out
        };
        let ours = run(&|x| f(&conv, x));
        let burns = run(&|x| conv.forward(x));
        for (what, (a, e)) in ["output", "input grad", "weight grad", "bias grad"]
            .iter()
            .zip(ours.into_iter().zip(burns))
        {
            let what = format!("{what} of a {cin}->{cout} {k}x{k} conv");
            crate::flex_util::assert_close(a, e, 1e-4, &what);
        }
    }

    #[test]
    fn im2col_and_conv_same_match_burns_conv() {
        compare(4, 16, 3, true, [5, 10, 10]); // the MinAtar Q-net's conv
        compare(32, 64, 3, false, [3, 14, 14]); // the classifier's second conv
        compare(1, 8, 3, false, [3, 28, 28]); // a classifier's first conv (no bias under BN)
        compare(6, 5, 5, true, [2, 7, 9]); // 5x5, non-square image
        compare(3, 4, 1, true, [2, 4, 4]); // 1x1
    }
}
