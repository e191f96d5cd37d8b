//! Vectorization: lanes whose accesses touch contiguous, aligned elements along one upcast or
//! unroll part become one vector load or store.

use crate::view::symbolic::{Lin, Valid};

use super::super::shaped::AxisKind;
use super::Linearizer;

/// The vector access a lane's element belongs to (see [`Linearizer::vector_of`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct VectorAccess {
    /// Lane id of component 0.
    pub first: usize,
    pub width: u8,
    /// Position of the lane's element in the vector.
    pub pos: u8,
    /// Lane-id stride between components.
    pub stride: usize,
    /// The lane part the vector runs along (an index into `Lanes::parts`).
    pub part: usize,
}

impl Linearizer<'_> {
    /// The vector `lane`'s access belongs to when the index `idx_of(lane)` runs contiguously
    /// and aligned along a lane part of size 2 or 4·k with the same validity in every
    /// component.
    pub(super) fn vector_of(
        &mut self,
        lane: usize,
        idx: &Lin,
        valid: &Valid,
        of: &dyn Fn(&mut Self, usize) -> (Lin, Valid),
    ) -> Option<VectorAccess> {
        self.vector_along(lane, idx, valid, of, 1)
    }

    /// [`Self::vector_of`] for lanes that read backwards (a flipped view): component `t`
    /// reads element `i0 - t`, so one aligned vector at `i0 - (width - 1)` serves them, read
    /// in reverse. For loads only.
    pub(super) fn reversed_vector_of(
        &mut self,
        lane: usize,
        idx: &Lin,
        valid: &Valid,
        of: &dyn Fn(&mut Self, usize) -> (Lin, Valid),
    ) -> Option<VectorAccess> {
        self.vector_along(lane, idx, valid, of, -1)
    }

    /// The vector of lanes whose index moves by `step` (1 or -1) per component.
    fn vector_along(
        &mut self,
        lane: usize,
        idx: &Lin,
        valid: &Valid,
        of: &dyn Fn(&mut Self, usize) -> (Lin, Valid),
        step: i64,
    ) -> Option<VectorAccess> {
        for (k, &i) in self.lanes.parts.clone().iter().enumerate() {
            let p = self.shaped.parts[i];
            let is_unroll = p.kind == AxisKind::Unroll;
            // Unroll parts vary only inside the active nest; upcast parts everywhere.
            if is_unroll && !self.active_reduce_axes.contains(&p.axis) {
                continue;
            }
            let w = if p.size.is_multiple_of(4) {
                4
            } else if p.size == 2 {
                2
            } else {
                continue;
            };
            let pos = self.lane_values[lane][k];
            let t = pos % w;
            // The lane id of component 0: step this part back by t.
            let stride: usize = self.lanes.parts[k + 1..]
                .iter()
                .map(|&j| self.shaped.parts[j].size)
                .product();
            let first = lane - t * stride;
            let (i0, v0) = of(self, first);
            if i0 != idx.add_const(-step * t as i64) || v0 != *valid {
                continue;
            }
            // The lowest element the vector covers.
            let low = if step > 0 {
                i0.clone()
            } else {
                i0.add_const(1 - w as i64)
            };
            // A masked load reads only where valid, where its index is in the buffer: a
            // negative index elsewhere (a cat's later piece, shifted back) is never used.
            let aligned = low.const_part() % w as i64 == 0
                && low.terms().all(|(_, c)| c % w as i64 == 0)
                && (low.range(&self.ranges).0 >= 0 || !valid.is_always());
            if !aligned {
                continue;
            }
            let contiguous = (1..w).all(|s| {
                let (is, vs) = of(self, first + s * stride);
                is == i0.add_const(step * s as i64) && vs == v0
            });
            if contiguous {
                return Some(VectorAccess {
                    first,
                    width: w as u8,
                    pos: t as u8,
                    stride,
                    part: k,
                });
            }
        }
        None
    }
}
