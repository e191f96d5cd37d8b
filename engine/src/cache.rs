//! Bounded caches of compiled programs and pipelines.
//!
//! Every new kernel (a new shape, a new opt list) compiles a program, and on wgpu a pipeline
//! that costs the driver memory. Unbounded, a program that sees many shapes grows without
//! limit, and the driver slows with many live pipelines (BENCHMARKS.md, "Memory"). Each
//! cache here holds at most the byte budget set by `KILN_CACHE_MB` (default 64) or
//! [`set_cache_bytes`], evicting the least recently used entries first; an evicted program
//! is simply compiled again when it is next needed.

use std::hash::Hash;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::hash::FxHashMap as HashMap;

const DEFAULT_CACHE_MB: usize = 64;

static BUDGET: AtomicUsize = AtomicUsize::new(usize::MAX);

/// The byte budget of each program or pipeline cache.
pub fn cache_bytes() -> usize {
    match BUDGET.load(Ordering::Relaxed) {
        usize::MAX => {
            let mb = std::env::var("KILN_CACHE_MB")
                .ok()
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(DEFAULT_CACHE_MB);
            let bytes = mb.saturating_mul(1 << 20);
            let _ =
                BUDGET.compare_exchange(usize::MAX, bytes, Ordering::Relaxed, Ordering::Relaxed);
            BUDGET.load(Ordering::Relaxed)
        }
        b => b,
    }
}

/// Sets the byte budget of each program or pipeline cache (overrides `KILN_CACHE_MB`); caches
/// shrink to it at their next insertion.
pub fn set_cache_bytes(bytes: usize) {
    BUDGET.store(bytes.min(usize::MAX - 1), Ordering::Relaxed);
}

/// A map whose entries have a cost in bytes, bounded by [`cache_bytes`]: inserting past the
/// budget evicts the least recently used entries.
pub struct Lru<K, V> {
    entries: HashMap<K, Entry<V>>,
    clock: u64,
    total: usize,
}

struct Entry<V> {
    value: V,
    cost: usize,
    used: u64,
}

impl<K: Hash + Eq + Clone, V: Clone> Default for Lru<K, V> {
    fn default() -> Self {
        Lru {
            entries: HashMap::default(),
            clock: 0,
            total: 0,
        }
    }
}

impl<K: Hash + Eq + Clone, V: Clone> Lru<K, V> {
    pub fn get(&mut self, key: &K) -> Option<V> {
        self.clock += 1;
        let e = self.entries.get_mut(key)?;
        e.used = self.clock;
        Some(e.value.clone())
    }

    /// Inserts, then evicts past the budget; returns how many entries were evicted.
    pub fn insert(&mut self, key: K, value: V, cost: usize) -> usize {
        self.clock += 1;
        if let Some(old) = self.entries.insert(
            key,
            Entry {
                value,
                cost,
                used: self.clock,
            },
        ) {
            self.total -= old.cost;
        }
        self.total += cost;
        let budget = cache_bytes();
        // The newest entry always stays, even if it alone is over the budget.
        let mut evicted = 0;
        while self.total > budget && self.entries.len() > 1 {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, e)| e.used)
                .map(|(k, _)| k.clone())
                .expect("non-empty");
            let e = self.entries.remove(&oldest).expect("present");
            self.total -= e.cost;
            evicted += 1;
        }
        evicted
    }

    /// Bytes held (the sum of the entries' costs).
    pub fn bytes(&self) -> usize {
        self.total
    }
}

/// Entries and bytes of a cache (see [`crate::program_cache_usage`] and
/// `Device::pipeline_cache_usage`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheUsage {
    /// Entries held.
    pub entries: usize,
    /// Their estimated bytes (what the budget counts).
    pub bytes: usize,
}

impl<K: Hash + Eq + Clone, V: Clone> Lru<K, V> {
    pub fn usage(&self) -> CacheUsage {
        CacheUsage {
            entries: self.entries.len(),
            bytes: self.bytes(),
        }
    }
}
