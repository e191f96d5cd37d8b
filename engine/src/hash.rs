//! A fast non-cryptographic hasher for kiln's own keys (node ids, node keys, AST keys).
//!
//! std's SipHash resists hash flooding, which these tables do not need (their keys are built by
//! kiln, not read from an attacker), and it was a fifth of the host time of building and
//! scheduling a deep graph. This is the Fx hash of rustc and Firefox: one rotate, xor and
//! multiply per word.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

#[derive(Default, Clone, Copy)]
pub struct FxHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 8];
            last[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(last));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(i as u64);
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(i as u64);
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        // hashbrown picks the bucket from the low bits, and a multiply leaves the low bits the
        // least mixed (they depend only on the low bits of the input): rotate the well-mixed
        // high bits down, as rustc-hash 2 does.
        self.hash.rotate_left(26)
    }
}

pub type FxBuildHasher = BuildHasherDefault<FxHasher>;
pub type FxHashMap<K, V> = HashMap<K, V, FxBuildHasher>;
pub type FxHashSet<T> = HashSet<T, FxBuildHasher>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::{BuildHasher, Hash};

    #[test]
    fn equal_keys_hash_equal_and_neighbours_differ() {
        let h = |v: &(u64, Vec<usize>)| FxBuildHasher::default().hash_one(v);
        assert_eq!(h(&(7, vec![1, 2])), h(&(7, vec![1, 2])));
        assert_ne!(h(&(7, vec![1, 2])), h(&(8, vec![1, 2])));
        assert_ne!(h(&(7, vec![1, 2])), h(&(7, vec![2, 1])));
        let mut m: FxHashMap<u64, u64> = FxHashMap::default();
        for i in 0..1000 {
            m.insert(i, i * 2);
        }
        assert_eq!((0..1000).filter(|i| m[i] == i * 2).count(), 1000);
        0u8.hash(&mut FxHasher::default());
    }
}
