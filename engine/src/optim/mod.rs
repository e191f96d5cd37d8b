//! Optimizers over a list of parameter tensors: [`Sgd`] (momentum, weight decay), [`Adam`]
//! and [`AdamW`]. A step builds every parameter's and state's new value lazily and realizes
//! them in one schedule (with whatever else the caller passes, such as the loss, so the
//! forward pass is not run twice); the parameters' handles then point at the new values.
//! In steady state a step plans nothing anew (its graph has the same structure every step,
//! and the step's numbers are kernel parameters) and takes its buffers from the pool the
//! previous step's values went back to.

use crate::error::Result;
use crate::tensor::{realize, Tensor};

/// What every optimizer does with a step's gradients.
pub trait Optimizer {
    /// Updates `params` from `grads` (one per parameter, of its shape), realizing `also` in
    /// the same schedule.
    fn step_with(
        &mut self,
        params: &mut [&mut Tensor],
        grads: &[Tensor],
        also: &[&Tensor],
    ) -> Result<()>;

    /// Updates `params` from `grads`.
    fn step(&mut self, params: &mut [&mut Tensor], grads: &[Tensor]) -> Result<()> {
        self.step_with(params, grads, &[])
    }
}

/// The new value of each parameter and of its state tensors, then realized together.
fn apply(
    params: &mut [&mut Tensor],
    grads: &[Tensor],
    also: &[&Tensor],
    state: &mut Vec<Vec<Tensor>>,
    mut update: impl FnMut(&Tensor, &Tensor, &[Tensor]) -> (Tensor, Vec<Tensor>),
) -> Result<()> {
    assert_eq!(
        params.len(),
        grads.len(),
        "optimizer step: {} parameters but {} gradients",
        params.len(),
        grads.len()
    );
    for (i, (p, g)) in params.iter().zip(grads).enumerate() {
        assert!(
            p.shape() == g.shape(),
            "optimizer step: parameter {i} has shape {:?} but its gradient {:?}",
            p.shape(),
            g.shape()
        );
    }
    state.resize(params.len(), vec![]);
    let mut new_params = vec![];
    for ((p, g), s) in params.iter().zip(grads).zip(state.iter_mut()) {
        let (np, ns) = update(p, &g.cast(p.dtype()), s);
        new_params.push(np);
        *s = ns;
    }
    let mut outputs: Vec<&Tensor> = new_params.iter().collect();
    outputs.extend(state.iter().flatten());
    outputs.extend(also);
    realize(&outputs)?;
    for (p, np) in params.iter_mut().zip(new_params) {
        **p = np;
    }
    Ok(())
}

/// Stochastic gradient descent: `v = momentum * v + g (+ weight_decay * p)`, `p -= lr * v`
/// (torch's `SGD` without dampening).
pub struct Sgd {
    lr: f64,
    momentum: f64,
    weight_decay: f64,
    velocity: Vec<Vec<Tensor>>,
}

impl Sgd {
    /// Plain SGD at learning rate `lr`.
    pub fn new(lr: f64) -> Sgd {
        Sgd {
            lr,
            momentum: 0.0,
            weight_decay: 0.0,
            velocity: vec![],
        }
    }
    /// With momentum (0.9 is usual).
    pub fn momentum(mut self, momentum: f64) -> Sgd {
        self.momentum = momentum;
        self
    }
    /// With L2 weight decay added to the gradient.
    pub fn weight_decay(mut self, weight_decay: f64) -> Sgd {
        self.weight_decay = weight_decay;
        self
    }
}

impl Optimizer for Sgd {
    fn step_with(
        &mut self,
        params: &mut [&mut Tensor],
        grads: &[Tensor],
        also: &[&Tensor],
    ) -> Result<()> {
        let (lr, momentum, wd) = (self.lr, self.momentum, self.weight_decay);
        apply(params, grads, also, &mut self.velocity, |p, g, s| {
            let g = if wd != 0.0 {
                g.add(&p.mul_scalar(wd))
            } else {
                g.clone()
            };
            let v = match (momentum != 0.0, s.first()) {
                (false, _) => return (p.sub(&g.mul_scalar(lr)), vec![]),
                (true, Some(v)) => v.mul_scalar(momentum).add(&g),
                (true, None) => g,
            };
            (p.sub(&v.mul_scalar(lr)), vec![v])
        })
    }
}

/// Adam's moment estimates and their bias correction, shared by [`Adam`] and [`AdamW`].
struct Moments {
    lr: f64,
    betas: (f64, f64),
    eps: f64,
    weight_decay: f64,
    steps: i32,
    state: Vec<Vec<Tensor>>,
}

impl Moments {
    fn new(lr: f64) -> Moments {
        Moments {
            lr,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
            steps: 0,
            state: vec![],
        }
    }

    /// One step; `decoupled` decays the parameter itself (AdamW) rather than adding the decay
    /// to the gradient (Adam's L2).
    fn step(
        &mut self,
        params: &mut [&mut Tensor],
        grads: &[Tensor],
        also: &[&Tensor],
        decoupled: bool,
    ) -> Result<()> {
        self.steps += 1;
        let (lr, (b1, b2), eps, wd) = (self.lr, self.betas, self.eps, self.weight_decay);
        let (c1, c2) = (1.0 - b1.powi(self.steps), 1.0 - b2.powi(self.steps));
        apply(params, grads, also, &mut self.state, |p, g, s| {
            let g = match (wd != 0.0, decoupled) {
                (true, false) => g.add(&p.mul_scalar(wd)),
                _ => g.clone(),
            };
            let (m, v) = match s {
                [m, v] => (
                    m.mul_scalar(b1).add(&g.mul_scalar(1.0 - b1)),
                    v.mul_scalar(b2).add(&g.square().mul_scalar(1.0 - b2)),
                ),
                _ => (g.mul_scalar(1.0 - b1), g.square().mul_scalar(1.0 - b2)),
            };
            let step = m
                .mul_scalar(lr / c1)
                .div(&v.mul_scalar(1.0 / c2).sqrt().add_scalar(eps));
            let p = match (wd != 0.0, decoupled) {
                (true, true) => p.mul_scalar(1.0 - lr * wd),
                _ => p.clone(),
            };
            (p.sub(&step), vec![m, v])
        })
    }
}

/// The builder methods and the `Optimizer` impl of an optimizer over [`Moments`].
macro_rules! moments_optimizer {
    ($name:ident, $decoupled:expr) => {
        impl $name {
            /// The moments' decay rates.
            pub fn betas(mut self, b1: f64, b2: f64) -> $name {
                self.0.betas = (b1, b2);
                self
            }
            /// The weight decay.
            pub fn weight_decay(mut self, weight_decay: f64) -> $name {
                self.0.weight_decay = weight_decay;
                self
            }
        }

        impl Optimizer for $name {
            fn step_with(
                &mut self,
                params: &mut [&mut Tensor],
                grads: &[Tensor],
                also: &[&Tensor],
            ) -> Result<()> {
                self.0.step(params, grads, also, $decoupled)
            }
        }
    };
}

/// Adam (Kingma and Ba), with optional L2 weight decay added to the gradient (torch's `Adam`).
pub struct Adam(Moments);

impl Adam {
    /// At learning rate `lr`, betas (0.9, 0.999), eps 1e-8, no weight decay.
    pub fn new(lr: f64) -> Adam {
        Adam(Moments::new(lr))
    }
}

moments_optimizer!(Adam, false);

/// AdamW (Loshchilov and Hutter): Adam with the weight decay applied to the parameter itself
/// (torch's `AdamW`, default decay 0.01).
pub struct AdamW(Moments);

impl AdamW {
    /// At learning rate `lr`, betas (0.9, 0.999), eps 1e-8, weight decay 0.01.
    pub fn new(lr: f64) -> AdamW {
        let mut m = Moments::new(lr);
        m.weight_decay = 0.01;
        AdamW(m)
    }
}

moments_optimizer!(AdamW, true);
