//! Optimizations: a list of [`Opt`]s applied to a kernel's axes.
//!
//! Applying a list is a pure, fallible function of (kernel, opts, device limits)
//! ([`apply_opts`]), so any list can be printed, replayed, tested and searched. It follows
//! tinygrad's `postrange.py`: the kernel starts with one *part* per axis of its domain (output
//! axes are [`AxisKind::Global`], reduce axes [`AxisKind::Reduce`]); each opt *shifts* `amount`
//! of one part into a new part of another kind (`shift_to`): the axis value becomes
//! `outer·amount + inner`, and the inner part (the outer one for GROUPTOP) takes the new kind.
//!
//! | opt | applies to | effect |
//! |---|---|---|
//! | `LOCAL` | a global part | `amount` neighbouring elements computed by the lanes of one workgroup |
//! | `UPCAST` | a global or local part | `amount` outputs per lane, in registers (one accumulator each) |
//! | `UNROLL` | a reduce part | `amount` reduce steps per loop iteration, unrolled |
//! | `GROUP` | a reduce part | `amount` lanes share the reduction (strided), combined through workgroup memory |
//! | `GROUPTOP` | a reduce part | like `GROUP`, each lane taking one contiguous chunk |
//! | `GROUPOUT` | a global part of a column axis | the group lanes share the part's elements (strided), each lane looping over its share: the reductions run once per workgroup |
//! | `PADTO` | an unsplit global or reduce part | rounds its size up to a multiple of `amount`; the tail is masked |
//! | `NOLOCALS` | the kernel | no LOCAL or GROUP may follow (one lane per workgroup) |
//! | `STAGE` | an input buffer (`axis` is its index among the kernel's buffers) | workgroup-memory tiling: each step of the reduce loop, the workgroup's lanes load the tile of the buffer they all need together, once, and read it from workgroup memory (see `stage`) |
//!
//! **Group lanes are shared.** A workgroup's lanes are its local parts times its *group
//! lanes* (the fastest part of the invocation id). Every grouped reduce nest splits its
//! reduction over the same group lanes, one nest after another, and a GROUPOUT part spreads a
//! column axis (an output axis no reduce reads, see `KernelAst::column_axes`) over them for
//! the stores: softmax's max, its sum of `exp`, and its elementwise tail all run on the 256
//! lanes of the workgroup that owns the row. So each nest's group parts and the GROUPOUT
//! parts must multiply to the same group size. GROUPOUT turns the rest of its part into a
//! [`AxisKind::Loop`] part, a loop around the stores: no workgroup recomputes a row.
//!
//! The heuristics that choose a list live in `heuristic/`.
//!
//! `axis` addresses the kernel's *current* parts: for LOCAL, UPCAST, GROUPOUT and PADTO the
//! index into all parts in their canonical order (global, loop, local, group, upcast, reduce,
//! unroll; within a kind by original axis, outer first); for UNROLL, GROUP and GROUPTOP the
//! index into the reduce parts. `amount` 0 means the whole part. An opt that does not fit is an [`OptError`]
//! naming it and the reason, never a panic and never silently dropped.

use std::fmt;

use super::ast::{AstNode, KernelAst};
use super::share::{share_buffer, shared_loads};
use super::stage::{stage_buffer, stage_tile};
use crate::target::DeviceLimits;

/// The kinds of optimization (tinygrad's, plus GROUPOUT, STAGE and SHARE); see the module
/// docs for what each does to the kernel's parts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OptOp {
    /// Each lane computes `amount` outputs along an output axis (a register tile).
    Upcast,
    /// Each lane folds `amount` elements of a reduce axis per loop iteration.
    Unroll,
    /// `amount` lanes of a workgroup along an output axis.
    Local,
    /// `amount` lanes of a workgroup split a reduce axis (inner piece), combined through
    /// workgroup memory or subgroups.
    Group,
    /// As `Group`, taking the outer piece of the axis.
    GroupTop,
    /// A column axis spread over the group lanes (rows a workgroup owns).
    GroupOut,
    /// Pads an axis up to a multiple of `amount` (masked, never control flow).
    Padto,
    /// No local axes: one lane per workgroup.
    NoLocals,
    /// Input buffer `axis` is copied tile by tile into workgroup memory.
    Stage,
    /// Input buffer `axis` is loaded once per subgroup and shared by its lanes.
    Share,
}

impl OptOp {
    /// Every kind, in a fixed order (what a search enumerates).
    pub const ALL: [OptOp; 10] = [
        OptOp::Upcast,
        OptOp::Unroll,
        OptOp::Local,
        OptOp::Group,
        OptOp::GroupTop,
        OptOp::GroupOut,
        OptOp::Padto,
        OptOp::NoLocals,
        OptOp::Stage,
        OptOp::Share,
    ];

    /// tinygrad's spelling.
    pub fn name(self) -> &'static str {
        match self {
            OptOp::Upcast => "UPCAST",
            OptOp::Unroll => "UNROLL",
            OptOp::Local => "LOCAL",
            OptOp::Group => "GROUP",
            OptOp::GroupTop => "GROUPTOP",
            OptOp::GroupOut => "GROUPOUT",
            OptOp::Padto => "PADTO",
            OptOp::NoLocals => "NOLOCALS",
            OptOp::Stage => "STAGE",
            OptOp::Share => "SHARE",
        }
    }
}

/// One optimization: `op` applied to the kernel's current `axis` with `amount`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Opt {
    /// What the opt does.
    pub op: OptOp,
    /// Which part (or, for STAGE and SHARE, which buffer) it applies to.
    pub axis: usize,
    /// How much: a factor, a lane count or a padded multiple; 0 means the whole part.
    pub amount: usize,
}

impl Opt {
    /// `Opt { op, axis, amount }`.
    pub fn new(op: OptOp, axis: usize, amount: usize) -> Opt {
        Opt { op, axis, amount }
    }
}

impl fmt::Display for Opt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.op == OptOp::NoLocals {
            return write!(f, "Opt(op=NOLOCALS, axis=None, arg=None)");
        }
        write!(
            f,
            "Opt(op={}, axis={}, arg={})",
            self.op.name(),
            self.axis,
            self.amount
        )
    }
}

/// Why an opt list cannot be applied to a kernel.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{opt} (opt #{position} of the list) cannot be applied: {reason}")]
pub struct OptError {
    /// The offending opt.
    pub opt: Opt,
    /// Its position in the list.
    pub position: usize,
    /// Why it does not fit.
    pub reason: String,
}

/// The kind of a loop part after opts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AxisKind {
    /// One value per workgroup of the grid.
    Global,
    /// An output part looped over in every lane, around the stores (what GROUPOUT leaves of
    /// its part beside the group lanes).
    Loop,
    /// One value per lane of a workgroup.
    Local,
    /// Split over the group lanes of a workgroup: a reduction's (combined through workgroup
    /// memory), or after GROUPOUT a column axis's elements.
    Group,
    /// Output values per lane, in registers.
    Upcast,
    /// A loop of the reduction.
    Reduce,
    /// Reduction steps unrolled within one loop iteration.
    Unroll,
}

impl AxisKind {
    /// ANSI color of the kind in kernel names (tinygrad's palette).
    pub fn color(self) -> u8 {
        match self {
            AxisKind::Global => 34,
            AxisKind::Loop => 37,
            AxisKind::Local => 36,
            AxisKind::Group => 32,
            AxisKind::Upcast => 33,
            AxisKind::Reduce => 31,
            AxisKind::Unroll => 35,
        }
    }
}

/// One loop part of the optimized kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Part {
    /// The domain axis this part belongs to.
    pub axis: usize,
    pub size: usize,
    pub kind: AxisKind,
    /// The axis value is Σ part value × `mult` over the axis's parts.
    pub mult: usize,
}

/// Upcast outputs per lane (accumulators per reduce): the register budget of a GPU.
pub const MAX_UPCAST: usize = 64;
/// Values per lane inside an unrolled reduce body (upcast × unroll), on a GPU.
pub const MAX_UPCAST_UNROLL: usize = 256;
/// The budgets on a CPU adapter ([`DeviceLimits::cpu_adapter`]): a lane is a SIMD element,
/// a value that does not fit the vector registers spills to the stack (an L1 access), and a
/// load from a buffer costs far more (llvmpipe loops over the lanes, one bounds-checked
/// scalar load per component), so larger tiles that load less per FMA pay.
pub const CPU_MAX_UPCAST: usize = 256;
/// [`MAX_UPCAST_UNROLL`] on a CPU adapter (see [`CPU_MAX_UPCAST`]).
pub const CPU_MAX_UPCAST_UNROLL: usize = 1024;

/// (upcast outputs, values in one reduce body) a lane of `limits`' device may hold.
pub fn register_budget(limits: &DeviceLimits) -> (usize, usize) {
    if limits.cpu_adapter {
        (CPU_MAX_UPCAST, CPU_MAX_UPCAST_UNROLL)
    } else {
        (MAX_UPCAST, MAX_UPCAST_UNROLL)
    }
}
/// Largest single UPCAST / UNROLL amount.
pub const MAX_UPCAST_AMOUNT: usize = 16;
pub const MAX_UNROLL_AMOUNT: usize = 32;

/// The loop structure of a kernel after opts.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Shaped {
    /// In canonical order: by kind, then by domain axis, outer first.
    pub parts: Vec<Part>,
    pub opts: Vec<Opt>,
    /// Per domain axis: the size its parts cover (larger than the axis after PADTO).
    pub padded: Vec<usize>,
    pub nolocals: bool,
    /// Per domain axis: the axes of the reduce nest that reduces it (empty for an output axis).
    pub nest_of: Vec<Vec<usize>>,
    /// Input buffers staged through workgroup memory (STAGE), in the order staged.
    pub staged: Vec<usize>,
    /// Input buffers whose loads the lanes of a subgroup split (SHARE), in the order shared.
    pub shared: Vec<usize>,
}

impl Shaped {
    /// The unoptimized shape of `ast`: one global or reduce part per axis.
    pub fn new(ast: &KernelAst) -> Shaped {
        let red = ast.reduce_axes();
        let mut s = Shaped {
            parts: ast
                .full_shape
                .iter()
                .enumerate()
                .map(|(axis, &size)| Part {
                    axis,
                    size,
                    kind: if red.contains(&axis) {
                        AxisKind::Reduce
                    } else {
                        AxisKind::Global
                    },
                    mult: 1,
                })
                .collect(),
            opts: vec![],
            padded: ast.full_shape.clone(),
            nolocals: false,
            nest_of: {
                let mut of = vec![vec![]; ast.full_shape.len()];
                for axes in ast.nests() {
                    for &a in &axes {
                        of[a] = axes.clone();
                    }
                }
                of
            },
            staged: vec![],
            shared: vec![],
        };
        s.sort();
        s
    }

    fn sort(&mut self) {
        self.parts
            .sort_by_key(|p| (p.kind, p.axis, std::cmp::Reverse(p.mult)));
    }

    pub fn size_of(&self, k: AxisKind) -> usize {
        self.parts
            .iter()
            .filter(|p| p.kind == k)
            .map(|p| p.size)
            .product()
    }
    /// Lanes per workgroup: the local parts times the group lanes.
    pub fn local_size(&self) -> usize {
        self.size_of(AxisKind::Local) * self.group_size()
    }
    /// The group lanes of a workgroup, shared by every grouped nest and the GROUPOUT parts
    /// (`apply_opts` checks that they agree): the largest of their group-part products.
    pub fn group_size(&self) -> usize {
        self.group_sets()
            .into_iter()
            .map(|(_, g)| g)
            .max()
            .unwrap_or(1)
    }
    /// The users of the group lanes, each with the product of its group parts: one entry per
    /// reduce nest with group parts (keyed by its axes), and one for the output parts (keyed
    /// by an empty list).
    pub fn group_sets(&self) -> Vec<(Vec<usize>, usize)> {
        let mut sets: Vec<(Vec<usize>, usize)> = vec![];
        for p in self.parts.iter().filter(|p| p.kind == AxisKind::Group) {
            let key = self.nest_of[p.axis].clone();
            match sets.iter_mut().find(|(k, _)| *k == key) {
                Some((_, g)) => *g *= p.size,
                None => sets.push((key, p.size)),
            }
        }
        sets
    }
    /// Values one lane holds in the body of its deepest unrolled reduce: for each nest, the
    /// unroll of its own reduce parts and of the nests whose loops enclose it, times the
    /// upcast lanes its value varies over (an accumulator and the unrolled loads per such
    /// lane); the largest over the nests. Sequential nests do not add up (one runs after the
    /// other), and a nest over a row does not count the upcast of the columns its tail
    /// writes: softmax's nests and tail, unrolled whole, hold one row's slice, not its
    /// square. A nest encloses another whose value varies along its axes.
    pub fn register_values(&self, ast: &KernelAst) -> usize {
        let expr_axes = ast.expr_axes();
        let nests = ast.nests();
        // Per nest: the domain axes its reduces' values vary over.
        let varies: Vec<Vec<usize>> = nests
            .iter()
            .map(|axes| {
                let mut v: Vec<usize> = vec![];
                for (r, e) in ast.exprs.iter() {
                    if matches!(&e.op, AstNode::Reduce { axes: a, .. } if a == axes) {
                        v.extend(expr_axes[r.index()].iter().map(|&a| a as usize));
                    }
                }
                v
            })
            .collect();
        let product = |kind: AxisKind, on: &dyn Fn(usize) -> bool| -> usize {
            self.parts
                .iter()
                .filter(|p| p.kind == kind && on(p.axis))
                .map(|p| p.size)
                .product()
        };
        let unroll_of = |n: usize| product(AxisKind::Unroll, &|a| nests[n].contains(&a));
        // Unrolls of the nest and of every nest around it (nesting is acyclic: a nest's value
        // never varies along its own axes, and an enclosing nest reduces what it reads).
        fn chain(
            n: usize,
            seen: &mut Vec<usize>,
            encloses: &dyn Fn(usize, usize) -> bool,
            count: usize,
            unroll: &dyn Fn(usize) -> usize,
        ) -> usize {
            seen.push(n);
            let outer = (0..count)
                .filter(|&m| !seen.contains(&m) && encloses(m, n))
                .collect::<Vec<_>>();
            let mut u = unroll(n);
            for m in outer {
                u *= chain(m, seen, encloses, count, unroll);
            }
            u
        }
        let encloses = |m: usize, n: usize| varies[n].iter().any(|a| nests[m].contains(a));
        (0..nests.len())
            .map(|n| {
                let upcast = product(AxisKind::Upcast, &|a| varies[n].contains(&a));
                upcast * chain(n, &mut vec![], &encloses, nests.len(), &unroll_of)
            })
            .max()
            .unwrap_or(1)
            .max(self.size_of(AxisKind::Upcast))
    }

    /// Workgroups in the grid.
    pub fn num_groups(&self) -> usize {
        self.size_of(AxisKind::Global)
    }
    /// Indices (into `parts`) of the reduce parts, which UNROLL and GROUP address.
    pub fn reduce_parts(&self) -> Vec<usize> {
        (0..self.parts.len())
            .filter(|&i| self.parts[i].kind == AxisKind::Reduce)
            .collect()
    }

    /// Splits `amount` off part `i` into a new part of `kind` (the inner one, or the outer one
    /// when `top`). `amount` must divide the part's size.
    fn shift_to(&mut self, i: usize, amount: usize, kind: AxisKind, top: bool) {
        let p = self.parts[i];
        let rest = p.size / amount;
        let (new, old) = if top {
            (
                Part {
                    axis: p.axis,
                    size: amount,
                    kind,
                    mult: p.mult * rest,
                },
                Part {
                    axis: p.axis,
                    size: rest,
                    kind: p.kind,
                    mult: p.mult,
                },
            )
        } else {
            (
                Part {
                    axis: p.axis,
                    size: amount,
                    kind,
                    mult: p.mult,
                },
                Part {
                    axis: p.axis,
                    size: rest,
                    kind: p.kind,
                    mult: p.mult * amount,
                },
            )
        };
        self.parts[i] = old;
        self.parts.push(new);
        // A part of size 1 carries no loop: drop it (its value is always 0).
        self.parts
            .retain(|q| q.size != 1 || q.kind == AxisKind::Global);
        self.sort();
    }

    /// GROUPOUT: part `i` (global) becomes `amount` group lanes (inner, so that neighbouring
    /// lanes store neighbouring elements) and a loop over the rest.
    fn group_out(&mut self, i: usize, amount: usize) {
        let p = self.parts[i];
        self.parts[i] = Part {
            axis: p.axis,
            size: p.size / amount,
            kind: AxisKind::Loop,
            mult: p.mult * amount,
        };
        self.parts.push(Part {
            axis: p.axis,
            size: amount,
            kind: AxisKind::Group,
            mult: p.mult,
        });
        self.parts
            .retain(|q| q.size != 1 || q.kind == AxisKind::Global);
        self.sort();
    }

    /// Bytes of workgroup memory the grouped reductions of `ast` need under this shape: one
    /// array per reduce dtype, `lanes × upcast` elements, reused by every reduce of that
    /// dtype. (Staged tiles add theirs: `StageTile::bytes`.)
    fn group_bytes(&self, ast: &KernelAst) -> usize {
        if !self.group_sets().iter().any(|(nest, _)| !nest.is_empty()) {
            return 0; // no grouped reduction
        }
        let mut dtypes = vec![];
        for (_, e) in ast.exprs.iter() {
            if matches!(e.op, AstNode::Reduce { .. }) && !dtypes.contains(&e.dtype) {
                dtypes.push(e.dtype);
            }
        }
        dtypes.len() * self.local_size() * self.size_of(AxisKind::Upcast) * 4
    }
}

/// Applies `opts` to `ast` on a device with `limits`, or says which opt does not fit and why.
pub fn apply_opts(
    ast: &KernelAst,
    opts: &[Opt],
    limits: &DeviceLimits,
) -> Result<Shaped, OptError> {
    let mut s = Shaped::new(ast);
    for (position, &opt) in opts.iter().enumerate() {
        apply_opt(ast, &mut s, opt, limits).map_err(|reason| OptError {
            opt,
            position,
            reason,
        })?;
        s.opts.push(opt);
    }
    Ok(s)
}

fn apply_opt(
    ast: &KernelAst,
    s: &mut Shaped,
    opt: Opt,
    limits: &DeviceLimits,
) -> Result<(), String> {
    if opt.op == OptOp::NoLocals {
        if s.local_size() > 1 {
            return Err("the kernel already has local or group parts".into());
        }
        s.nolocals = true;
        return Ok(());
    }
    // The opts on a buffer (`axis` is its index): STAGE and SHARE.
    if matches!(opt.op, OptOp::Stage | OptOp::Share) {
        if opt.amount != 0 {
            return Err(format!("{} takes no amount (its arg is 0)", opt.op.name()));
        }
        let (bufs, done) = if opt.op == OptOp::Stage {
            stage_buffer(ast, opt.axis)?;
            (&mut s.staged, "staged")
        } else {
            share_buffer(ast, opt.axis)?;
            (&mut s.shared, "shared")
        };
        if bufs.contains(&opt.axis) {
            return Err(format!("buffer {} is already {done}", opt.axis));
        }
        bufs.push(opt.axis);
        return check_limits(ast, s, limits);
    }
    let i = match opt.op {
        OptOp::Unroll | OptOp::Group | OptOp::GroupTop => {
            let reds = s.reduce_parts();
            *reds.get(opt.axis).ok_or_else(|| {
                format!(
                    "axis {} is out of range: the kernel has {} reduce parts",
                    opt.axis,
                    reds.len()
                )
            })?
        }
        _ => {
            if opt.axis >= s.parts.len() {
                return Err(format!(
                    "axis {} is out of range: the kernel has {} parts",
                    opt.axis,
                    s.parts.len()
                ));
            }
            opt.axis
        }
    };
    let part = s.parts[i];
    if part.size == 0 {
        return Err("the axis is empty".into());
    }
    let amount = if opt.amount == 0 {
        part.size
    } else {
        opt.amount
    };
    let kind_ok = match opt.op {
        OptOp::Local => part.kind == AxisKind::Global,
        OptOp::Upcast => matches!(
            part.kind,
            AxisKind::Global | AxisKind::Local | AxisKind::Loop
        ),
        OptOp::Unroll | OptOp::Group | OptOp::GroupTop => part.kind == AxisKind::Reduce,
        OptOp::GroupOut => part.kind == AxisKind::Global,
        OptOp::Padto => matches!(part.kind, AxisKind::Global | AxisKind::Reduce),
        OptOp::NoLocals | OptOp::Stage | OptOp::Share => unreachable!(),
    };
    if !kind_ok {
        return Err(format!("it does not apply to a {:?} part", part.kind));
    }
    if opt.op == OptOp::Padto {
        let whole = s.parts.iter().filter(|p| p.axis == part.axis).count() == 1;
        if !whole {
            return Err("PADTO applies to an axis that no other opt has split".into());
        }
        let padded = part.size.div_ceil(amount) * amount;
        if part.size <= amount / 4 {
            // tinygrad's rule: padding that more than quadruples the work is never worth it.
            return Err(format!(
                "padding {} to {padded} adds more than 4x the work",
                part.size
            ));
        }
        s.parts[i].size = padded;
        s.padded[part.axis] = padded;
        return Ok(());
    }
    if !part.size.is_multiple_of(amount) {
        return Err(format!(
            "{amount} does not divide the part's size {} (PADTO it first)",
            part.size
        ));
    }
    let grouping = matches!(
        opt.op,
        OptOp::Local | OptOp::Group | OptOp::GroupTop | OptOp::GroupOut
    );
    if grouping && s.nolocals && (amount > 1 || opt.op != OptOp::GroupOut) {
        return Err("NOLOCALS forbids local and group parts".into());
    }
    if opt.op == OptOp::GroupOut {
        // Computed here, not in `Shaped::new`: applying a list is on the search's hot path,
        // and only GROUPOUT needs the expression-level analysis.
        if !ast.column_axes().contains(&part.axis) {
            return Err(format!(
                "axis {} is not a column axis: some reduction of the kernel varies along it, so \
                 its workgroups could not share one computation of it",
                part.axis
            ));
        }
        s.group_out(i, amount);
    } else {
        let (kind, top) = match opt.op {
            OptOp::Local => (AxisKind::Local, false),
            OptOp::Upcast => (AxisKind::Upcast, false),
            OptOp::Unroll => (AxisKind::Unroll, false),
            OptOp::Group => (AxisKind::Group, false),
            OptOp::GroupTop => (AxisKind::Group, true),
            OptOp::GroupOut | OptOp::Padto | OptOp::NoLocals | OptOp::Stage | OptOp::Share => {
                unreachable!()
            }
        };
        s.shift_to(i, amount, kind, top);
    }
    let sets = s.group_sets();
    if sets.iter().any(|(_, g)| *g != sets[0].1) {
        let list: Vec<String> = sets
            .iter()
            .map(|(nest, g)| match nest.is_empty() {
                true => format!("the outputs by {g}"),
                false => format!("the nest over axes {nest:?} by {g}"),
            })
            .collect();
        return Err(format!(
            "group lanes are shared, so every grouped nest and GROUPOUT must use as many; \
             this groups {}",
            list.join(", ")
        ));
    }
    match opt.op {
        OptOp::Upcast if amount > MAX_UPCAST_AMOUNT => {
            return Err(format!("upcast by more than {MAX_UPCAST_AMOUNT}"))
        }
        OptOp::Unroll if amount > MAX_UNROLL_AMOUNT => {
            return Err(format!("unroll by more than {MAX_UNROLL_AMOUNT}"))
        }
        _ => {}
    }
    check_limits(ast, s, limits)
}

/// What every opt list must keep after each opt: the register budget, the device's lanes per
/// workgroup and workgroup memory, every staged tile still well-formed and every shared
/// buffer still shareable.
fn check_limits(ast: &KernelAst, s: &Shaped, limits: &DeviceLimits) -> Result<(), String> {
    let (max_upcast, max_values) = register_budget(limits);
    let upcast = s.size_of(AxisKind::Upcast);
    if upcast > max_upcast {
        return Err(format!(
            "{upcast} outputs per lane exceed the register budget of {max_upcast}"
        ));
    }
    // The product over all parts bounds the per-nest count from above: only a list over it
    // needs the expression-level count (the search applies lists on its hot path).
    let mut values = upcast * s.size_of(AxisKind::Unroll);
    if values > max_values {
        values = s.register_values(ast);
    }
    if values > max_values {
        return Err(format!(
            "{values} values per lane (upcast x unroll) exceed the register budget of {max_values}"
        ));
    }
    let lanes = s.local_size();
    if lanes > limits.max_workgroup_size {
        return Err(format!(
            "{lanes} lanes per workgroup exceed the device's {}",
            limits.max_workgroup_size
        ));
    }
    let mut bytes = s.group_bytes(ast);
    for &buf in &s.staged {
        let tile = stage_tile(ast, s, buf).map_err(|e| format!("staged buffer {buf}: {e}"))?;
        bytes += tile.bytes();
    }
    if bytes > limits.workgroup_memory_bytes {
        return Err(format!(
            "{bytes} bytes of workgroup memory exceed the device's {}",
            limits.workgroup_memory_bytes
        ));
    }
    for &buf in &s.shared {
        shared_loads(ast, s, buf, limits.subgroup_sizes)
            .map_err(|e| format!("shared buffer {buf}: {e}"))?;
    }
    Ok(())
}

/// Every single opt that can validly be appended to `opts`: the actions a search tries next.
/// Amounts tried: the divisors tinygrad tries (2, 3, 4, 8, 16, 32 and, for groups, up to 256),
/// 0 (the whole part) where it fits, PADTO to multiples of 4, 8, 16 and 32, and STAGE and
/// SHARE of every buffer where they fit.
pub fn candidate_opts(ast: &KernelAst, opts: &[Opt], limits: &DeviceLimits) -> Vec<Opt> {
    let Ok(base) = apply_opts(ast, opts, limits) else {
        return vec![];
    };
    let mut out = vec![];
    let try_opt = |o: Opt, out: &mut Vec<Opt>| {
        let mut list = opts.to_vec();
        list.push(o);
        if apply_opts(ast, &list, limits).is_ok() && !out.contains(&o) {
            out.push(o);
        }
    };
    for axis in 0..base.parts.len() {
        for amount in [0, 2, 3, 4, 8, 16] {
            try_opt(Opt::new(OptOp::Upcast, axis, amount), &mut out);
        }
        for amount in [0, 2, 3, 4, 8, 16, 32, 64, 128, 256] {
            try_opt(Opt::new(OptOp::Local, axis, amount), &mut out);
        }
        for amount in [1, 2, 4, 8, 16, 32, 64, 128, 256] {
            try_opt(Opt::new(OptOp::GroupOut, axis, amount), &mut out);
        }
        for amount in [4, 8, 16, 32] {
            if base.parts[axis].size % amount != 0 {
                try_opt(Opt::new(OptOp::Padto, axis, amount), &mut out);
            }
        }
    }
    for axis in 0..base.reduce_parts().len() {
        for amount in [0, 2, 3, 4, 8, 16, 32] {
            try_opt(Opt::new(OptOp::Unroll, axis, amount), &mut out);
        }
        for amount in [2, 4, 8, 16, 32, 64, 128, 256] {
            try_opt(Opt::new(OptOp::Group, axis, amount), &mut out);
            try_opt(Opt::new(OptOp::GroupTop, axis, amount), &mut out);
        }
    }
    try_opt(Opt::new(OptOp::NoLocals, 0, 0), &mut out);
    for buf in 0..ast.bufs.len() {
        try_opt(Opt::new(OptOp::Stage, buf, 0), &mut out);
        try_opt(Opt::new(OptOp::Share, buf, 0), &mut out);
    }
    // An amount of 0 that equals an explicit amount is the same opt twice: keep the explicit one.
    let sizes: Vec<(Opt, usize)> = out
        .iter()
        .map(|o| {
            let size = match o.op {
                OptOp::Unroll | OptOp::Group | OptOp::GroupTop => base
                    .reduce_parts()
                    .get(o.axis)
                    .map_or(0, |&i| base.parts[i].size),
                _ => base.parts.get(o.axis).map_or(0, |p| p.size),
            };
            (*o, size)
        })
        .collect();
    out.retain(|o| {
        o.amount != 0
            || !sizes
                .iter()
                .any(|(q, size)| q.op == o.op && q.axis == o.axis && q.amount == *size)
    });
    out
}
