//! The UCI digits (examples/data/digits.csv.gz), an MLP and a small CNN, and the training
//! loop of `examples/train_digits`; shared with `tests/train_digits.rs`.

use std::io::Read;

use kiln::nn::{Conv2d, Linear};
use kiln::optim::{Adam, Optimizer};
use kiln::{Conv2dOptions, DType, Device, Tensor};

/// 1,797 images of 8x8 pixels in 0..16, and their classes.
pub struct Digits {
    pub pixels: Vec<f32>,
    pub labels: Vec<i32>,
}

impl Digits {
    /// Reads the gzipped CSV (64 pixels, then the class, per line).
    pub fn load() -> Result<Digits, Box<dyn std::error::Error>> {
        let gz = include_bytes!("../data/digits.csv.gz");
        let mut text = String::new();
        flate2::read::GzDecoder::new(&gz[..]).read_to_string(&mut text)?;
        let (mut pixels, mut labels) = (vec![], vec![]);
        for line in text.lines().filter(|l| !l.is_empty()) {
            let v: Vec<f32> = line.split(',').map(str::parse).collect::<Result<_, _>>()?;
            pixels.extend(v[..64].iter().map(|p| p / 16.0));
            labels.push(v[64] as i32);
        }
        Ok(Digits { pixels, labels })
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// A fixed shuffle of the indices, split into train (the first `train` of them) and test.
    pub fn split(&self, train: usize, seed: u64) -> (Vec<usize>, Vec<usize>) {
        let mut order: Vec<usize> = (0..self.len()).collect();
        let mut s = seed | 1;
        for i in (1..order.len()).rev() {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            order.swap(i, (s % (i as u64 + 1)) as usize);
        }
        let test = order.split_off(train);
        (order, test)
    }

    /// The images at `rows` as `[n, 64]` and their labels `[n]`, on `device`.
    pub fn tensors(&self, rows: &[usize], device: &Device) -> kiln::Result<(Tensor, Tensor)> {
        let px: Vec<f32> = rows
            .iter()
            .flat_map(|&r| self.pixels[r * 64..(r + 1) * 64].iter().copied())
            .collect();
        let lb: Vec<i32> = rows.iter().map(|&r| self.labels[r]).collect();
        Ok((
            Tensor::from_slice_on(&px, &[rows.len(), 64], device)?,
            Tensor::from_slice_on(&lb, &[rows.len()], device)?,
        ))
    }
}

/// A model of the digits: logits `[n, 10]` from images `[n, 64]`.
pub trait Model {
    fn forward(&self, x: &Tensor) -> Tensor;
    fn parameters(&mut self) -> Vec<&mut Tensor>;
}

/// 64 → 128 → ReLU → 10.
pub struct Mlp(Linear, Linear);

impl Mlp {
    pub fn new(device: &Device) -> kiln::Result<Mlp> {
        Ok(Mlp(
            Linear::new(64, 128, device)?,
            Linear::new(128, 10, device)?,
        ))
    }
}

impl Model for Mlp {
    fn forward(&self, x: &Tensor) -> Tensor {
        self.1.forward(&self.0.forward(x).relu())
    }
    fn parameters(&mut self) -> Vec<&mut Tensor> {
        let mut p = self.0.parameters();
        p.extend(self.1.parameters());
        p
    }
}

/// conv 3x3 (1 → 16 channels, padding 1) → ReLU → 2x2 max pool → linear (256 → 10).
pub struct Cnn(Conv2d, Linear);

impl Cnn {
    pub fn new(device: &Device) -> kiln::Result<Cnn> {
        let same = Conv2dOptions {
            padding: (1, 1),
            ..Default::default()
        };
        Ok(Cnn(
            Conv2d::new(1, 16, 3, same, device)?,
            Linear::new(16 * 4 * 4, 10, device)?,
        ))
    }
}

impl Model for Cnn {
    fn forward(&self, x: &Tensor) -> Tensor {
        let n = x.shape()[0] as isize;
        let h = self
            .0
            .forward(&x.reshape(&[n, 1, 8, 8]))
            .relu()
            .max_pool2d(2, 2, 0);
        self.1.forward(&h.reshape(&[n, 16 * 4 * 4]))
    }
    fn parameters(&mut self) -> Vec<&mut Tensor> {
        let mut p = self.0.parameters();
        p.extend(self.1.parameters());
        p
    }
}

/// The share of `x`'s images whose largest logit is their label (one value read back).
pub fn accuracy(model: &dyn Model, x: &Tensor, y: &Tensor) -> kiln::Result<f32> {
    let hits = model.forward(x).argmax(1).eq(y).cast(DType::F32).mean_all();
    hits.item()
}

/// Trains `model` with Adam on minibatches of `batch` drawn from `(x, y)` for `epochs`,
/// calling `progress(step, loss)` after each step (the loss is realized with the step).
pub fn train(
    model: &mut dyn Model,
    x: &Tensor,
    y: &Tensor,
    epochs: usize,
    batch: usize,
    lr: f64,
    mut progress: impl FnMut(usize, &Tensor) -> kiln::Result<()>,
) -> kiln::Result<()> {
    let n = x.shape()[0];
    let mut opt = Adam::new(lr);
    let mut order: Vec<i32> = (0..n as i32).collect();
    let mut s = 0x9E37_79B9_7F4A_7C15u64;
    let mut step = 0;
    for _ in 0..epochs {
        for i in (1..n).rev() {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            order.swap(i, (s % (i as u64 + 1)) as usize);
        }
        for rows in order.chunks(batch).filter(|r| r.len() == batch) {
            let rows = Tensor::from_slice_on(rows, &[batch], x.device())?;
            let (xb, yb) = (x.index_select(0, &rows), y.index_select(0, &rows));
            let loss = model.forward(&xb).cross_entropy(&yb);
            let mut params = model.parameters();
            let refs: Vec<&Tensor> = params.iter().map(|p| &**p).collect();
            let grads = loss.gradient(&refs);
            opt.step_with(&mut params, &grads, &[&loss])?;
            progress(step, &loss)?;
            step += 1;
        }
    }
    Ok(())
}
