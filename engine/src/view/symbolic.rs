//! Symbolic integer index expressions and their simplifier.
//!
//! Every index a kernel computes is an affine form `c0 + Σ k·atom` whose atoms are loop
//! variables or truncating `div`/`mod` of another affine form by a positive constant. Keeping
//! expressions in this normal form makes the important rewrites local:
//!
//! - range analysis: each variable has a known `[lo, hi]`, so `x / c` with `x < c` is 0 and
//!   `x % c` with `0 <= x < c` is `x`;
//! - splitting: `(k·c·x + r) / c = k·x + r / c` when `r >= 0`;
//! - recombination: `a·(x / a) + x % a = x` and `a·((x / a) % b) + x % a = x % (a·b)`, which
//!   undo the div/mod that flattening a global id into axes introduces, so a contiguous load
//!   indexes with the flat id again.
//!
//! Division truncates toward zero (WGSL and Rust `i32` semantics). Rewrites that are only true
//! for non-negative operands check the range first; negative indices appear only under a
//! false validity mask (padding), where the value is never used.

use std::collections::BTreeMap;
use std::fmt;

pub type VarId = u32;

/// Something that knows the inclusive range of each variable.
pub trait Ranges {
    fn var_range(&self, v: VarId) -> (i64, i64);
}

impl Ranges for [(i64, i64)] {
    fn var_range(&self, v: VarId) -> (i64, i64) {
        self[v as usize]
    }
}
impl Ranges for Vec<(i64, i64)> {
    fn var_range(&self, v: VarId) -> (i64, i64) {
        self[v as usize]
    }
}

#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum Atom {
    Var(VarId),
    /// Truncating division by a positive constant.
    Div(Box<Lin>, i64),
    /// Truncating remainder by a positive constant.
    Mod(Box<Lin>, i64),
}

/// An affine form `constant + Σ coef·atom` in normal form (no zero coefficients).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Default)]
pub struct Lin {
    terms: BTreeMap<Atom, i64>,
    constant: i64,
}

fn gcd(a: i64, b: i64) -> i64 {
    let (mut a, mut b) = (a.abs(), b.abs());
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

impl Lin {
    pub fn constant(c: i64) -> Lin {
        Lin {
            terms: BTreeMap::new(),
            constant: c,
        }
    }
    pub fn var(v: VarId) -> Lin {
        Lin::atom(Atom::Var(v))
    }
    fn atom(a: Atom) -> Lin {
        let mut terms = BTreeMap::new();
        terms.insert(a, 1);
        Lin { terms, constant: 0 }
    }
    pub fn as_const(&self) -> Option<i64> {
        self.terms.is_empty().then_some(self.constant)
    }
    pub fn const_part(&self) -> i64 {
        self.constant
    }
    pub fn terms(&self) -> impl Iterator<Item = (&Atom, i64)> {
        self.terms.iter().map(|(a, &k)| (a, k))
    }

    /// The variables this expression reads (sorted, without duplicates).
    pub fn vars(&self) -> Vec<VarId> {
        let mut out = vec![];
        self.collect_vars(&mut out);
        out.sort_unstable();
        out.dedup();
        out
    }
    fn collect_vars(&self, out: &mut Vec<VarId>) {
        for atom in self.terms.keys() {
            match atom {
                Atom::Var(v) => out.push(*v),
                Atom::Div(x, _) | Atom::Mod(x, _) => x.collect_vars(out),
            }
        }
    }

    /// Inclusive bounds of the value over all variable assignments (interval arithmetic).
    pub fn range(&self, r: &dyn Ranges) -> (i64, i64) {
        let (mut lo, mut hi) = (self.constant, self.constant);
        for (atom, &k) in &self.terms {
            let (alo, ahi) = atom.range(r);
            let (a, b) = (alo * k, ahi * k);
            lo += a.min(b);
            hi += a.max(b);
        }
        (lo, hi)
    }

    pub fn add(&self, other: &Lin) -> Lin {
        let mut out = self.clone();
        out.constant += other.constant;
        for (atom, &k) in &other.terms {
            *out.terms.entry(atom.clone()).or_insert(0) += k;
        }
        out.terms.retain(|_, k| *k != 0);
        out.recombine();
        out
    }
    pub fn add_const(&self, c: i64) -> Lin {
        let mut out = self.clone();
        out.constant += c;
        out
    }
    pub fn scale(&self, k: i64) -> Lin {
        if k == 0 {
            return Lin::constant(0);
        }
        Lin {
            terms: self
                .terms
                .iter()
                .map(|(a, &c)| (a.clone(), c * k))
                .collect(),
            constant: self.constant * k,
        }
    }

    /// Applies the recombination rules until none fires (see the module docs).
    fn recombine(&mut self) {
        'again: loop {
            let mods: Vec<(Box<Lin>, i64, i64)> = self
                .terms
                .iter()
                .filter_map(|(atom, &k)| match atom {
                    Atom::Mod(x, a) => Some((x.clone(), *a, k)),
                    _ => None,
                })
                .collect();
            for (x, a, k) in mods {
                let modx = Atom::Mod(x.clone(), a);
                // a·(x / a) + x % a = x
                let divx = Atom::Div(x.clone(), a);
                if self.terms.get(&divx) == Some(&(k * a)) {
                    self.terms.remove(&divx);
                    self.terms.remove(&modx);
                    let rest = std::mem::take(self).add(&x.scale(k));
                    *self = rest;
                    continue 'again;
                }
                // a·((x / a) % b) + x % a = x % (a·b)
                let hit = self.terms.iter().find_map(|(atom, &kk)| match atom {
                    Atom::Mod(inner, b) if kk == k * a => {
                        let is_div = inner.constant == 0
                            && inner.terms.len() == 1
                            && inner.terms.get(&divx) == Some(&1);
                        is_div.then(|| (atom.clone(), *b))
                    }
                    _ => None,
                });
                if let Some((outer, b)) = hit {
                    self.terms.remove(&outer);
                    self.terms.remove(&modx);
                    *self.terms.entry(Atom::Mod(x, a * b)).or_insert(0) += k;
                    self.terms.retain(|_, k| *k != 0);
                    continue 'again;
                }
            }
            return;
        }
    }

    /// Truncating division by the positive constant `c`, simplified.
    pub fn div(&self, c: i64, r: &dyn Ranges) -> Lin {
        assert!(c > 0, "div by non-positive constant {c}");
        if c == 1 {
            return self.clone();
        }
        if let Some(v) = self.as_const() {
            return Lin::constant(v / c);
        }
        let (lo, hi) = self.range(r);
        if lo >= 0 && hi < c {
            return Lin::constant(0);
        }
        if lo < 0 {
            return Lin::atom(Atom::Div(Box::new(self.clone()), c));
        }
        // Split self = q·c + rest with rest >= 0, each coefficient k = (k div c)·c + k mod c:
        // a sliding window's `(x + 67·k) / 66` is `k + (x + k) / 66`, then `k` by range.
        let mut q = Lin::constant(0);
        let mut rest = Lin::constant(0);
        for (atom, &k) in &self.terms {
            if k.div_euclid(c) != 0 {
                q.terms.insert(atom.clone(), k.div_euclid(c));
            }
            if k.rem_euclid(c) != 0 {
                rest.terms.insert(atom.clone(), k.rem_euclid(c));
            }
        }
        if rest.range(r).0 >= 0 {
            q.constant = self.constant.div_euclid(c);
            rest.constant = self.constant.rem_euclid(c);
        } else {
            rest.constant = self.constant;
        }
        if rest.range(r).0 < 0 {
            return Lin::atom(Atom::Div(Box::new(self.clone()), c));
        }
        if q.terms.is_empty() && q.constant == 0 {
            return rest.div_irreducible(c, r);
        }
        q.add(&rest.div(c, r))
    }

    /// `self / c` where no term of `self` is a multiple of `c` and `self >= 0`.
    fn div_irreducible(&self, c: i64, r: &dyn Ranges) -> Lin {
        let (_, hi) = self.range(r);
        if hi < c {
            return Lin::constant(0);
        }
        let g = self
            .terms
            .values()
            .fold(gcd(self.constant, c), |g, &k| gcd(g, k));
        if g > 1 {
            let reduced = Lin {
                terms: self
                    .terms
                    .iter()
                    .map(|(a, &k)| (a.clone(), k / g))
                    .collect(),
                constant: self.constant / g,
            };
            return reduced.div(c / g, r);
        }
        if self.constant == 0 && self.terms.len() == 1 {
            if let Some((Atom::Div(x, d), 1)) = self.terms.iter().next().map(|(a, k)| (a, *k)) {
                if x.range(r).0 >= 0 {
                    return x.div(d * c, r);
                }
            }
        }
        Lin::atom(Atom::Div(Box::new(self.clone()), c))
    }

    /// Truncating remainder by the positive constant `c`, simplified.
    pub fn rem(&self, c: i64, r: &dyn Ranges) -> Lin {
        assert!(c > 0, "mod by non-positive constant {c}");
        if c == 1 {
            return Lin::constant(0);
        }
        if let Some(v) = self.as_const() {
            return Lin::constant(v % c);
        }
        let (lo, hi) = self.range(r);
        if lo >= 0 && hi < c {
            return self.clone();
        }
        if lo < 0 {
            return Lin::atom(Atom::Mod(Box::new(self.clone()), c));
        }
        // Reduce every coefficient mod c (self ≡ rest mod c): `(x + 67·k) % 66` is
        // `(x + k) % 66`, then `x + k` by range. Valid while rest stays non-negative.
        let mut rest = Lin::constant(self.constant.rem_euclid(c));
        for (atom, &k) in &self.terms {
            if k.rem_euclid(c) != 0 {
                rest.terms.insert(atom.clone(), k.rem_euclid(c));
            }
        }
        let rest = if rest.range(r).0 >= 0 {
            rest
        } else {
            self.clone()
        };
        let (rlo, rhi) = rest.range(r);
        if rlo >= 0 && rhi < c {
            return rest;
        }
        // `(16·x + 3) % 1024` is `(16·x) % 1024 + 3`: the terms are multiples of g, which
        // divides c, so a constant below g never carries (and vector lanes stay affine).
        let g_terms = rest.terms.values().fold(c, |g, &k| gcd(g, k));
        if (1..g_terms).contains(&rest.constant) {
            let base = Lin {
                terms: rest.terms.clone(),
                constant: 0,
            };
            if base.range(r).0 >= 0 {
                return base.rem(c, r).add_const(rest.constant);
            }
        }
        let g = rest
            .terms
            .values()
            .fold(gcd(rest.constant, c), |g, &k| gcd(g, k));
        if g > 1 {
            let reduced = Lin {
                terms: rest
                    .terms
                    .iter()
                    .map(|(a, &k)| (a.clone(), k / g))
                    .collect(),
                constant: rest.constant / g,
            };
            return reduced.rem(c / g, r).scale(g);
        }
        if rest.constant == 0 && rest.terms.len() == 1 {
            if let Some((Atom::Mod(x, d), 1)) = rest.terms.iter().next().map(|(a, k)| (a, *k)) {
                if d % c == 0 && x.range(r).0 >= 0 {
                    return x.rem(c, r);
                }
            }
        }
        Lin::atom(Atom::Mod(Box::new(rest), c))
    }

    /// Replaces every variable by an expression and re-simplifies under new ranges.
    pub fn substitute(&self, f: &dyn Fn(VarId) -> Lin, r: &dyn Ranges) -> Lin {
        let mut out = Lin::constant(self.constant);
        for (atom, &k) in &self.terms {
            let a = match atom {
                Atom::Var(v) => f(*v),
                Atom::Div(x, c) => x.substitute(f, r).div(*c, r),
                Atom::Mod(x, c) => x.substitute(f, r).rem(*c, r),
            };
            out = out.add(&a.scale(k));
        }
        out
    }
}

impl Atom {
    fn range(&self, r: &dyn Ranges) -> (i64, i64) {
        match self {
            Atom::Var(v) => r.var_range(*v),
            Atom::Div(x, c) => {
                let (lo, hi) = x.range(r);
                (lo / c, hi / c)
            }
            Atom::Mod(x, c) => {
                let (lo, hi) = x.range(r);
                if lo >= 0 {
                    if hi - lo < *c && lo % c <= hi % c {
                        (lo % c, hi % c)
                    } else {
                        (0, (c - 1).min(hi))
                    }
                } else {
                    (lo.max(-(c - 1)), if hi < 0 { 0 } else { hi.min(c - 1) })
                }
            }
        }
    }
}

/// A conjunction of range constraints `lo <= lin <= hi`: the validity of an index (false where
/// a padded view reads outside its source).
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct Valid {
    never: bool,
    constraints: Vec<(Lin, i64, i64)>,
}

impl Valid {
    pub fn always() -> Valid {
        Valid::default()
    }
    pub fn is_always(&self) -> bool {
        !self.never && self.constraints.is_empty()
    }
    pub fn is_never(&self) -> bool {
        self.never
    }
    pub fn constraints(&self) -> &[(Lin, i64, i64)] {
        &self.constraints
    }

    /// Adds `lo <= lin <= hi`, dropping it when the range analysis proves it and turning the
    /// whole mask false when it proves it impossible.
    ///
    /// The constraint is kept in a normal form: the constant moves into the bounds and the
    /// bounds tighten to multiples of the gcd `g` of the coefficients, so `lo <= T + c <= hi`
    /// becomes `ceil_g(lo - c) <= T <= floor_g(hi - c)`. Then the components of a vector whose
    /// first index is a multiple of 4 (`T = 4·x`, components `T + s`, `s < 4`) against a bound
    /// `T + s <= 4·n - 1` all read the same mask `T <= 4·(n - 1)`, and the linearizer sees that
    /// a padded axis still loads whole vectors.
    pub fn and(&mut self, lin: Lin, lo: i64, hi: i64, r: &dyn Ranges) {
        if self.never {
            return;
        }
        let (lin, lo, hi) = normalize_constraint(lin, lo, hi);
        let (vlo, vhi) = lin.range(r);
        if vlo >= lo && vhi <= hi {
            return;
        }
        if vhi < lo || vlo > hi || lo > hi {
            *self = Valid {
                never: true,
                constraints: vec![],
            };
            return;
        }
        if let Some(c) = self.constraints.iter_mut().find(|c| c.0 == lin) {
            c.1 = c.1.max(lo);
            c.2 = c.2.min(hi);
            if c.1 > c.2 {
                *self = Valid {
                    never: true,
                    constraints: vec![],
                };
            }
            return;
        }
        self.constraints.push((lin, lo, hi));
    }

    /// The variables the constraints read (sorted, without duplicates).
    pub fn vars(&self) -> Vec<VarId> {
        let mut out: Vec<VarId> = self.constraints.iter().flat_map(|c| c.0.vars()).collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    pub fn and_all(&mut self, other: &Valid, r: &dyn Ranges) {
        if other.never {
            *self = other.clone();
        }
        for (lin, lo, hi) in &other.constraints {
            self.and(lin.clone(), *lo, *hi, r);
        }
    }

    pub fn substitute(&self, f: &dyn Fn(VarId) -> Lin, r: &dyn Ranges) -> Valid {
        let mut out = Valid {
            never: self.never,
            constraints: vec![],
        };
        for (lin, lo, hi) in &self.constraints {
            out.and(lin.substitute(f, r), *lo, *hi, r);
        }
        out
    }
}

/// See [`Valid::and`]: the constant of `lin` moved into the bounds, which tighten to
/// multiples of the gcd of the coefficients.
fn normalize_constraint(mut lin: Lin, lo: i64, hi: i64) -> (Lin, i64, i64) {
    let g = lin.terms.values().fold(0, |g, &k| gcd(g, k));
    if g == 0 {
        return (lin, lo, hi); // a constant: the range analysis decides it
    }
    let c = std::mem::take(&mut lin.constant);
    let lo = (lo - c).div_euclid(g) * g + if (lo - c).rem_euclid(g) == 0 { 0 } else { g };
    let hi = (hi - c).div_euclid(g) * g;
    (lin, lo, hi)
}

impl fmt::Display for Lin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (atom, &k) in &self.terms {
            if !first {
                f.write_str(if k < 0 { " - " } else { " + " })?;
            } else if k < 0 {
                f.write_str("-")?;
            }
            first = false;
            if k.abs() != 1 {
                write!(f, "{}*", k.abs())?;
            }
            match atom {
                Atom::Var(v) => write!(f, "v{v}")?,
                Atom::Div(x, c) => write!(f, "({x})/{c}")?,
                Atom::Mod(x, c) => write!(f, "({x})%{c}")?,
            }
        }
        if first {
            write!(f, "{}", self.constant)
        } else if self.constant != 0 {
            let sign = if self.constant < 0 { "-" } else { "+" };
            write!(f, " {sign} {}", self.constant.abs())
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
#[path = "symbolic_tests.rs"]
mod tests;
