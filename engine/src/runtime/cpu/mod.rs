//! The CPU device: an interpreter of the linear IR that executes a kernel exactly as a GPU
//! would: every workgroup, every invocation, workgroup memory and barriers.
//!
//! Interpretation is vectorized over the invocations of a workgroup: each instruction runs for
//! all lanes at once on typed vectors, under an active-lane mask that `If` narrows. Because all
//! lanes advance in lockstep, a barrier needs no work: every lane has finished the instructions
//! before it when any lane starts the ones after it, which is the guarantee a barrier gives.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::codegen::ir::UOp;
use crate::error::{Error, Result};

use super::{Launch, RawBuffer};

mod lanes;
mod workgroups;

pub(crate) use workgroups::SUBGROUP_SIZE;
use workgroups::{run_workgroups, LANES_PER_BATCH};

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
    pub fn read(&self, words: usize) -> Vec<u32> {
        self.words.read().unwrap()[..words].to_vec()
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
            let start = web_time::Instant::now();
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
