//! Unit tests of the symbolic index simplifier (`symbolic.rs`).
use super::*;

fn delinearize(flat: &Lin, shape: &[i64], r: &dyn Ranges) -> Vec<Lin> {
    let mut out = vec![];
    let mut stride = 1;
    for &d in shape.iter().rev() {
        out.push(flat.div(stride, r).rem(d, r));
        stride *= d;
    }
    out.reverse();
    out
}

#[test]
fn flattened_ids_recombine_to_the_flat_id() {
    let shape = [3, 5, 7];
    let ranges = vec![(0, 3 * 5 * 7 - 1)];
    let idx = delinearize(&Lin::var(0), &shape, &ranges);
    let flat = idx[0].scale(35).add(&idx[1].scale(7)).add(&idx[2]);
    assert_eq!(flat, Lin::var(0), "got {flat}");
}

#[test]
fn transposed_index_keeps_its_div_mod() {
    let ranges = vec![(0, 11)];
    let idx = delinearize(&Lin::var(0), &[3, 4], &ranges);
    // transpose: load x[j, i] of a 4x3 buffer
    let flat = idx[1].scale(3).add(&idx[0]);
    assert_eq!(flat.to_string(), "(v0)/4 + 3*(v0)%4");
}

#[test]
fn range_rules() {
    let ranges = vec![(0, 3), (0, 9)];
    let x = Lin::var(0);
    assert_eq!(x.div(4, &ranges), Lin::constant(0));
    assert_eq!(x.rem(4, &ranges), x);
    let y = Lin::var(1).scale(8).add(&x);
    assert_eq!(y.div(8, &ranges), Lin::var(1));
    assert_eq!(y.rem(8, &ranges), x);
    assert_eq!(y.div(2, &ranges).div(4, &ranges), Lin::var(1));
}

#[test]
fn coefficients_reduce_mod_the_divisor() {
    // A padded sliding window (conv2d): x in [0, 64), k in [0, 3), rows of 66.
    let ranges = vec![(0, 63), (0, 2)];
    let (x, k) = (Lin::var(0), Lin::var(1));
    let window = x.add(&k.scale(67));
    assert_eq!(window.rem(66, &ranges), x.add(&k));
    assert_eq!(window.div(66, &ranges), k);
    // Where the reduced terms can reach the divisor, the mod stays (and stays right).
    let wide = vec![(0, 65), (0, 2)];
    let r = window.rem(66, &wide);
    for (xv, kv) in [(65, 2), (64, 1), (0, 0), (30, 2)] {
        let env = |v: VarId| Lin::constant(if v == 0 { xv } else { kv });
        let v = r.substitute(&env, &wide).as_const().unwrap();
        let d = window.div(66, &wide).substitute(&env, &wide).as_const();
        assert_eq!(v, (xv + 67 * kv) % 66, "x={xv} k={kv}: {r}");
        assert_eq!(d, Some((xv + 67 * kv) / 66), "x={xv} k={kv}");
    }
}

#[test]
fn validity_folds() {
    let ranges = vec![(0, 9)];
    let mut v = Valid::always();
    v.and(Lin::var(0), 0, 9, &ranges);
    assert!(v.is_always());
    v.and(Lin::var(0).add_const(-2), 0, 4, &ranges);
    assert_eq!(v.constraints().len(), 1);
    v.and(Lin::var(0), 20, 30, &ranges);
    assert!(v.is_never());
}

#[test]
fn a_bound_at_a_multiple_of_the_coefficients_holds_for_every_component() {
    // Column 4·x + s (s < 4) of a row of 1000: every component has the mask 4·x <= 996.
    let ranges = vec![(0, 255)];
    let x4 = Lin::var(0).scale(4);
    let masks: Vec<Valid> = (0..4)
        .map(|s| {
            let mut v = Valid::always();
            v.and(x4.add_const(s), 0, 999, &ranges);
            v
        })
        .collect();
    assert!(masks.iter().all(|m| *m == masks[0]), "{masks:?}");
    assert_eq!(masks[0].constraints(), &[(x4.clone(), 0, 996)]);
    // Not so at a bound that splits a vector: component 3 of 4·x + s <= 998 differs.
    let mut split = Valid::always();
    split.and(x4.add_const(3), 0, 998, &ranges);
    assert_eq!(split.constraints(), &[(x4.clone(), 0, 992)]);
    // Lower bounds round up: 4·x - 2 >= 0 holds from 4·x >= 4.
    let mut low = Valid::always();
    low.and(x4.add_const(-2), 0, 999, &ranges);
    assert_eq!(low.constraints(), &[(x4, 4, 1000)]);
}

#[test]
fn a_constant_below_the_terms_gcd_leaves_the_mod() {
    // A tiled axis read by vector lanes: (16·x + t) % 1024 is (16·x) % 1024 + t for t < 16,
    // so the four lanes of a vec4 differ by their constant alone.
    let ranges = vec![(0, 255)];
    let x = Lin::var(0).scale(16);
    for t in 0..16 {
        let got = x.add_const(t).rem(1024, &ranges);
        assert_eq!(got, x.rem(1024, &ranges).add_const(t), "t = {t}: {got}");
        for v in 0..256 {
            let eval = |l: &Lin| l.substitute(&|_| Lin::constant(v), &ranges);
            assert_eq!(
                eval(&got),
                Lin::constant((16 * v + t) % 1024),
                "x = {v}, t = {t}"
            );
        }
    }
    // At the gcd the constant can carry: the mod stays whole.
    assert_eq!(
        x.add_const(16).rem(1024, &ranges).to_string(),
        "16*(v0 + 1)%64"
    );
}
