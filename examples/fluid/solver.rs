//! A 2-D incompressible fluid on a periodic N x N grid, written once with kiln ops (Stam's
//! stable fluids): semi-Lagrangian advection (a gather of the four cells around each
//! back-traced point), and a pressure projection by Jacobi iterations. Axis 0 is y (rows),
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
}

/// `t[i + k]` along `axis`, periodic.
fn at(t: &Tensor, k: isize, axis: isize) -> Tensor {
    t.roll(-k, axis)
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

    /// One step: add `force` (to `u`, `v`) and `source` (to the dye), advect everything, and
    /// project, all realized in one schedule.
    pub fn step(
        &mut self,
        force: (&Tensor, &Tensor),
        source: &Tensor,
        dt: f32,
        iterations: usize,
    ) -> kiln::Result<()> {
        self.u = &self.u + &(force.0 * dt);
        self.v = &self.v + &(force.1 * dt);
        self.project(iterations);
        let (u, v, dye) = (
            self.advect(&self.u, dt),
            self.advect(&self.v, dt),
            self.advect(&(&self.dye + &(source * dt)), dt),
        );
        self.u = u;
        self.v = v;
        self.dye = dye;
        self.project(iterations);
        kiln::realize(&[&self.u, &self.v, &self.dye])?;
        Ok(())
    }
}
