//! The few layers a model needs, each a struct of parameter tensors with `forward` and
//! `parameters` (what an optimizer updates): [`Linear`], [`Conv2d`], [`LayerNorm`],
//! [`Embedding`]; and the initializers they draw from kiln's own random numbers
//! ([`kaiming_uniform`], [`xavier_uniform`]), so that `manual_seed` replays a model.

use crate::dtype::DType;
use crate::error::Result;
use crate::runtime::Device;
use crate::tensor::{Conv2dOptions, Tensor};

/// `value` everywhere, uploaded: a parameter must be a buffer, not a constant, which the
/// graph would fold into the ops that read it (`x + 0` is `x`) and no gradient would reach.
fn filled(shape: &[usize], value: f32, device: &Device) -> Result<Tensor> {
    let n: usize = shape.iter().product();
    Tensor::from_slice_on(&vec![value; n], shape, device)
}

/// Uniform in `[-bound, bound)` of `shape`, realized.
fn uniform(shape: &[usize], bound: f64, device: &Device) -> Result<Tensor> {
    let u = Tensor::rand_on(shape, DType::F32, device);
    (&u * (2.0 * bound) as f32 - bound as f32).realize()
}

/// He's uniform initialization for a layer of `fan_in` inputs: `U(-b, b)` with
/// `b = gain * sqrt(3 / fan_in)` and the ReLU gain `sqrt(2)` (torch's `kaiming_uniform_` with
/// `nonlinearity="relu"`), realized.
pub fn kaiming_uniform(shape: &[usize], fan_in: usize, device: &Device) -> Result<Tensor> {
    uniform(shape, (6.0 / fan_in.max(1) as f64).sqrt(), device)
}

/// Glorot's uniform initialization: `U(-b, b)` with `b = sqrt(6 / (fan_in + fan_out))`
/// (torch's `xavier_uniform_`), realized.
pub fn xavier_uniform(
    shape: &[usize],
    fan_in: usize,
    fan_out: usize,
    device: &Device,
) -> Result<Tensor> {
    uniform(
        shape,
        (6.0 / (fan_in + fan_out).max(1) as f64).sqrt(),
        device,
    )
}

/// `x @ weight + bias`: weight `[inputs, outputs]` (so that the product needs no transpose),
/// bias `[outputs]`.
pub struct Linear {
    /// `[inputs, outputs]`.
    pub weight: Tensor,
    /// `[outputs]`.
    pub bias: Tensor,
}

impl Linear {
    /// A layer with Kaiming-uniform weights and zero bias.
    pub fn new(inputs: usize, outputs: usize, device: &Device) -> Result<Linear> {
        Ok(Linear {
            weight: kaiming_uniform(&[inputs, outputs], inputs, device)?,
            bias: filled(&[outputs], 0.0, device)?,
        })
    }
    /// `x` `[.., inputs]` → `[.., outputs]`.
    pub fn forward(&self, x: &Tensor) -> Tensor {
        x.matmul(&self.weight).add(&self.bias)
    }
    /// The weight and the bias.
    pub fn parameters(&mut self) -> Vec<&mut Tensor> {
        vec![&mut self.weight, &mut self.bias]
    }
}

/// A 2-D convolution (`Tensor::conv2d_with`) with a bias per output channel.
pub struct Conv2d {
    /// `[outputs, inputs / groups, kernel, kernel]`.
    pub weight: Tensor,
    /// `[outputs]`.
    pub bias: Tensor,
    /// Stride, padding, dilation, groups.
    pub options: Conv2dOptions,
}

impl Conv2d {
    /// A `kernel`x`kernel` convolution from `inputs` to `outputs` channels with Kaiming-uniform
    /// weights, zero bias and the given stride and padding.
    pub fn new(
        inputs: usize,
        outputs: usize,
        kernel: usize,
        options: Conv2dOptions,
        device: &Device,
    ) -> Result<Conv2d> {
        let fan_in = inputs / options.groups.max(1) * kernel * kernel;
        Ok(Conv2d {
            weight: kaiming_uniform(
                &[outputs, inputs / options.groups.max(1), kernel, kernel],
                fan_in,
                device,
            )?,
            bias: filled(&[outputs], 0.0, device)?,
            options,
        })
    }
    /// `x` `[N, C, H, W]` → `[N, outputs, H', W']`.
    pub fn forward(&self, x: &Tensor) -> Tensor {
        x.conv2d_with(&self.weight, Some(&self.bias), self.options)
    }
    /// The weight and the bias.
    pub fn parameters(&mut self) -> Vec<&mut Tensor> {
        vec![&mut self.weight, &mut self.bias]
    }
}

/// Layer normalization over the last axis with a learned scale and shift.
pub struct LayerNorm {
    /// `[features]`, starting at 1.
    pub weight: Tensor,
    /// `[features]`, starting at 0.
    pub bias: Tensor,
    /// Added to the variance.
    pub eps: f64,
}

impl LayerNorm {
    /// Over `features` (the last axis), eps 1e-5 (torch's default).
    pub fn new(features: usize, device: &Device) -> Result<LayerNorm> {
        Ok(LayerNorm {
            weight: filled(&[features], 1.0, device)?,
            bias: filled(&[features], 0.0, device)?,
            eps: 1e-5,
        })
    }
    /// `layer_norm(x) * weight + bias` over the last axis.
    pub fn forward(&self, x: &Tensor) -> Tensor {
        x.layer_norm(-1, self.eps).mul(&self.weight).add(&self.bias)
    }
    /// The scale and the shift.
    pub fn parameters(&mut self) -> Vec<&mut Tensor> {
        vec![&mut self.weight, &mut self.bias]
    }
}

/// A lookup table of `vocabulary` rows of `features`.
pub struct Embedding {
    /// `[vocabulary, features]`, standard normal (torch's default).
    pub weight: Tensor,
}

impl Embedding {
    /// A table of standard normal rows.
    pub fn new(vocabulary: usize, features: usize, device: &Device) -> Result<Embedding> {
        Ok(Embedding {
            weight: Tensor::randn_on(&[vocabulary, features], DType::F32, device).realize()?,
        })
    }
    /// Token ids (i32 or u32, any shape) → their rows (`[.., features]`).
    pub fn forward(&self, tokens: &Tensor) -> Tensor {
        let mut shape = tokens.shape().to_vec();
        shape.push(self.weight.shape()[1]);
        let flat: Vec<isize> = shape.iter().map(|&d| d as isize).collect();
        self.weight
            .index_select(0, &tokens.flatten())
            .reshape(&flat)
    }
    /// The table.
    pub fn parameters(&mut self) -> Vec<&mut Tensor> {
        vec![&mut self.weight]
    }
}
