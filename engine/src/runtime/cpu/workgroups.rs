//! The interpreter proper: runs a program's linear IR for a batch of workgroups, every
//! instruction for all their invocations at once.

use crate::codegen::ir::{Inst, Program, Ref, Special, UOp};
use crate::dtype::{read_element, write_element, DType, Scalar};
use crate::ops::ReduceOp;

use super::lanes::{binary, cast, select, store_scalars, unary, Lanes};
use super::Memory;

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
pub(super) const LANES_PER_BATCH: usize = 4096;

/// Runs workgroups `first..first + count` as one batch of lanes (`count` is 1 when the program
/// uses workgroup memory). A vector value of width `w` holds `w` consecutive entries per lane.
pub(super) fn run_workgroups(
    p: &Program,
    params: &[u32],
    first: usize,
    count: usize,
    mem: &mut Memory<'_>,
) {
    let mut w = Workgroups::new(p, params, first, count);
    let mut pc = 0;
    while pc < p.insts.len() {
        pc = w.step(pc, mem);
    }
}

/// The interpreter's state over `count` workgroups run in lockstep: every instruction runs
/// for all their invocations at once, under the mask of the `If`s open around it.
struct Workgroups<'a> {
    p: &'a Program,
    params: &'a [u32],
    /// The first workgroup's index in the grid.
    first: usize,
    /// Invocations per workgroup.
    local: usize,
    count: usize,
    /// Invocations in all: `local * count`.
    n: usize,
    /// For each `Range`/`If`, its closer, and the other way round.
    pair: Vec<usize>,
    /// Each instruction's value, per invocation (accumulators are overwritten in place).
    vals: Vec<Option<Lanes>>,
    /// Workgroup arrays, by their `DefineLocal`.
    locals: Vec<Vec<u32>>,
    /// Active invocations under each open `If` (the first: all).
    masks: Vec<Vec<bool>>,
    /// Iterations done by each open `Range`.
    loop_counters: Vec<i64>,
}

impl<'a> Workgroups<'a> {
    fn new(p: &'a Program, params: &'a [u32], first: usize, count: usize) -> Workgroups<'a> {
        let local = p.local_size();
        let len = p.insts.len();
        Workgroups {
            p,
            params,
            first,
            local,
            count,
            n: local * count,
            pair: block_pairs(p),
            vals: vec![None; len],
            locals: vec![vec![]; len],
            masks: vec![vec![true; local * count]],
            loop_counters: vec![0; len],
        }
    }

    fn def(&self, r: Ref) -> &Lanes {
        self.vals[r.index()]
            .as_ref()
            .unwrap_or_else(|| panic!("interpreter: use of undefined {r} in {}", self.p.name))
    }

    fn mask(&self) -> &[bool] {
        self.masks.last().expect("the outermost mask")
    }

    /// Runs instruction `pc` for every invocation and returns the next instruction.
    fn step(&mut self, pc: usize, mem: &mut Memory<'_>) -> usize {
        let inst = &self.p.insts.as_slice()[pc];
        let n = self.n;
        let value = match &inst.op {
            UOp::Special(s) => Some(self.special(*s)),
            UOp::SubgroupReduce { op, value } => {
                Some(self.subgroup_reduce(*op, *value, inst.dtype))
            }
            UOp::SubgroupBroadcast { value, lane } => {
                Some(self.subgroup_broadcast(inst, *value, *lane as usize))
            }
            UOp::Const(s) => Some(Lanes::splat(*s, n)),
            UOp::Param(i) => Some(Lanes::splat(
                Scalar::from_bits(self.params[*i], inst.dtype),
                n,
            )),
            UOp::Unary(op, a) => Some(unary(*op, self.def(*a))),
            UOp::Binary(op, a, b) => Some(binary(*op, self.def(*a), self.def(*b))),
            UOp::Where(c, a, b) => Some(select(self.def(*c).bools(), self.def(*a), self.def(*b))),
            UOp::Cast(a) => Some(cast(self.def(*a), inst.dtype)),
            UOp::Bitcast(a) => {
                let v = self.def(*a);
                Some(Lanes::from_bits((0..n).map(|l| v.bits(l)), inst.dtype))
            }
            UOp::Load { buf, index, valid } => Some(self.load(inst, *buf, *index, *valid, mem)),
            UOp::Store {
                buf,
                index,
                value,
                mask,
            } => {
                self.store(*buf, *index, *value, *mask, mem);
                None
            }
            UOp::Scatter {
                buf,
                index,
                value,
                mask,
                op,
            } => {
                self.scatter(*buf, *index, *value, *mask, *op, mem);
                None
            }
            UOp::Gep(a, lane) => {
                let v = self.def(*a);
                let w = self.p.insts[*a].width as usize;
                let bits = (0..n).map(|l| v.bits(l * w + *lane as usize));
                Some(Lanes::from_bits(bits, inst.dtype))
            }
            UOp::Vectorize(parts) => {
                let comps: Vec<&Lanes> = parts.iter().map(|r| self.def(*r)).collect();
                let w = comps.len();
                let bits = (0..n * w).map(|e| comps[e % w].bits(e / w));
                Some(Lanes::from_bits(bits, inst.dtype))
            }
            UOp::DefineAcc(init) => Some(Lanes::splat(*init, n)),
            UOp::Assign { acc, value } => {
                let v = self.def(*value).clone();
                let mask = self.masks.last().expect("the outermost mask");
                let acc = self.vals[acc.index()].as_mut().expect("an accumulator");
                acc.assign_masked(&v, mask);
                None
            }
            UOp::Range { end } => return self.enter_range(pc, *end),
            UOp::EndRange => return self.end_range(pc),
            UOp::If(c) => return self.enter_if(pc, *c),
            UOp::EndIf => {
                self.masks.pop();
                None
            }
            UOp::DefineLocal { len } => {
                self.locals[pc] = vec![0; *len];
                None
            }
            UOp::LoadLocal { local, index } => Some(self.load_local(inst, *local, *index)),
            UOp::StoreLocal {
                local,
                index,
                value,
            } => {
                self.store_local(*local, *index, *value);
                None
            }
            UOp::Barrier => None,
        };
        if value.is_some() {
            self.vals[pc] = value;
        }
        pc + 1
    }

    fn special(&self, s: Special) -> Lanes {
        let (n, local, first) = (self.n, self.local, self.first);
        match s {
            Special::GroupId => Lanes::I32((0..n).map(|l| (first + l / local) as i32).collect()),
            Special::LocalId => Lanes::I32((0..n).map(|l| (l % local) as i32).collect()),
            Special::SubgroupInvocationId => {
                Lanes::I32((0..n).map(|l| (l % local % SUBGROUP_SIZE) as i32).collect())
            }
            Special::SubgroupId => {
                Lanes::I32((0..n).map(|l| (l % local / SUBGROUP_SIZE) as i32).collect())
            }
            Special::NumSubgroups => {
                Lanes::splat(Scalar::I32(local.div_ceil(SUBGROUP_SIZE) as i32), n)
            }
        }
    }

    /// Subgroups are runs of SUBGROUP_SIZE invocations of one workgroup (the last one shorter
    /// when the size does not divide the workgroup's); inactive invocations do not take part.
    fn subgroup_reduce(&self, op: ReduceOp, value: Ref, d: DType) -> Lanes {
        let x = self.def(value);
        let mask = self.mask();
        let local = self.local;
        let mut bits = vec![0u32; self.n];
        for wg in 0..self.count {
            for start in (0..local).step_by(SUBGROUP_SIZE) {
                let lanes = wg * local + start..wg * local + (start + SUBGROUP_SIZE).min(local);
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
        Lanes::from_bits(bits.into_iter(), d)
    }

    /// Each invocation takes the value of invocation `lane` of its subgroup.
    fn subgroup_broadcast(&self, inst: &Inst, value: Ref, lane: usize) -> Lanes {
        let x = self.def(value);
        let (w, local) = (inst.width as usize, self.local);
        let from = |l: usize| {
            let start = l - l % local % SUBGROUP_SIZE;
            assert!(
                start + lane < (l - l % local) + local,
                "interpreter: subgroup broadcast from absent invocation {lane} in {}",
                self.p.name
            );
            start + lane
        };
        let bits = (0..self.n * w).map(|e| x.bits(from(e / w) * w + e % w));
        Lanes::from_bits(bits, inst.dtype)
    }

    /// A load of width 1, 2 or 4; masked invocations read 0. Out-of-bounds or misaligned
    /// accesses by active invocations panic: they are kiln bugs a GPU would hide.
    fn load(
        &self,
        inst: &Inst,
        buf: usize,
        index: Ref,
        valid: Option<Ref>,
        mem: &Memory<'_>,
    ) -> Lanes {
        let (w, mask, name) = (inst.width as usize, self.mask(), &self.p.name);
        let idx = self.def(index).i32s();
        let ok: Option<&[bool]> = valid.map(|g| self.def(g).bools());
        let data = mem.arg(buf);
        let (numel, dtype) = (self.p.bufs[buf].numel, inst.dtype);
        let active = |l: usize| mask[l] && ok.is_none_or(|o| o[l]);
        if w == 1 {
            // Scalar loads (the common case): one pass, no intermediate vector.
            let bits = (0..self.n).map(|l| {
                if !active(l) {
                    return 0;
                }
                let i = idx[l];
                assert!(
                    i >= 0 && (i as usize) < numel,
                    "interpreter: load out of bounds: data{buf}[{i}] in {name}"
                );
                read_element(data, dtype, i as usize)
            });
            return Lanes::from_bits(bits, dtype);
        }
        let mut bits: Vec<u32> = Vec::with_capacity(self.n * w);
        for (l, &i) in idx.iter().enumerate().take(self.n) {
            if active(l) {
                let i = i as i64;
                assert!(
                    i >= 0 && i as usize + w <= numel && i % w as i64 == 0,
                    "interpreter: load out of bounds or misaligned: data{buf}[{i}] (width {w}) in {name}"
                );
                bits.extend((i as usize..i as usize + w).map(|e| read_element(data, dtype, e)));
            } else {
                bits.extend(std::iter::repeat_n(0, w));
            }
        }
        Lanes::from_bits(bits.into_iter(), inst.dtype)
    }

    /// A store of width 1, 2 or 4 by the active invocations whose store mask holds.
    fn store(
        &self,
        buf: usize,
        index: Ref,
        value: Ref,
        store_mask: Option<Ref>,
        mem: &mut Memory<'_>,
    ) {
        let w = self.p.insts[value].width as usize;
        let idx = self.def(index).i32s();
        let v = self.def(value);
        let (mask, m) = (self.mask(), store_mask.map(|g| self.def(g).bools()));
        let on = |l: usize| mask[l] && m.is_none_or(|m| m[l]);
        let numel = self.p.bufs[buf].numel;
        let data = mem.arg_mut(buf);
        if w == 1 {
            store_scalars(data, numel, idx, v, on, &self.p.name);
            return;
        }
        for l in (0..self.n).filter(|&l| on(l)) {
            for c in 0..w {
                let i = idx[l] as i64 + c as i64;
                assert!(
                    i >= 0 && (i as usize) < numel,
                    "interpreter: store out of bounds: data{buf}[{i}] in {}",
                    self.p.name
                );
                write_element(data, v.dtype(), i as usize, v.bits(l * w + c));
            }
        }
    }

    /// Each active lane in order folds its value into its element (the lanes of a batch run
    /// one after another, as atomics would serialize them).
    fn scatter(
        &self,
        buf: usize,
        index: Ref,
        value: Ref,
        store_mask: Option<Ref>,
        op: ReduceOp,
        mem: &mut Memory<'_>,
    ) {
        let idx = self.def(index).i32s();
        let v = self.def(value);
        let (mask, m) = (self.mask(), store_mask.map(|g| self.def(g).bools()));
        let numel = self.p.bufs[buf].numel;
        let d = self.p.bufs[buf].dtype;
        let data = mem.arg_mut(buf);
        for l in (0..self.n).filter(|&l| mask[l] && m.is_none_or(|m| m[l])) {
            let i = idx[l];
            assert!(
                i >= 0 && (i as usize) < numel,
                "interpreter: scatter out of bounds: data{buf}[{i}] in {}",
                self.p.name
            );
            let old = Scalar::from_bits(read_element(data, d, i as usize), d);
            let new = op.combine(old, Scalar::from_bits(v.bits(l), d));
            write_element(data, d, i as usize, new.to_bits());
        }
    }

    /// A loop's first iteration (or a jump past an empty loop).
    fn enter_range(&mut self, pc: usize, end: i64) -> usize {
        if end <= 0 {
            return self.pair[pc] + 1;
        }
        self.loop_counters[pc] = 0;
        self.vals[pc] = Some(Lanes::I32(vec![0; self.n]));
        pc + 1
    }

    /// Back to the loop's body while iterations remain.
    fn end_range(&mut self, pc: usize) -> usize {
        let open = self.pair[pc];
        let UOp::Range { end } = self.p.insts.as_slice()[open].op else {
            unreachable!("a Range closes every EndRange")
        };
        self.loop_counters[open] += 1;
        if self.loop_counters[open] < end {
            self.vals[open] = Some(Lanes::I32(vec![self.loop_counters[open] as i32; self.n]));
            return open + 1;
        }
        pc + 1
    }

    /// Narrows the mask to the invocations where `c` holds, or skips a block none enters.
    fn enter_if(&mut self, pc: usize, c: Ref) -> usize {
        let m: Vec<bool> = self
            .mask()
            .iter()
            .zip(self.def(c).bools())
            .map(|(&a, &b)| a && b)
            .collect();
        if !m.iter().any(|&x| x) {
            return self.pair[pc] + 1;
        }
        self.masks.push(m);
        pc + 1
    }

    fn load_local(&self, inst: &Inst, local: Ref, index: Ref) -> Lanes {
        let idx = self.def(index).i32s();
        let (l, mask) = (&self.locals[local.index()], self.mask());
        let bits = (0..self.n).map(|lane| {
            if !mask[lane] {
                return 0;
            }
            *l.get(idx[lane] as usize).unwrap_or_else(|| {
                panic!(
                    "interpreter: workgroup read out of bounds in {}",
                    self.p.name
                )
            })
        });
        Lanes::from_bits(bits, inst.dtype)
    }

    fn store_local(&mut self, local: Ref, index: Ref, value: Ref) {
        let idx = self.def(index).i32s().to_vec();
        let v = self.def(value).clone();
        let active: Vec<usize> = (0..self.n).filter(|&l| self.mask()[l]).collect();
        let name = &self.p.name;
        let array = &mut self.locals[local.index()];
        for lane in active {
            let slot = array
                .get_mut(idx[lane] as usize)
                .unwrap_or_else(|| panic!("interpreter: workgroup write out of bounds in {name}"));
            *slot = v.bits(lane);
        }
    }
}
