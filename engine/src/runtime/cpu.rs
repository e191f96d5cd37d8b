//! The CPU device: an interpreter of the linear IR that executes a kernel exactly as a GPU
//! would: every workgroup, every invocation, workgroup memory and barriers.
//!
//! Interpretation is vectorized over the invocations of a workgroup: each instruction runs for
//! all lanes at once on typed vectors, under an active-lane mask that `If` narrows. Because all
//! lanes advance in lockstep, a barrier needs no work: every lane has finished the instructions
//! before it when any lane starts the ones after it, which is the guarantee a barrier gives.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::codegen::ir::{Program, Special, UOp};
use crate::dtype::{DType, Scalar};
use crate::error::Result;
use crate::ops::{BinaryOp, UnaryOp};

use super::{Launch, RawBuffer};

pub(crate) struct CpuBuffer {
    words: Mutex<Vec<u32>>,
}

impl CpuBuffer {
    pub fn write(&self, data: &[u32]) {
        self.words.lock().unwrap()[..data.len()].copy_from_slice(data);
    }
    pub fn read(&self, numel: usize) -> Vec<u32> {
        self.words.lock().unwrap()[..numel].to_vec()
    }
}

pub(crate) struct CpuDevice {
    in_use: AtomicUsize,
}

impl CpuDevice {
    pub fn new() -> CpuDevice {
        CpuDevice {
            in_use: AtomicUsize::new(0),
        }
    }
    pub fn alloc(&self, bytes: usize) -> Arc<CpuBuffer> {
        self.in_use.fetch_add(bytes, Ordering::Relaxed);
        Arc::new(CpuBuffer {
            words: Mutex::new(vec![0; bytes.div_ceil(4).max(1)]),
        })
    }
    pub fn free(&self, b: Arc<CpuBuffer>) {
        let bytes = b.words.lock().unwrap().len() * 4;
        self.in_use.fetch_sub(
            bytes.min(self.in_use.load(Ordering::Relaxed)),
            Ordering::Relaxed,
        );
    }
    pub fn memory_in_use(&self) -> usize {
        self.in_use.load(Ordering::Relaxed)
    }

    pub fn run(&self, launches: &[Launch], timed: bool) -> Result<Vec<Option<f64>>> {
        let mut times = vec![];
        for l in launches {
            let start = std::time::Instant::now();
            let mut guards: Vec<_> = l
                .bufs
                .iter()
                .map(|b| match b.raw() {
                    RawBuffer::Cpu(c) => c.clone(),
                    RawBuffer::Wgpu(_) => unreachable!("wgpu buffer on the CPU device"),
                })
                .collect::<Vec<_>>();
            let mut words: Vec<std::sync::MutexGuard<'_, Vec<u32>>> =
                guards.iter_mut().map(|b| b.words.lock().unwrap()).collect();
            let mut mem: Vec<&mut [u32]> = words.iter_mut().map(|w| w.as_mut_slice()).collect();
            // Workgroups that share no memory are independent, so many run as one batch of
            // lanes; that amortizes the per-instruction interpretation cost.
            let p = &l.program;
            let uses_locals = p
                .insts
                .iter()
                .any(|i| matches!(i.op, UOp::DefineLocal { .. }));
            let batch = if uses_locals {
                1
            } else {
                (LANES_PER_BATCH / p.local_size).max(1)
            };
            let mut group = 0;
            while group < p.num_groups {
                let count = batch.min(p.num_groups - group);
                run_workgroups(p, group, count, &mut mem);
                group += count;
            }
            times.push(timed.then(|| start.elapsed().as_secs_f64()));
        }
        Ok(times)
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

fn unary(op: UnaryOp, a: &Lanes) -> Lanes {
    match (op, a) {
        (UnaryOp::Neg, Lanes::F32(v)) => Lanes::F32(v.iter().map(|x| -x).collect()),
        (UnaryOp::Neg, Lanes::I32(v)) => Lanes::I32(v.iter().map(|x| x.wrapping_neg()).collect()),
        (UnaryOp::Neg, Lanes::U32(v)) => Lanes::U32(v.iter().map(|x| x.wrapping_neg()).collect()),
        (UnaryOp::Neg, Lanes::Bool(v)) => Lanes::Bool(v.clone()),
        (UnaryOp::Exp2, Lanes::F32(v)) => Lanes::F32(v.iter().map(|x| x.exp2()).collect()),
        (UnaryOp::Log2, Lanes::F32(v)) => Lanes::F32(v.iter().map(|x| x.log2()).collect()),
        (UnaryOp::Sin, Lanes::F32(v)) => Lanes::F32(v.iter().map(|x| x.sin()).collect()),
        (UnaryOp::Sqrt, Lanes::F32(v)) => Lanes::F32(v.iter().map(|x| x.sqrt()).collect()),
        (UnaryOp::Recip, Lanes::F32(v)) => Lanes::F32(v.iter().map(|x| 1.0 / x).collect()),
        (op, a) => panic!("interpreter: {} on {a:?}", op.name()),
    }
}

fn binary(op: BinaryOp, a: &Lanes, b: &Lanes) -> Lanes {
    macro_rules! zip {
        ($x:expr, $y:expr, $f:expr) => {
            $x.iter().zip($y.iter()).map(|(&p, &q)| $f(p, q)).collect()
        };
    }
    use BinaryOp::*;
    match (op, a, b) {
        (Add, Lanes::F32(x), Lanes::F32(y)) => Lanes::F32(zip!(x, y, |p: f32, q| p + q)),
        (Add, Lanes::I32(x), Lanes::I32(y)) => {
            Lanes::I32(zip!(x, y, |p: i32, q| p.wrapping_add(q)))
        }
        (Add, Lanes::U32(x), Lanes::U32(y)) => {
            Lanes::U32(zip!(x, y, |p: u32, q| p.wrapping_add(q)))
        }
        (Mul, Lanes::F32(x), Lanes::F32(y)) => Lanes::F32(zip!(x, y, |p: f32, q| p * q)),
        (Mul, Lanes::I32(x), Lanes::I32(y)) => {
            Lanes::I32(zip!(x, y, |p: i32, q| p.wrapping_mul(q)))
        }
        (Mul, Lanes::U32(x), Lanes::U32(y)) => {
            Lanes::U32(zip!(x, y, |p: u32, q| p.wrapping_mul(q)))
        }
        (Div, Lanes::F32(x), Lanes::F32(y)) => Lanes::F32(zip!(x, y, |p: f32, q| p / q)),
        (Div, Lanes::I32(x), Lanes::I32(y)) => {
            Lanes::I32(zip!(x, y, |p: i32, q: i32| p.wrapping_div(q)))
        }
        (Mod, Lanes::F32(x), Lanes::F32(y)) => Lanes::F32(zip!(x, y, |p: f32, q| p % q)),
        (Mod, Lanes::I32(x), Lanes::I32(y)) => {
            Lanes::I32(zip!(x, y, |p: i32, q: i32| p.wrapping_rem(q)))
        }
        (Max, Lanes::F32(x), Lanes::F32(y)) => Lanes::F32(zip!(x, y, |p: f32, q| p.max(q))),
        (Max, Lanes::I32(x), Lanes::I32(y)) => Lanes::I32(zip!(x, y, |p: i32, q| p.max(q))),
        (Max, Lanes::U32(x), Lanes::U32(y)) => Lanes::U32(zip!(x, y, |p: u32, q| p.max(q))),
        (CmpLt, Lanes::F32(x), Lanes::F32(y)) => Lanes::Bool(zip!(x, y, |p: f32, q| p < q)),
        (CmpLt, Lanes::I32(x), Lanes::I32(y)) => Lanes::Bool(zip!(x, y, |p: i32, q| p < q)),
        (CmpLt, Lanes::U32(x), Lanes::U32(y)) => Lanes::Bool(zip!(x, y, |p: u32, q| p < q)),
        (CmpLt, Lanes::Bool(x), Lanes::Bool(y)) => Lanes::Bool(zip!(x, y, |p: bool, q| !p & q)),
        (CmpEq, Lanes::F32(x), Lanes::F32(y)) => Lanes::Bool(zip!(x, y, |p: f32, q| p == q)),
        (CmpEq, Lanes::I32(x), Lanes::I32(y)) => Lanes::Bool(zip!(x, y, |p: i32, q| p == q)),
        (CmpEq, Lanes::U32(x), Lanes::U32(y)) => Lanes::Bool(zip!(x, y, |p: u32, q| p == q)),
        (CmpEq, Lanes::Bool(x), Lanes::Bool(y)) => Lanes::Bool(zip!(x, y, |p: bool, q| p == q)),
        (And, Lanes::I32(x), Lanes::I32(y)) => Lanes::I32(zip!(x, y, |p: i32, q| p & q)),
        (And, Lanes::U32(x), Lanes::U32(y)) => Lanes::U32(zip!(x, y, |p: u32, q| p & q)),
        (And | Mul, Lanes::Bool(x), Lanes::Bool(y)) => Lanes::Bool(zip!(x, y, |p: bool, q| p & q)),
        (Or, Lanes::I32(x), Lanes::I32(y)) => Lanes::I32(zip!(x, y, |p: i32, q| p | q)),
        (Or, Lanes::U32(x), Lanes::U32(y)) => Lanes::U32(zip!(x, y, |p: u32, q| p | q)),
        (Or | Add | Max, Lanes::Bool(x), Lanes::Bool(y)) => {
            Lanes::Bool(zip!(x, y, |p: bool, q| p | q))
        }
        (Xor, Lanes::I32(x), Lanes::I32(y)) => Lanes::I32(zip!(x, y, |p: i32, q| p ^ q)),
        (Xor, Lanes::U32(x), Lanes::U32(y)) => Lanes::U32(zip!(x, y, |p: u32, q| p ^ q)),
        (Xor, Lanes::Bool(x), Lanes::Bool(y)) => Lanes::Bool(zip!(x, y, |p: bool, q| p ^ q)),
        (op, a, b) => panic!("interpreter: {} on {a:?} and {b:?}", op.name()),
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

/// WGSL's value conversions (see `Scalar::cast`).
fn cast(a: &Lanes, to: DType) -> Lanes {
    match (a, to) {
        (Lanes::F32(v), DType::F32) => Lanes::F32(v.clone()),
        (Lanes::F32(v), DType::I32) => {
            Lanes::I32(v.iter().map(|&x| crate::dtype::f32_to_i32(x)).collect())
        }
        (Lanes::F32(v), DType::U32) => {
            Lanes::U32(v.iter().map(|&x| crate::dtype::f32_to_u32(x)).collect())
        }
        (Lanes::F32(v), DType::Bool) => Lanes::Bool(v.iter().map(|&x| x != 0.0).collect()),
        (Lanes::I32(v), DType::F32) => Lanes::F32(v.iter().map(|&x| x as f32).collect()),
        (Lanes::I32(v), DType::I32) => Lanes::I32(v.clone()),
        (Lanes::I32(v), DType::U32) => Lanes::U32(v.iter().map(|&x| x as u32).collect()),
        (Lanes::I32(v), DType::Bool) => Lanes::Bool(v.iter().map(|&x| x != 0).collect()),
        (Lanes::U32(v), DType::F32) => Lanes::F32(v.iter().map(|&x| x as f32).collect()),
        (Lanes::U32(v), DType::I32) => Lanes::I32(v.iter().map(|&x| x as i32).collect()),
        (Lanes::U32(v), DType::U32) => Lanes::U32(v.clone()),
        (Lanes::U32(v), DType::Bool) => Lanes::Bool(v.iter().map(|&x| x != 0).collect()),
        (Lanes::Bool(v), DType::F32) => Lanes::F32(v.iter().map(|&x| x as u8 as f32).collect()),
        (Lanes::Bool(v), DType::I32) => Lanes::I32(v.iter().map(|&x| x as i32).collect()),
        (Lanes::Bool(v), DType::U32) => Lanes::U32(v.iter().map(|&x| x as u32).collect()),
        (Lanes::Bool(v), DType::Bool) => Lanes::Bool(v.clone()),
    }
}

/// Matching `EndRange`/`EndIf` for every `Range`/`If`, and the opener for every closer.
fn block_pairs(p: &Program) -> Vec<usize> {
    let mut pair = vec![usize::MAX; p.insts.len()];
    let mut stack = vec![];
    for (i, inst) in p.insts.iter().enumerate() {
        match inst.op {
            UOp::Range { .. } | UOp::If(_) => stack.push(i),
            UOp::EndRange | UOp::EndIf => {
                let open = stack.pop().expect("balanced blocks");
                pair[open] = i;
                pair[i] = open;
            }
            _ => {}
        }
    }
    pair
}

/// Lanes interpreted together when workgroups can be batched.
const LANES_PER_BATCH: usize = 4096;

/// Runs workgroups `first..first + count` as one batch of lanes (`count` is 1 when the program
/// uses workgroup memory).
fn run_workgroups(p: &Program, first: usize, count: usize, mem: &mut [&mut [u32]]) {
    let local = p.local_size;
    let n = local * count;
    let pair = block_pairs(p);
    let mut vals: Vec<Option<Lanes>> = vec![None; p.insts.len()];
    let mut locals: Vec<Vec<u32>> = vec![vec![]; p.insts.len()];
    let mut masks: Vec<Vec<bool>> = vec![vec![true; n]];
    let mut loop_counters: Vec<i64> = vec![0; p.insts.len()];
    let mut pc = 0;
    while pc < p.insts.len() {
        let inst = &p.insts[pc];
        let mask: &[bool] = masks.last().expect("mask");
        let mut push_mask = None;
        let mut pop_mask = false;
        let get = |r: usize, vals: &Vec<Option<Lanes>>| -> Lanes {
            vals[r]
                .clone()
                .unwrap_or_else(|| panic!("interpreter: use of undefined v{r}"))
        };
        let out: Option<Lanes> = match &inst.op {
            UOp::Special(Special::GroupId) => Some(Lanes::I32(
                (0..n).map(|l| (first + l / local) as i32).collect(),
            )),
            UOp::Special(Special::LocalId) => {
                Some(Lanes::I32((0..n).map(|l| (l % local) as i32).collect()))
            }
            UOp::Const(s) => Some(Lanes::splat(*s, n)),
            UOp::Unary(op, a) => Some(unary(*op, vals[*a].as_ref().expect("def"))),
            UOp::Binary(op, a, b) => Some(binary(
                *op,
                vals[*a].as_ref().expect("def"),
                vals[*b].as_ref().expect("def"),
            )),
            UOp::Where(c, a, b) => Some(select(
                vals[*c].as_ref().expect("def").bools(),
                vals[*a].as_ref().expect("def"),
                vals[*b].as_ref().expect("def"),
            )),
            UOp::Cast(a) => Some(cast(vals[*a].as_ref().expect("def"), inst.dtype)),
            UOp::Load { buf, index, valid } => {
                let idx = vals[*index].as_ref().expect("def").i32s();
                let ok = valid.map(|g| vals[g].as_ref().expect("def").bools().to_vec());
                let data = &mem[*buf];
                let bits = (0..n).map(|l| {
                    let on = mask[l] && ok.as_ref().is_none_or(|o| o[l]);
                    if on {
                        let i = idx[l];
                        assert!(
                            i >= 0 && (i as usize) < p.bufs[*buf].numel,
                            "interpreter: load out of bounds: data{buf}[{i}] in {}",
                            p.name
                        );
                        data[i as usize]
                    } else {
                        0
                    }
                });
                Some(Lanes::from_bits(bits, inst.dtype))
            }
            UOp::Store { buf, index, value } => {
                let idx = vals[*index].as_ref().expect("def").i32s().to_vec();
                let v = get(*value, &vals);
                for l in (0..n).filter(|&l| mask[l]) {
                    let i = idx[l];
                    assert!(
                        i >= 0 && (i as usize) < p.bufs[*buf].numel,
                        "interpreter: store out of bounds: data{buf}[{i}] in {}",
                        p.name
                    );
                    mem[*buf][i as usize] = v.bits(l);
                }
                None
            }
            UOp::DefineAcc(init) => Some(Lanes::splat(*init, n)),
            UOp::Assign { acc, value } => {
                let v = get(*value, &vals);
                vals[*acc].as_mut().expect("acc").assign_masked(&v, mask);
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
                let UOp::Range { end } = p.insts[open].op else {
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
                let c = vals[*c].as_ref().expect("def").bools();
                let m: Vec<bool> = mask.iter().zip(c).map(|(&a, &b)| a && b).collect();
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
                let idx = vals[*index].as_ref().expect("def").i32s();
                let l = &locals[*local];
                let bits = (0..n).map(|lane| if mask[lane] { l[idx[lane] as usize] } else { 0 });
                Some(Lanes::from_bits(bits, inst.dtype))
            }
            UOp::StoreLocal {
                local,
                index,
                value,
            } => {
                let idx = vals[*index].as_ref().expect("def").i32s().to_vec();
                let v = get(*value, &vals);
                for lane in (0..n).filter(|&l| mask[l]) {
                    locals[*local][idx[lane] as usize] = v.bits(lane);
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
