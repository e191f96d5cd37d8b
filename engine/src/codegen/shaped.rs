//! The loop structure of a kernel after opts: its parts ([`Part`], each of an
//! [`AxisKind`]) and what the opts applied so far decided ([`Shaped`]). `opt.rs` changes it
//! one opt at a time; the linearizer and the heuristics read it.

use super::ast::{AstNode, KernelAst};
use super::opt::Opt;

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
                    } else if ast.scan_axis == Some(axis) {
                        AxisKind::Loop
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
    pub(super) fn shift_to(&mut self, i: usize, amount: usize, kind: AxisKind, top: bool) {
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
    pub(super) fn group_out(&mut self, i: usize, amount: usize) {
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
    pub(super) fn group_bytes(&self, ast: &KernelAst) -> usize {
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
