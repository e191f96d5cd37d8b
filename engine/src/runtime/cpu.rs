//! The CPU device: an interpreter of the linear IR that executes a kernel exactly as a GPU
//! would: every workgroup, every invocation, workgroup memory and barriers.
//!
//! Interpretation is vectorized over the invocations of a workgroup: each instruction runs for
//! all lanes at once on typed vectors, under an active-lane mask that `If` narrows. Because all
//! lanes advance in lockstep, a barrier needs no work: every lane has finished the instructions
//! before it when any lane starts the ones after it, which is the guarantee a barrier gives.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::codegen::ir::{Program, Ref, Special, UOp};
use crate::dtype::{DType, Scalar};
use crate::error::{Error, Result};
use crate::ops::{BinaryOp, Semantics, UnaryOp};

use super::{Launch, RawBuffer};

pub(crate) struct CpuBuffer {
    /// Kernels of several threads may read one buffer at once; a kernel writes only the
    /// buffers it allocated for its outputs.
    words: RwLock<Vec<u32>>,
    /// Bytes counted in `in_use` for this buffer (0 for an empty one, which still holds one
    /// word so that it can be bound).
    bytes: usize,
}

impl CpuBuffer {
    pub fn write(&self, data: &[u32]) {
        self.words.write().unwrap()[..data.len()].copy_from_slice(data);
    }
    pub fn read(&self, numel: usize) -> Vec<u32> {
        self.words.read().unwrap()[..numel].to_vec()
    }
}

pub(crate) struct CpuDevice {
    in_use: AtomicUsize,
}

/// `n` zero words, or `None` when the allocation fails. Zeroed memory from the allocator
/// (calloc) rather than a fill, so untouched pages of a large buffer cost nothing.
fn zeroed_words(n: usize) -> Option<Vec<u32>> {
    let layout = std::alloc::Layout::array::<u32>(n).ok()?;
    // SAFETY: `layout` has a non-zero size (n >= 1) and u32's alignment; a non-null result is
    // a zero-initialized allocation of exactly `n` u32s from the global allocator, which is
    // what `Vec::from_raw_parts` requires (capacity n, length n, all elements initialized).
    unsafe {
        let ptr = std::alloc::alloc_zeroed(layout) as *mut u32;
        (!ptr.is_null()).then(|| Vec::from_raw_parts(ptr, n, n))
    }
}

impl CpuDevice {
    pub fn new() -> CpuDevice {
        CpuDevice {
            in_use: AtomicUsize::new(0),
        }
    }
    /// A zeroed buffer, or `Error::Memory` when the host cannot provide it (as wgpu reports
    /// an allocation it cannot make) instead of aborting the process.
    pub fn alloc(&self, bytes: usize) -> Result<Arc<CpuBuffer>> {
        let words = zeroed_words(bytes.div_ceil(4).max(1)).ok_or_else(|| {
            Error::Memory(format!(
                "CPU device: the host cannot allocate {bytes} bytes"
            ))
        })?;
        self.in_use.fetch_add(bytes, Ordering::Relaxed);
        Ok(Arc::new(CpuBuffer {
            words: RwLock::new(words),
            bytes,
        }))
    }
    pub fn free(&self, b: Arc<CpuBuffer>) {
        self.in_use.fetch_sub(b.bytes, Ordering::Relaxed);
    }
    pub fn memory_in_use(&self) -> usize {
        self.in_use.load(Ordering::Relaxed)
    }

    pub fn run(&self, launches: &[Launch], timed: bool) -> Result<Vec<Option<f64>>> {
        let mut times = vec![];
        for l in launches {
            let start = std::time::Instant::now();
            let bufs: Vec<Arc<CpuBuffer>> = l
                .bufs
                .iter()
                .map(|b| match b.raw() {
                    RawBuffer::Cpu(c) => c.clone(),
                    RawBuffer::Wgpu(_) => unreachable!("wgpu buffer on the CPU device"),
                })
                .collect();
            // Two arguments may be one buffer (a value and a reshape of it): lock each buffer
            // once, and map arguments to the distinct buffers. Buffers are locked in address
            // order, so kernels of several threads sharing inputs cannot deadlock; outputs are
            // locked for writing, inputs for reading (readers run side by side).
            let mut distinct: Vec<(Arc<CpuBuffer>, bool)> = vec![];
            for (b, arg) in bufs.iter().zip(&l.kernel.program.bufs) {
                match distinct.iter_mut().find(|(d, _)| Arc::ptr_eq(d, b)) {
                    Some((_, written)) => *written |= arg.output,
                    None => distinct.push((b.clone(), arg.output)),
                }
            }
            distinct.sort_by_key(|(d, _)| Arc::as_ptr(d) as usize);
            let arg_to_buf: Vec<usize> = bufs
                .iter()
                .map(|b| {
                    distinct
                        .iter()
                        .position(|(d, _)| Arc::ptr_eq(d, b))
                        .expect("every argument is distinct[..]")
                })
                .collect();
            let mut guards: Vec<Guard<'_>> = distinct
                .iter()
                .map(|(b, written)| match written {
                    true => Guard::Write(b.words.write().unwrap()),
                    false => Guard::Read(b.words.read().unwrap()),
                })
                .collect();
            let mut mem = Memory {
                words: guards.iter_mut().map(Guard::words).collect(),
                arg_to_buf,
            };
            // Workgroups that share no memory are independent, so many run as one batch of
            // lanes; that amortizes the per-instruction interpretation cost.
            let p = &l.kernel.program;
            let uses_locals = p
                .insts
                .iter()
                .any(|(_, i)| matches!(i.op, UOp::DefineLocal { .. }));
            let batch = if uses_locals {
                1
            } else {
                (LANES_PER_BATCH / p.local_size()).max(1)
            };
            let mut group = 0;
            let num_groups = p.num_groups();
            while group < num_groups {
                let count = batch.min(num_groups - group);
                run_workgroups(p, &l.params, group, count, &mut mem);
                group += count;
            }
            times.push(timed.then(|| start.elapsed().as_secs_f64()));
        }
        Ok(times)
    }
}

enum Guard<'a> {
    Read(RwLockReadGuard<'a, Vec<u32>>),
    Write(RwLockWriteGuard<'a, Vec<u32>>),
}

impl<'a> Guard<'a> {
    fn words(&mut self) -> Words<'_> {
        match self {
            Guard::Read(g) => Words::Read(g.as_slice()),
            Guard::Write(g) => Words::Write(g.as_mut_slice()),
        }
    }
}

enum Words<'a> {
    Read(&'a [u32]),
    Write(&'a mut [u32]),
}

/// The kernel's view of its buffers: argument `i` is `words[arg_to_buf[i]]`.
struct Memory<'a> {
    words: Vec<Words<'a>>,
    arg_to_buf: Vec<usize>,
}

impl Memory<'_> {
    fn arg(&self, i: usize) -> &[u32] {
        match &self.words[self.arg_to_buf[i]] {
            Words::Read(w) => w,
            Words::Write(w) => w,
        }
    }
    fn arg_mut(&mut self, i: usize) -> &mut [u32] {
        match &mut self.words[self.arg_to_buf[i]] {
            Words::Write(w) => w,
            Words::Read(_) => panic!("kiln bug: a store to input buffer {i}"),
        }
    }
}

/// Values of one instruction for every lane of the workgroup.
#[derive(Clone, Debug)]
enum Lanes {
    F32(Vec<f32>),
    I32(Vec<i32>),
    U32(Vec<u32>),
    Bool(Vec<bool>),
}

impl Lanes {
    fn splat(s: Scalar, n: usize) -> Lanes {
        match s {
            Scalar::F32(v) => Lanes::F32(vec![v; n]),
            Scalar::I32(v) => Lanes::I32(vec![v; n]),
            Scalar::U32(v) => Lanes::U32(vec![v; n]),
            Scalar::Bool(v) => Lanes::Bool(vec![v; n]),
        }
    }
    fn from_bits(bits: impl Iterator<Item = u32>, d: DType) -> Lanes {
        match d {
            DType::F32 => Lanes::F32(bits.map(f32::from_bits).collect()),
            DType::I32 => Lanes::I32(bits.map(|b| b as i32).collect()),
            DType::U32 => Lanes::U32(bits.collect()),
            DType::Bool => Lanes::Bool(bits.map(|b| b != 0).collect()),
        }
    }
    fn dtype(&self) -> DType {
        match self {
            Lanes::F32(_) => DType::F32,
            Lanes::I32(_) => DType::I32,
            Lanes::U32(_) => DType::U32,
            Lanes::Bool(_) => DType::Bool,
        }
    }
    fn len(&self) -> usize {
        match self {
            Lanes::F32(v) => v.len(),
            Lanes::I32(v) => v.len(),
            Lanes::U32(v) => v.len(),
            Lanes::Bool(v) => v.len(),
        }
    }
    fn bits(&self, lane: usize) -> u32 {
        match self {
            Lanes::F32(v) => v[lane].to_bits(),
            Lanes::I32(v) => v[lane] as u32,
            Lanes::U32(v) => v[lane],
            Lanes::Bool(v) => v[lane] as u32,
        }
    }
    fn i32s(&self) -> &[i32] {
        match self {
            Lanes::I32(v) => v,
            other => panic!("interpreter: expected i32 lanes, got {other:?}"),
        }
    }
    fn bools(&self) -> &[bool] {
        match self {
            Lanes::Bool(v) => v,
            other => panic!("interpreter: expected bool lanes, got {other:?}"),
        }
    }
    /// Copies the active lanes of `src` into `self`.
    fn assign_masked(&mut self, src: &Lanes, mask: &[bool]) {
        macro_rules! copy {
            ($a:expr, $b:expr) => {
                for ((d, s), &m) in $a.iter_mut().zip($b.iter()).zip(mask) {
                    if m {
                        *d = *s;
                    }
                }
            };
        }
        match (self, src) {
            (Lanes::F32(a), Lanes::F32(b)) => copy!(a, b),
            (Lanes::I32(a), Lanes::I32(b)) => copy!(a, b),
            (Lanes::U32(a), Lanes::U32(b)) => copy!(a, b),
            (Lanes::Bool(a), Lanes::Bool(b)) => copy!(a, b),
            _ => panic!("interpreter: assign between dtypes"),
        }
    }
}

/// `op` over every lane, by the scalar semantics of `ops::Semantics`.
fn unary(op: UnaryOp, a: &Lanes) -> Lanes {
    fn each<T: Semantics>(op: UnaryOp, v: &[T]) -> Vec<T> {
        v.iter().map(|&x| T::unary(op, x)).collect()
    }
    match a {
        Lanes::F32(v) => Lanes::F32(each(op, v)),
        Lanes::I32(v) => Lanes::I32(each(op, v)),
        Lanes::U32(v) => Lanes::U32(each(op, v)),
        Lanes::Bool(v) => Lanes::Bool(each(op, v)),
    }
}

/// `a op b` over every lane, by the scalar semantics of `ops::Semantics`.
fn binary(op: BinaryOp, a: &Lanes, b: &Lanes) -> Lanes {
    fn each<T: Semantics>(op: BinaryOp, x: &[T], y: &[T], wrap: fn(Vec<T>) -> Lanes) -> Lanes {
        let pairs = x.iter().zip(y);
        match op.is_comparison() {
            true => Lanes::Bool(pairs.map(|(&p, &q)| T::compare(op, p, q)).collect()),
            false => wrap(pairs.map(|(&p, &q)| T::binary(op, p, q)).collect()),
        }
    }
    match (a, b) {
        (Lanes::F32(x), Lanes::F32(y)) => each(op, x, y, Lanes::F32),
        (Lanes::I32(x), Lanes::I32(y)) => each(op, x, y, Lanes::I32),
        (Lanes::U32(x), Lanes::U32(y)) => each(op, x, y, Lanes::U32),
        (Lanes::Bool(x), Lanes::Bool(y)) => each(op, x, y, Lanes::Bool),
        (a, b) => panic!("interpreter: {} on {a:?} and {b:?}", op.name()),
    }
}

fn select(c: &[bool], a: &Lanes, b: &Lanes) -> Lanes {
    macro_rules! sel {
        ($x:expr, $y:expr) => {
            c.iter()
                .zip($x.iter().zip($y.iter()))
                .map(|(&c, (&p, &q))| if c { p } else { q })
                .collect()
        };
    }
    match (a, b) {
        (Lanes::F32(x), Lanes::F32(y)) => Lanes::F32(sel!(x, y)),
        (Lanes::I32(x), Lanes::I32(y)) => Lanes::I32(sel!(x, y)),
        (Lanes::U32(x), Lanes::U32(y)) => Lanes::U32(sel!(x, y)),
        (Lanes::Bool(x), Lanes::Bool(y)) => Lanes::Bool(sel!(x, y)),
        _ => panic!("interpreter: where between dtypes"),
    }
}

/// Value conversions: `Scalar::cast` lane by lane, the one rule on every path.
fn cast(a: &Lanes, to: DType) -> Lanes {
    let from = a.dtype();
    let bits = (0..a.len()).map(|l| Scalar::from_bits(a.bits(l), from).cast(to).to_bits());
    Lanes::from_bits(bits, to)
}

/// `data[idx[l]] = v[l]` for every lane `l` where `on(l)`, with the dtype dispatch hoisted out
/// of the loop (this is the interpreter's hottest path on elementwise kernels).
fn store_scalars(
    data: &mut [u32],
    idx: &[i32],
    v: &Lanes,
    on: impl Fn(usize) -> bool,
    kernel: &str,
) {
    let numel = data.len();
    let mut put = |l: usize, bits: u32| {
        let i = idx[l];
        assert!(
            i >= 0 && (i as usize) < numel,
            "interpreter: store out of bounds: [{i}] in {kernel}"
        );
        data[i as usize] = bits;
    };
    match v {
        Lanes::F32(x) => (0..x.len())
            .filter(|&l| on(l))
            .for_each(|l| put(l, x[l].to_bits())),
        Lanes::I32(x) => (0..x.len())
            .filter(|&l| on(l))
            .for_each(|l| put(l, x[l] as u32)),
        Lanes::U32(x) => (0..x.len()).filter(|&l| on(l)).for_each(|l| put(l, x[l])),
        Lanes::Bool(x) => (0..x.len())
            .filter(|&l| on(l))
            .for_each(|l| put(l, x[l] as u32)),
    }
}

/// Matching `EndRange`/`EndIf` for every `Range`/`If`, and the opener for every closer.
fn block_pairs(p: &Program) -> Vec<usize> {
    let mut pair = vec![usize::MAX; p.insts.len()];
    let mut stack = vec![];
    for (h, inst) in p.insts.iter() {
        if inst.op.opens_block() {
            stack.push(h.index());
        } else if inst.op.closes_block() {
            let open = stack.pop().expect("balanced blocks");
            pair[open] = h.index();
            pair[h.index()] = open;
        }
    }
    pair
}

/// Invocations per subgroup in the interpreter. Its device promises subgroups of 4 to 8
/// (`DeviceLimits::subgroup_sizes`, see `Device::limits`), as a GPU with a range of
/// subgroup sizes would: kernels then size their arrays for more subgroups than run, and the
/// masking of the absent ones is exercised.
pub(crate) const SUBGROUP_SIZE: usize = 8;

/// Lanes interpreted together when workgroups can be batched.
const LANES_PER_BATCH: usize = 4096;

/// Runs workgroups `first..first + count` as one batch of lanes (`count` is 1 when the program
/// uses workgroup memory). A vector value of width `w` holds `w` consecutive entries per lane.
fn run_workgroups(p: &Program, params: &[u32], first: usize, count: usize, mem: &mut Memory<'_>) {
    let local = p.local_size();
    let n = local * count;
    let pair = block_pairs(p);
    let insts = p.insts.as_slice();
    let mut vals: Vec<Option<Lanes>> = vec![None; insts.len()];
    let mut locals: Vec<Vec<u32>> = vec![vec![]; insts.len()];
    let mut masks: Vec<Vec<bool>> = vec![vec![true; n]];
    let mut loop_counters: Vec<i64> = vec![0; insts.len()];
    let mut pc = 0;
    fn def<'v>(vals: &'v [Option<Lanes>], r: Ref, p: &Program) -> &'v Lanes {
        vals[r.index()]
            .as_ref()
            .unwrap_or_else(|| panic!("interpreter: use of undefined {r} in {}", p.name))
    }
    while pc < insts.len() {
        let inst = &insts[pc];
        let mask: &[bool] = masks.last().expect("mask");
        let mut push_mask = None;
        let mut pop_mask = false;
        let out: Option<Lanes> = match &inst.op {
            UOp::Special(Special::GroupId) => Some(Lanes::I32(
                (0..n).map(|l| (first + l / local) as i32).collect(),
            )),
            UOp::Special(Special::LocalId) => {
                Some(Lanes::I32((0..n).map(|l| (l % local) as i32).collect()))
            }
            UOp::Special(Special::SubgroupInvocationId) => Some(Lanes::I32(
                (0..n).map(|l| (l % local % SUBGROUP_SIZE) as i32).collect(),
            )),
            UOp::Special(Special::SubgroupId) => Some(Lanes::I32(
                (0..n).map(|l| (l % local / SUBGROUP_SIZE) as i32).collect(),
            )),
            UOp::Special(Special::NumSubgroups) => Some(Lanes::splat(
                Scalar::I32(local.div_ceil(SUBGROUP_SIZE) as i32),
                n,
            )),
            UOp::SubgroupReduce { op, value } => {
                let x = def(&vals, *value, p);
                let d = inst.dtype;
                let mut bits = vec![0u32; n];
                // Subgroups: runs of SUBGROUP_SIZE invocations of one workgroup (the last
                // one shorter when the size does not divide the workgroup's).
                for wg in 0..count {
                    for start in (0..local).step_by(SUBGROUP_SIZE) {
                        let lanes =
                            wg * local + start..wg * local + (start + SUBGROUP_SIZE).min(local);
                        let r = lanes
                            .clone()
                            .filter(|&l| mask[l])
                            .fold(op.identity(d), |acc, l| {
                                op.combine(acc, Scalar::from_bits(x.bits(l), d))
                            });
                        for l in lanes {
                            bits[l] = r.to_bits();
                        }
                    }
                }
                Some(Lanes::from_bits(bits.into_iter(), d))
            }
            UOp::SubgroupBroadcast { value, lane } => {
                let x = def(&vals, *value, p);
                let w = inst.width as usize;
                // The invocation `lane` places into its subgroup (a run of SUBGROUP_SIZE
                // invocations of one workgroup, as for `SubgroupReduce`).
                let from = |l: usize| {
                    let start = l - l % local % SUBGROUP_SIZE;
                    assert!(
                        start + (*lane as usize) < (l - l % local) + local,
                        "interpreter: subgroup broadcast from absent invocation {lane} in {}",
                        p.name
                    );
                    start + *lane as usize
                };
                let bits = (0..n * w).map(|e| x.bits(from(e / w) * w + e % w));
                Some(Lanes::from_bits(bits, inst.dtype))
            }
            UOp::Const(s) => Some(Lanes::splat(*s, n)),
            UOp::Param(i) => Some(Lanes::splat(Scalar::from_bits(params[*i], inst.dtype), n)),
            UOp::Unary(op, a) => Some(unary(*op, def(&vals, *a, p))),
            UOp::Binary(op, a, b) => Some(binary(*op, def(&vals, *a, p), def(&vals, *b, p))),
            UOp::Where(c, a, b) => Some(select(
                def(&vals, *c, p).bools(),
                def(&vals, *a, p),
                def(&vals, *b, p),
            )),
            UOp::Cast(a) => Some(cast(def(&vals, *a, p), inst.dtype)),
            UOp::Load { buf, index, valid } => {
                let w = inst.width as usize;
                let idx = def(&vals, *index, p).i32s();
                let ok: Option<&[bool]> = valid.map(|g| def(&vals, g, p).bools());
                let data = mem.arg(*buf);
                let numel = p.bufs[*buf].numel;
                if w == 1 {
                    // Scalar loads (the common case): one pass, no intermediate vector.
                    let bits = (0..n).map(|l| {
                        if mask[l] && ok.is_none_or(|o| o[l]) {
                            let i = idx[l];
                            assert!(
                                i >= 0 && (i as usize) < numel,
                                "interpreter: load out of bounds: data{buf}[{i}] in {}",
                                p.name
                            );
                            data[i as usize]
                        } else {
                            0
                        }
                    });
                    vals[pc] = Some(Lanes::from_bits(bits, inst.dtype));
                    pc += 1;
                    continue;
                }
                let mut bits: Vec<u32> = Vec::with_capacity(n * w);
                for l in 0..n {
                    if mask[l] && ok.is_none_or(|o| o[l]) {
                        let i = idx[l] as i64;
                        assert!(
                            i >= 0 && i as usize + w <= numel && i % w as i64 == 0,
                            "interpreter: load out of bounds or misaligned: data{buf}[{i}] (width {w}) in {}",
                            p.name
                        );
                        bits.extend_from_slice(&data[i as usize..i as usize + w]);
                    } else {
                        bits.extend(std::iter::repeat_n(0, w));
                    }
                }
                Some(Lanes::from_bits(bits.into_iter(), inst.dtype))
            }
            UOp::Store {
                buf,
                index,
                value,
                mask: store_mask,
            } => {
                let w = insts[value.index()].width as usize;
                let idx = def(&vals, *index, p).i32s();
                let v = def(&vals, *value, p);
                let m: Option<&[bool]> = store_mask.map(|g| def(&vals, g, p).bools());
                let numel = p.bufs[*buf].numel;
                let data = mem.arg_mut(*buf);
                if w == 1 {
                    let on = |l: usize| mask[l] && m.is_none_or(|m| m[l]);
                    store_scalars(&mut data[..numel], idx, v, on, &p.name);
                    pc += 1;
                    continue;
                }
                for l in (0..n).filter(|&l| mask[l] && m.is_none_or(|m| m[l])) {
                    for c in 0..w {
                        let i = idx[l] as i64 + c as i64;
                        assert!(
                            i >= 0 && (i as usize) < numel,
                            "interpreter: store out of bounds: data{buf}[{i}] in {}",
                            p.name
                        );
                        data[i as usize] = v.bits(l * w + c);
                    }
                }
                None
            }
            UOp::Gep(a, lane) => {
                let v = def(&vals, *a, p);
                let w = insts[a.index()].width as usize;
                let bits = (0..n).map(|l| v.bits(l * w + *lane as usize));
                Some(Lanes::from_bits(bits, inst.dtype))
            }
            UOp::Vectorize(parts) => {
                let comps: Vec<&Lanes> = parts.iter().map(|r| def(&vals, *r, p)).collect();
                let w = comps.len();
                let bits = (0..n * w).map(|e| comps[e % w].bits(e / w));
                Some(Lanes::from_bits(bits, inst.dtype))
            }
            UOp::DefineAcc(init) => Some(Lanes::splat(*init, n)),
            UOp::Assign { acc, value } => {
                let v = def(&vals, *value, p).clone();
                vals[acc.index()]
                    .as_mut()
                    .expect("acc")
                    .assign_masked(&v, mask);
                None
            }
            UOp::Range { end } => {
                if *end <= 0 {
                    pc = pair[pc] + 1;
                    continue;
                }
                loop_counters[pc] = 0;
                Some(Lanes::I32(vec![0; n]))
            }
            UOp::EndRange => {
                let open = pair[pc];
                let UOp::Range { end } = insts[open].op else {
                    unreachable!()
                };
                loop_counters[open] += 1;
                if loop_counters[open] < end {
                    vals[open] = Some(Lanes::I32(vec![loop_counters[open] as i32; n]));
                    pc = open + 1;
                    continue;
                }
                None
            }
            UOp::If(c) => {
                let c = def(&vals, *c, p);
                let m: Vec<bool> = mask.iter().zip(c.bools()).map(|(&a, &b)| a && b).collect();
                if !m.iter().any(|&x| x) {
                    pc = pair[pc] + 1;
                    continue;
                }
                push_mask = Some(m);
                None
            }
            UOp::EndIf => {
                pop_mask = true;
                None
            }
            UOp::DefineLocal { len } => {
                locals[pc] = vec![0; *len];
                None
            }
            UOp::LoadLocal { local, index } => {
                let idx = def(&vals, *index, p);
                let idx = idx.i32s();
                let l = &locals[local.index()];
                let bits = (0..n).map(|lane| {
                    if mask[lane] {
                        *l.get(idx[lane] as usize).unwrap_or_else(|| {
                            panic!("interpreter: workgroup read out of bounds in {}", p.name)
                        })
                    } else {
                        0
                    }
                });
                Some(Lanes::from_bits(bits, inst.dtype))
            }
            UOp::StoreLocal {
                local,
                index,
                value,
            } => {
                let idx = def(&vals, *index, p).i32s().to_vec();
                let v = def(&vals, *value, p);
                for lane in (0..n).filter(|&l| mask[l]) {
                    let slot = locals[local.index()]
                        .get_mut(idx[lane] as usize)
                        .unwrap_or_else(|| {
                            panic!("interpreter: workgroup write out of bounds in {}", p.name)
                        });
                    *slot = v.bits(lane);
                }
                None
            }
            UOp::Barrier => None,
        };
        if out.is_some() {
            vals[pc] = out;
        }
        if let Some(m) = push_mask {
            masks.push(m);
        }
        if pop_mask {
            masks.pop();
        }
        pc += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A buffer the host cannot provide is `Error::Memory`, not an abort ("memory allocation
    /// of 4398046511104 bytes failed"). Kernels cannot reach such sizes (they are refused
    /// past i32 indexing first), so the device is asked directly.
    #[test]
    fn an_impossible_allocation_is_an_error() {
        let dev = CpuDevice::new();
        for bytes in [1usize << 50, usize::MAX / 2] {
            match dev.alloc(bytes) {
                Err(Error::Memory(m)) => assert!(m.contains(&bytes.to_string()), "{m}"),
                other => panic!("{bytes} bytes: {:?}", other.map(|_| ())),
            }
        }
        assert_eq!(dev.memory_in_use(), 0);
        let b = dev.alloc(10).unwrap();
        assert_eq!(b.read(3), vec![0, 0, 0]);
    }
}
