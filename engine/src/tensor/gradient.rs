//! Reverse-mode differentiation over the lazy graph: `gradient`, `gradient_with`, `detach`.
//! One vector-Jacobian rule per graph primitive (as tinygrad's `gradient.py`), so every
//! composite (matmul, softmax, conv2d, the norms, sort's values...) is covered by
//! construction, and the gradients are ordinary lazy tensors: scheduled, fused and optimized
//! like the forward pass, realized together with it, and differentiable again.

use crate::graph::{toposort, NodeRef, Op};
use crate::hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use crate::ops::{BinaryOp, ReduceOp, UnaryOp};
use crate::view::Movement;

use super::ops::{reported, user_op};
use super::Tensor;

impl Tensor {
    /// The gradients of the scalar `self` (one element) with respect to each of `wrt`, as
    /// lazy tensors of their shapes and dtypes; zeros for a tensor `self` does not depend on.
    /// Panics when `self` has more than one element (use [`Tensor::gradient_with`]) or a
    /// tensor of `wrt` is not floating-point or is a constant (`zeros`, `full`: ops fold
    /// constants, so take gradients with respect to buffers).
    ///
    /// ```
    /// use kiln_engine::{Device, Tensor};
    /// let x = Tensor::from_slice_on(&[1.0f32, 2.0, 3.0], &[3], &Device::cpu())?;
    /// let y = (&x * &x).sum_all(); // d/dx sum(x^2) = 2x
    /// assert_eq!(y.gradient(&[&x])[0].to_vec::<f32>()?, vec![2.0, 4.0, 6.0]);
    /// # Ok::<(), kiln_engine::Error>(())
    /// ```
    #[track_caller]
    pub fn gradient(&self, wrt: &[&Tensor]) -> Vec<Tensor> {
        let _op = user_op("gradient");
        assert!(
            self.numel() == 1,
            "{}: the tensor of shape {:?} is not a scalar; pass a seed of its shape to gradient_with",
            reported("gradient"),
            self.shape()
        );
        self.gradient_with(wrt, &self.full_like(1.0))
    }

    /// The vector-Jacobian product: the gradients with respect to each of `wrt` of
    /// `sum(self * seed)`, for a `seed` of `self`'s shape (the upstream gradient).
    #[track_caller]
    pub fn gradient_with(&self, wrt: &[&Tensor], seed: &Tensor) -> Vec<Tensor> {
        let _op = user_op("gradient");
        assert!(
            self.dtype().is_float() && seed.shape() == self.shape(),
            "{}: the seed of shape {:?} ({}) must have the {} tensor's shape {:?}",
            reported("gradient"),
            seed.shape(),
            seed.dtype(),
            self.dtype(),
            self.shape()
        );
        for w in wrt {
            assert!(
                w.dtype().is_float(),
                "{}: a tensor of shape {:?} is {}; gradients are taken with respect to floating-point tensors only",
                reported("gradient"),
                w.shape(),
                w.dtype()
            );
            self.assert_same_device("gradient", w);
            assert!(
                w.node.op.const_value().is_none(),
                "{}: a tensor of shape {:?} is a constant (zeros, ones, full): ops fold constants into new ones, so no gradient would reach it; make it a buffer (Tensor::from_slice, or a kiln::nn initializer)",
                reported("gradient"),
                w.shape()
            );
        }
        let targets: HashSet<u64> = wrt.iter().map(|w| w.node.id).collect();
        let order = toposort(std::slice::from_ref(&self.node));
        let reaches = reaching(&order, &targets);
        let mut grads: HashMap<u64, Tensor> = HashMap::default();
        grads.insert(self.node.id, seed.cast(self.dtype()));
        for n in order.iter().rev() {
            let Some(g) = grads.get(&n.id).cloned() else {
                continue;
            };
            // A realized node may have let its sources go: it is a leaf.
            let srcs = n.srcs();
            if srcs.is_empty() {
                continue;
            }
            for (src, dsrc) in srcs.iter().zip(vjp(n, &g)) {
                let Some(d) = dsrc else { continue };
                if !reaches.contains(&src.id) {
                    continue;
                }
                let d = d.cast(src.dtype);
                let sum = match grads.remove(&src.id) {
                    Some(prev) => prev.add(&d),
                    None => d,
                };
                grads.insert(src.id, sum);
            }
        }
        wrt.iter()
            .map(|w| match grads.get(&w.node.id) {
                Some(g) => g.clone(),
                None => w.zeros_like(),
            })
            .collect()
    }

    /// The same value, through which no gradient flows (torch's `detach`).
    pub fn detach(&self) -> Tensor {
        self.node_of(Op::Detach, vec![self], self.dtype(), self.shape().to_vec())
    }
}

/// The nodes of `order` (topological) that reach one of `targets` through float nodes.
fn reaching(order: &[NodeRef], targets: &HashSet<u64>) -> HashSet<u64> {
    let mut reaches = HashSet::default();
    for n in order {
        let through = n.dtype.is_float()
            && !matches!(n.op, Op::Detach)
            && n.srcs().iter().any(|s| reaches.contains(&s.id));
        if targets.contains(&n.id) || through {
            reaches.insert(n.id);
        }
    }
    reaches
}

fn wrap(n: &NodeRef) -> Tensor {
    Tensor::wrap(n.clone())
}

/// The gradient each source of `n` receives from the gradient `g` of `n` (`None`: none).
fn vjp(n: &NodeRef, g: &Tensor) -> Vec<Option<Tensor>> {
    let y = wrap(n);
    let src = |i: usize| wrap(&n.src(i));
    match &n.op {
        Op::Source(_) | Op::Const(..) | Op::Iota | Op::Detach => vec![],
        Op::CheckIndex { .. } | Op::Bitcast(_) => vec![None],
        Op::Contiguous => vec![Some(g.clone())],
        Op::Cast(_) => {
            let x = src(0);
            vec![x.dtype().is_float().then(|| g.cast(x.dtype()))]
        }
        Op::Unary(op) => vec![unary_vjp(*op, &src(0), &y, g)],
        Op::Binary(op) => binary_vjp(*op, &src(0), &src(1), &y, g),
        Op::Where => {
            let (c, zero) = (src(0), g.zeros_like());
            vec![None, Some(c.where_(g, &zero)), Some(c.where_(&zero, g))]
        }
        Op::Reduce(op, axes) => vec![Some(reduce_vjp(*op, axes, &src(0), &y, g))],
        Op::Movement(m) => vec![Some(movement_vjp(m, &n.src(0).shape, g))],
        Op::Gather(axis) => {
            let (x, pos) = (src(0), src(1));
            let into = Tensor::zeros_on(x.shape(), g.dtype(), x.device());
            vec![Some(into.scatter_add(*axis as isize, &pos, g)), None]
        }
        Op::Scatter(ReduceOp::Sum, axis) => {
            let pos = src(0);
            // The part of `g` the index covers off the axis, then read at the positions.
            let mut covered = pos.shape().to_vec();
            covered[*axis] = g.shape()[*axis];
            vec![None, Some(g.corner(&covered).gather(*axis as isize, &pos))]
        }
        Op::Scatter(..) => vec![None, None],
        Op::Scan(ReduceOp::Sum, axis) => {
            let a = [*axis as isize];
            let dx = g.flip(&a).cumsum(*axis as isize).flip(&a);
            let mut out = vec![Some(dx)];
            if n.srcs().len() == 2 {
                out.push(Some(g.sum_keepdim(&a)));
            }
            out
        }
        Op::Scan(ReduceOp::Max, axis) => {
            let init = (n.srcs().len() == 2).then(|| src(1));
            let (dx, dinit) = cummax_vjp(&src(0), init.as_ref(), &y, *axis, g);
            std::iter::once(Some(dx))
                .chain(init.map(|_| dinit))
                .collect()
        }
        Op::Scan(ReduceOp::Prod, axis) => {
            let (x, a) = (src(0), *axis);
            match n.srcs().len() {
                1 => vec![Some(cumprod_vjp(&x, &y, a, g))],
                // A row that starts from `init`: the row [init, x..] without its first output.
                _ => {
                    let init = src(1);
                    let row = Tensor::cat(&[&init, &x], a as isize);
                    let row_y = Tensor::cat(&[&init, &y], a as isize);
                    let row_g = Tensor::cat(&[&init.zeros_like(), g], a as isize);
                    let d = cumprod_vjp(&row, &row_y, a, &row_g);
                    let len = x.shape()[a];
                    vec![Some(d.narrow(a, 1, len + 1)), Some(d.narrow(a, 0, 1))]
                }
            }
        }
        Op::Scan(op, _) => panic!(
            "{}: cum{} has no gradient rule",
            reported("gradient"),
            op.name()
        ),
    }
}

/// The running max's gradient: each output's goes to the element that set the max it holds
/// (the first of equal ones), or to `init` where no element of the row has passed it yet.
fn cummax_vjp(
    x: &Tensor,
    init: Option<&Tensor>,
    y: &Tensor,
    axis: usize,
    g: &Tensor,
) -> (Tensor, Option<Tensor>) {
    let len = x.shape()[axis];
    let mut along = vec![1; x.ndim()];
    along[axis] = len;
    let position = Tensor::arange_on(0.0, len as f64, 1.0, crate::dtype::DType::I32, x.device())
        .reshape_usize(&along)
        .expand(x.shape());
    // The max before each position: the previous output, or `init` (-inf without one).
    let mut pad = vec![(0, 0); x.ndim()];
    pad[axis] = (1, 0);
    let before = y
        .pad_with(&pad, super::slicing::PadMode::Constant(f64::NEG_INFINITY))
        .narrow(axis, 0, len);
    let first = position.eq(&position.zeros_like());
    let before = match init {
        Some(i) => first.where_(&i.expand(x.shape()), &before),
        None => before,
    };
    let mut new = x.gt(&before);
    if init.is_none() {
        new = new.logical_or(&first);
    }
    let owner = new
        .where_(&position, &position.full_like(-1.0))
        .cummax(axis as isize);
    let owned = owner.ge(&owner.zeros_like());
    let zero = g.zeros_like();
    let dx = Tensor::zeros_on(x.shape(), g.dtype(), x.device()).scatter_add(
        axis as isize,
        &owned.where_(&owner, &owner.zeros_like()),
        &owned.where_(g, &zero),
    );
    let dinit = init.map(|_| owned.where_(&zero, g).sum_keepdim(&[axis as isize]));
    (dx, dinit)
}

/// The running product's gradient, exact where the row holds zeros: before the first zero,
/// `Σ_{i≥j} g_i y_i / x_j`; at it, the product before it times `Σ_{i≥j} g_i` times the
/// products after it; past it, 0 (every product there holds that zero).
fn cumprod_vjp(x: &Tensor, y: &Tensor, axis: usize, g: &Tensor) -> Tensor {
    let a = axis as isize;
    let rev_cumsum = |t: &Tensor| t.flip(&[a]).cumsum(a).flip(&[a]);
    let zero = x.zeros_like();
    let one = x.full_like(1.0);
    let is_zero = x.eq(&zero);
    let zeros_so_far = is_zero.cast(crate::dtype::DType::I32).cumsum(a);
    let before = zeros_so_far.eq(&zeros_so_far.zeros_like());
    let first = is_zero.logical_and(&zeros_so_far.eq(&zeros_so_far.full_like(1.0)));
    let before_zero = rev_cumsum(&g.mul(y)).div(&is_zero.where_(&one, x));
    // At the first zero: the products of the elements after it, and of those before it.
    let after = before.logical_or(&first).where_(&one, x).cumprod(a);
    let mut pad = vec![(0, 0); x.ndim()];
    pad[axis] = (1, 0);
    let len = x.shape()[axis];
    let exclusive = y
        .pad_with(&pad, super::slicing::PadMode::Constant(1.0))
        .narrow(axis, 0, len);
    let at_zero = exclusive.mul(&rev_cumsum(&g.mul(&after)));
    before.where_(&before_zero, &first.where_(&at_zero, &zero))
}

fn unary_vjp(op: UnaryOp, x: &Tensor, y: &Tensor, g: &Tensor) -> Option<Tensor> {
    let ln2 = std::f64::consts::LN_2;
    Some(match op {
        UnaryOp::Neg => g.neg(),
        UnaryOp::Exp => g.mul(y),
        UnaryOp::Exp2 => g.mul(y).mul_scalar(ln2),
        UnaryOp::Log => g.div(x),
        UnaryOp::Log2 => g.div(&x.mul_scalar(ln2)),
        UnaryOp::Sin => g.mul(&x.cos()),
        UnaryOp::Cos => g.mul(&x.sin()).neg(),
        UnaryOp::Sqrt => g.div(&y.mul_scalar(2.0)),
        UnaryOp::Recip => g.mul(&y.mul(y)).neg(),
        // Flat almost everywhere.
        UnaryOp::Floor | UnaryOp::Ceil | UnaryOp::Trunc | UnaryOp::Round | UnaryOp::SignBit => {
            return None
        }
    })
}

fn binary_vjp(op: BinaryOp, a: &Tensor, b: &Tensor, y: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
    match op {
        BinaryOp::Add => vec![Some(g.clone()), Some(g.clone())],
        BinaryOp::Mul => vec![Some(g.mul(b)), Some(g.mul(a))],
        BinaryOp::Div => vec![Some(g.div(b)), Some(g.mul(y).div(b).neg())],
        // fmod(a, b) = a - trunc(a / b) * b.
        BinaryOp::Mod => vec![Some(g.clone()), Some(g.mul(&a.div(b).trunc()).neg())],
        // numpy's maximum and minimum: the chosen operand takes the gradient, ties split it.
        BinaryOp::Max | BinaryOp::Min => {
            let wins = |p: &Tensor, q: &Tensor| match op {
                BinaryOp::Max => p.gt(q),
                _ => p.lt(q),
            };
            let share = |p: &Tensor, q: &Tensor| {
                let half = g.mul_scalar(0.5);
                wins(p, q).where_(g, &p.eq(q).where_(&half, &g.zeros_like()))
            };
            vec![Some(share(a, b)), Some(share(b, a))]
        }
        // Comparisons and bit operations are flat (and on integers or bools).
        _ => vec![None, None],
    }
}

/// `g` (the reduction's shape, axes kept as 1) back over `x`'s shape.
fn reduce_vjp(op: ReduceOp, axes: &[usize], x: &Tensor, y: &Tensor, g: &Tensor) -> Tensor {
    let wide = g.expand(x.shape());
    match op {
        ReduceOp::Sum => wide,
        // Ties split the gradient evenly (as tinygrad).
        ReduceOp::Max | ReduceOp::Min => {
            let hit = x.eq(&y.expand(x.shape())).cast(g.dtype());
            let axes: Vec<isize> = axes.iter().map(|&a| a as isize).collect();
            let count = hit.sum_keepdim(&axes);
            wide.mul(&hit).div(&count.expand(x.shape()))
        }
        ReduceOp::Prod => wide.mul(&products_of_others(x, axes)),
    }
}

/// For each element of `x`, the product of the other elements of its reduction over `axes`
/// (exact where some are zero): the running products from both ends, each stopping short.
fn products_of_others(x: &Tensor, axes: &[usize]) -> Tensor {
    let nd = x.ndim();
    let kept: Vec<usize> = (0..nd).filter(|a| !axes.contains(a)).collect();
    let order: Vec<usize> = kept.iter().chain(axes).copied().collect();
    let permuted: Vec<isize> = order.iter().map(|&a| a as isize).collect();
    let t = x.permute(&permuted);
    let mut flat: Vec<usize> = kept.iter().map(|&a| x.shape()[a]).collect();
    let k: usize = axes.iter().map(|&a| x.shape()[a]).product();
    flat.push(k);
    let rows = t.reshape_usize(&flat);
    let last = flat.len() - 1;
    // Exclusive running product: shifted right by one, starting at 1.
    let exclusive = |r: &Tensor| {
        let mut pad = vec![(0, 0); flat.len()];
        pad[last] = (1, 0);
        r.cumprod(last as isize)
            .pad_with(&pad, super::slicing::PadMode::Constant(1.0))
            .narrow(last, 0, k)
    };
    let a = [last as isize];
    let others = exclusive(&rows).mul(&exclusive(&rows.flip(&a)).flip(&a));
    let mut inverse = vec![0isize; nd];
    for (i, &a) in order.iter().enumerate() {
        inverse[a] = i as isize;
    }
    let permuted_shape: Vec<usize> = order.iter().map(|&a| x.shape()[a]).collect();
    others.reshape_usize(&permuted_shape).permute(&inverse)
}

/// `g` (the view's shape) back to the source's `shape`.
fn movement_vjp(m: &Movement, shape: &[usize], g: &Tensor) -> Tensor {
    match m {
        Movement::Reshape(_) => g.reshape_usize(shape),
        Movement::Permute(p) => {
            let mut inverse = vec![0isize; p.len()];
            for (i, &a) in p.iter().enumerate() {
                inverse[a] = i as isize;
            }
            g.permute(&inverse)
        }
        Movement::Expand(_) => {
            let axes: Vec<isize> = (0..shape.len())
                .filter(|&a| shape[a] == 1 && g.shape()[a] != 1)
                .map(|a| a as isize)
                .collect();
            match axes.is_empty() {
                true => g.clone(),
                false => g.sum_keepdim(&axes),
            }
        }
        Movement::Pad(p) => {
            let bounds: Vec<(usize, usize)> = p
                .iter()
                .zip(shape)
                .map(|(&(b, _), &d)| (b, b + d))
                .collect();
            g.shrink(&bounds)
        }
        Movement::Shrink(s) => {
            let padding: Vec<(usize, usize)> = s
                .iter()
                .zip(shape)
                .map(|(&(b, e), &d)| (b, d - e))
                .collect();
            g.pad(&padding)
        }
        Movement::Flip(f) => {
            let axes: Vec<isize> = (0..f.len()).filter(|&a| f[a]).map(|a| a as isize).collect();
            g.flip(&axes)
        }
    }
}
