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

use super::ast::KernelAst;
use super::shaped::{AxisKind, Part, Shaped};
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
/// Most combinations of upcast and unroll part values one kernel may have: the linearizer
/// enumerates them all, also where each nest is unrolled on its own and few are live at once.
pub const MAX_LANE_COMBINATIONS: usize = 1 << 21;

/// Largest single UPCAST / UNROLL amount.
pub const MAX_UPCAST_AMOUNT: usize = 16;
pub const MAX_UNROLL_AMOUNT: usize = 32;

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
    match opt.op {
        OptOp::NoLocals => no_locals(s),
        OptOp::Stage | OptOp::Share => buffer_opt(ast, s, opt, limits),
        _ => {
            let i = target_part(s, opt)?;
            let part = s.parts[i];
            if part.size == 0 {
                return Err("the axis is empty".into());
            }
            if ast.scan_axis == Some(part.axis) && !scan_upcast(s, opt, part) {
                return Err(
                    "a scan walks its axis in order, in one lane: only one UPCAST of its loop"
                        .into(),
                );
            }
            if !applies_to(opt.op, part.kind) {
                return Err(format!("it does not apply to a {:?} part", part.kind));
            }
            let amount = if opt.amount == 0 {
                part.size
            } else {
                opt.amount
            };
            match opt.op {
                OptOp::Padto => pad_to(s, i, amount),
                _ => split_part(ast, s, opt.op, i, amount, limits),
            }
        }
    }
}

fn no_locals(s: &mut Shaped) -> Result<(), String> {
    if s.local_size() > 1 {
        return Err("the kernel already has local or group parts".into());
    }
    s.nolocals = true;
    Ok(())
}

/// The opts on a buffer (`axis` is its index): STAGE and SHARE.
fn buffer_opt(
    ast: &KernelAst,
    s: &mut Shaped,
    opt: Opt,
    limits: &DeviceLimits,
) -> Result<(), String> {
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
    check_limits(ast, s, limits)
}

/// The index of the part `opt` addresses: UNROLL and GROUP count the reduce parts only.
fn target_part(s: &Shaped, opt: Opt) -> Result<usize, String> {
    match opt.op {
        OptOp::Unroll | OptOp::Group | OptOp::GroupTop => {
            let reds = s.reduce_parts();
            reds.get(opt.axis).copied().ok_or_else(|| {
                format!(
                    "axis {} is out of range: the kernel has {} reduce parts",
                    opt.axis,
                    reds.len()
                )
            })
        }
        _ if opt.axis >= s.parts.len() => Err(format!(
            "axis {} is out of range: the kernel has {} parts",
            opt.axis,
            s.parts.len()
        )),
        _ => Ok(opt.axis),
    }
}

/// UPCAST of a scan's loop, once: the lane then folds that many neighbours in order.
fn scan_upcast(s: &Shaped, opt: Opt, part: Part) -> bool {
    opt.op == OptOp::Upcast
        && part.kind == AxisKind::Loop
        && s.parts.iter().filter(|p| p.axis == part.axis).count() == 1
}

/// Which kinds of part each opt on a part applies to.
fn applies_to(op: OptOp, kind: AxisKind) -> bool {
    match op {
        OptOp::Local | OptOp::GroupOut => kind == AxisKind::Global,
        OptOp::Upcast => matches!(kind, AxisKind::Global | AxisKind::Local | AxisKind::Loop),
        OptOp::Unroll | OptOp::Group | OptOp::GroupTop => kind == AxisKind::Reduce,
        OptOp::Padto => matches!(kind, AxisKind::Global | AxisKind::Reduce),
        OptOp::NoLocals | OptOp::Stage | OptOp::Share => false,
    }
}

/// PADTO: rounds part `i` (an axis no other opt has split) up to a multiple of `amount`.
fn pad_to(s: &mut Shaped, i: usize, amount: usize) -> Result<(), String> {
    let part = s.parts[i];
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
    Ok(())
}

/// Shifts `amount` of part `i` into a new part of the kind `op` makes (tinygrad's
/// `shift_to`), or spreads a column axis over the group lanes (GROUPOUT), then checks what
/// the new shape must keep: equal group lanes everywhere, the amount caps, the device.
fn split_part(
    ast: &KernelAst,
    s: &mut Shaped,
    op: OptOp,
    i: usize,
    amount: usize,
    limits: &DeviceLimits,
) -> Result<(), String> {
    let part = s.parts[i];
    if !part.size.is_multiple_of(amount) {
        return Err(format!(
            "{amount} does not divide the part's size {} (PADTO it first)",
            part.size
        ));
    }
    let grouping = matches!(
        op,
        OptOp::Local | OptOp::Group | OptOp::GroupTop | OptOp::GroupOut
    );
    if grouping && s.nolocals && (amount > 1 || op != OptOp::GroupOut) {
        return Err("NOLOCALS forbids local and group parts".into());
    }
    match op {
        OptOp::GroupOut => {
            // Computed here, not in `Shaped::new`: applying a list is on the search's hot
            // path, and only GROUPOUT needs the expression-level analysis.
            if !ast.column_axes().contains(&part.axis) {
                return Err(format!(
                    "axis {} is not a column axis: some reduction of the kernel varies along \
                     it, so its workgroups could not share one computation of it",
                    part.axis
                ));
            }
            s.group_out(i, amount);
        }
        OptOp::Local => s.shift_to(i, amount, AxisKind::Local, false),
        OptOp::Upcast => s.shift_to(i, amount, AxisKind::Upcast, false),
        OptOp::Unroll => s.shift_to(i, amount, AxisKind::Unroll, false),
        OptOp::Group => s.shift_to(i, amount, AxisKind::Group, false),
        OptOp::GroupTop => s.shift_to(i, amount, AxisKind::Group, true),
        OptOp::Padto | OptOp::NoLocals | OptOp::Stage | OptOp::Share => {
            unreachable!("not a split")
        }
    }
    check_group_lanes(s)?;
    match op {
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

/// Group lanes are shared: every grouped nest and the GROUPOUT parts use as many.
fn check_group_lanes(s: &Shaped) -> Result<(), String> {
    let sets = s.group_sets();
    if sets.iter().all(|(_, g)| *g == sets[0].1) {
        return Ok(());
    }
    let list: Vec<String> = sets
        .iter()
        .map(|(nest, g)| match nest.is_empty() {
            true => format!("the outputs by {g}"),
            false => format!("the nest over axes {nest:?} by {g}"),
        })
        .collect();
    Err(format!(
        "group lanes are shared, so every grouped nest and GROUPOUT must use as many; this \
         groups {}",
        list.join(", ")
    ))
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
    if values > MAX_LANE_COMBINATIONS {
        return Err(format!(
            "{values} combinations of upcast and unroll lanes exceed {MAX_LANE_COMBINATIONS} (unrolls of several nests multiply)"
        ));
    }
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
