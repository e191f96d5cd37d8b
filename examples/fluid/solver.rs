//! A 2-D incompressible fluid on a periodic N x N grid, written once with kiln ops (Stam's
//! stable fluids): implicit diffusion (viscosity, and the dye's own) by Jacobi iterations,
//! semi-Lagrangian advection (a gather of the four cells around each back-traced point), and
//! a pressure projection by Jacobi iterations. Axis 0 is y (rows),
//! axis 1 is x; `u` moves along rows, `v` along columns, in cells per unit time.
//!
//! The divergence is the central difference and the pressure solve uses the matching wide
//! Laplacian (neighbours two cells away), so that a converged projection leaves the
//! central divergence at zero.

use kiln::{DType, Device, Tensor};

pub struct Fluid {
    pub n: usize,
    pub u: Tensor,
    pub v: Tensor,
    pub dye: Tensor,
    /// The velocity's diffusion rate (viscosity), in cells^2 per unit time.
    pub viscosity: f32,
    /// The dye's diffusion rate, in cells^2 per unit time.
    pub diffusion: f32,
}

/// Jacobi iterations of each implicit diffusion (its system is diagonally dominant: a few
/// iterations converge for the rates used here).
const DIFFUSE_JACOBI: usize = 4;

/// `t[i + k]` along `axis`, periodic.
fn at(t: &Tensor, k: isize, axis: isize) -> Tensor {
    t.roll(-k, axis)
}

/// `q` diffused for `dt` at rate `k`: the implicit step `(1 - k dt laplacian) q' = q`,
/// solved by `iterations` Jacobi steps from `q`. On the periodic grid every step keeps the
/// total of `q`.
pub fn diffuse(q: &Tensor, k: f32, dt: f32, iterations: usize) -> Tensor {
    let a = k * dt;
    let mut x = q.clone();
    for _ in 0..iterations {
        let around = &(&at(&x, 1, 0) + &at(&x, -1, 0)) + &(&at(&x, 1, 1) + &at(&x, -1, 1));
        x = ((q + &(&around * a)) * (1.0 / (1.0 + 4.0 * a))).contiguous();
    }
    x
}

/// The central divergence of `(u, v)`.
pub fn divergence(u: &Tensor, v: &Tensor) -> Tensor {
    (&(&at(u, 1, 0) - &at(u, -1, 0)) + &(&at(v, 1, 1) - &at(v, -1, 1))) * 0.5f32
}

impl Fluid {
    /// A still fluid without dye.
    pub fn new(n: usize, device: &Device) -> Fluid {
        let zeros = || Tensor::zeros_on(&[n, n], DType::F32, device);
        Fluid {
            n,
            u: zeros(),
            v: zeros(),
            dye: zeros(),
            viscosity: 0.05,
            diffusion: 0.01,
        }
    }

    /// `q` carried along the velocity for `dt`: the value at each cell's back-traced point,
    /// interpolated between the four cells around it.
    pub fn advect(&self, q: &Tensor, dt: f32) -> Tensor {
        let n = self.n;
        let dev = q.device();
        let index = |axis: usize| {
            let mut along = [1, 1];
            along[axis] = n;
            Tensor::arange_on(0.0, n as f64, 1.0, DType::F32, dev)
                .reshape(&[along[0] as isize, along[1] as isize])
                .expand(&[n, n])
        };
        let wrap = |t: Tensor| t.rem(&Tensor::full_on(&[], n as f64, DType::F32, dev));
        let y = wrap(&index(0) - &(&self.u * dt));
        let x = wrap(&index(1) - &(&self.v * dt));
        let (y0, x0) = (y.floor(), x.floor());
        let (fy, fx) = (&y - &y0, &x - &x0);
        let cell = |t: &Tensor, k: i32| (&t.cast(DType::I32) + k) % n as i32;
        let flat = q.reshape(&[(n * n) as isize]);
        let read = |dy: i32, dx: i32| {
            let i = &(&cell(&y0, dy) * n as i32) + &cell(&x0, dx);
            flat.gather(0, &i.reshape(&[(n * n) as isize]))
                .reshape(&[n as isize, n as isize])
        };
        let rest = |t: &Tensor| &(t * -1.0f32) + 1.0f32;
        let top = &(&read(0, 0) * &rest(&fx)) + &(&read(0, 1) * &fx);
        let bottom = &(&read(1, 0) * &rest(&fx)) + &(&read(1, 1) * &fx);
        &(&top * &rest(&fy)) + &(&bottom * &fy)
    }

    /// The velocity made divergence-free by `iterations` damped Jacobi steps of the pressure
    /// solve (weight 0.8: plain Jacobi never damps the checkerboard mode of a periodic grid).
    pub fn project(&mut self, iterations: usize) {
        let div = divergence(&self.u, &self.v).contiguous();
        let mut p = div.zeros_like();
        for _ in 0..iterations {
            let around = &(&at(&p, 2, 0) + &at(&p, -2, 0)) + &(&at(&p, 2, 1) + &at(&p, -2, 1));
            let jacobi = (&around - &(&div * 4.0f32)) * 0.25f32;
            p = (&(&p * 0.2f32) + &(&jacobi * 0.8f32)).contiguous();
        }
        self.u = &self.u - &((&at(&p, 1, 0) - &at(&p, -1, 0)) * 0.5f32);
        self.v = &self.v - &((&at(&p, 1, 1) - &at(&p, -1, 1)) * 0.5f32);
    }

    /// One step, Stam's: add `force` (to `u`, `v`) and `source` (to the dye), diffuse,
    /// project, advect everything, and project again, all realized in one schedule.
    pub fn step(
        &mut self,
        force: (&Tensor, &Tensor),
        source: &Tensor,
        dt: f32,
        iterations: usize,
    ) -> kiln::Result<()> {
        let u = &self.u + &(force.0 * dt);
        let v = &self.v + &(force.1 * dt);
        let dye = &self.dye + &(source * dt);
        self.u = diffuse(&u, self.viscosity, dt, DIFFUSE_JACOBI);
        self.v = diffuse(&v, self.viscosity, dt, DIFFUSE_JACOBI);
        let dye = diffuse(&dye, self.diffusion, dt, DIFFUSE_JACOBI);
        self.project(iterations);
        let (u, v, dye) = (
            self.advect(&self.u, dt),
            self.advect(&self.v, dt),
            self.advect(&dye, dt),
        );
        self.u = u;
        self.v = v;
        self.dye = dye;
        self.project(iterations);
        kiln::realize(&[&self.u, &self.v, &self.dye])?;
        Ok(())
    }
}
