//! Scans: each lane walks the scan axis in order (the loop around the stores), folding into
//! an accumulator defined before the loop and storing every running value. An UPCAST of the
//! loop makes a lane fold that many neighbours per step, in order (vector loads and stores
//! where they line up); the lanes along the axis share one accumulator.

use crate::dtype::DType;

use super::super::ast::{AstNode, ExprRef, ScanOf};
use super::super::ir::{Ref, UOp};
use super::{identity, Linearizer};

impl Linearizer<'_> {
    /// One accumulator per scan and upcast lane off the axis, starting at the scan's `init`
    /// (computed here, outside the loop: it does not vary along the axis) or its identity.
    pub(super) fn define_scans(&mut self) {
        let scans: Vec<(ExprRef, ScanOf, DType)> = self
            .ast
            .exprs
            .iter()
            .filter_map(|(h, e)| match &e.op {
                AstNode::Scan(s) => Some((h, s.clone(), e.dtype)),
                _ => None,
            })
            .collect();
        for (h, s, d) in scans {
            for u in 0..self.lanes.upcast {
                let lane = self.lanes.id(u, 0);
                if self.scan_step_of(lane) != 0 {
                    continue;
                }
                let acc = self.push(UOp::DefineAcc(identity(s.op, d)), d, 1);
                if let Some(init) = s.init {
                    let value = self.node(init, lane);
                    self.push(UOp::Assign { acc, value }, d, 1);
                }
                self.scan_accs.insert((h, u), acc);
            }
        }
    }

    /// The running value at this step of the walk: the accumulator (after the lane's
    /// predecessor along the axis, folded first) folded with `src`.
    pub(super) fn scan_step(&mut self, e: ExprRef, s: &ScanOf, lane: usize) -> Ref {
        let d = self.ast.exprs[e].dtype;
        let first = self.scan_neighbour(lane, 0);
        if self.scan_step_of(lane) > 0 {
            let before = self.scan_neighbour(lane, self.scan_step_of(lane) - 1);
            self.node(e, before);
        }
        let acc = self.scan_accs[&(e, self.lanes.upcast_of(first))];
        let v = self.node(s.src, lane);
        let next = self.combine(s.op, acc, v, d);
        self.push(UOp::Assign { acc, value: next }, d, 1);
        next
    }

    /// The index of the lane's part on the scan axis (the upcast of its loop), if any.
    fn scan_lane_part(&self) -> Option<usize> {
        let axis = self.ast.scan_axis?;
        self.lanes
            .parts
            .iter()
            .position(|&i| self.shaped.parts[i].axis == axis)
    }

    /// The lane's position along the scan axis within one step of the walk.
    fn scan_step_of(&self, lane: usize) -> usize {
        self.scan_lane_part()
            .map_or(0, |k| self.lane_values[lane][k])
    }

    /// The lane at position `step` along the scan axis, the same as `lane` elsewhere.
    fn scan_neighbour(&self, lane: usize, step: usize) -> usize {
        let Some(k) = self.scan_lane_part() else {
            return lane;
        };
        let mut want = self.lane_values[lane].clone();
        want[k] = step;
        self.lane_values
            .iter()
            .position(|v| *v == want)
            .expect("every lane value exists")
    }
}
