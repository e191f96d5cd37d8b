//! `Display` for tensors: the values as numpy prints them (nested brackets, one common width
//! per tensor, summarized with `...` past 1,000 elements), computed on demand. `Debug` never
//! computes.

use std::fmt;

use super::Tensor;
use crate::dtype::{DType, Scalar};

/// numpy's `threshold`: larger tensors are summarized.
const SUMMARIZE_ABOVE: usize = 1000;
/// numpy's `edgeitems`: how many items a summarized axis keeps at each end.
const EDGE_ITEMS: usize = 3;
/// numpy's `precision`: the most fractional digits a float prints.
const PRECISION: usize = 8;

impl fmt::Display for Tensor {
    /// ```
    /// use kiln_engine::{Device, Tensor};
    /// let t = Tensor::from_slice_on(&[1.0f32, 2.5, -3.0, 4.0], &[2, 2], &Device::cpu())?;
    /// assert_eq!(t.to_string(), "[[ 1.   2.5]\n [-3.   4. ]]");
    /// # Ok::<(), kiln_engine::Error>(())
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.scalars("display") {
            Ok(values) => f.write_str(&render(&values, self.shape(), self.dtype())),
            Err(e) => write!(f, "<{:?} {} tensor: {e}>", self.shape(), self.dtype()),
        }
    }
}

/// The numpy text of `values` (row-major) of `shape`.
fn render(values: &[Scalar], shape: &[usize], dtype: DType) -> String {
    let summarize = values.len() > SUMMARIZE_ABOVE;
    let shown = shown_indices(shape, summarize);
    let style = Style::of(shown.iter().map(|&i| values[i]), dtype);
    let texts: Vec<String> = values.iter().map(|&v| style.text(v)).collect();
    let width = shown.iter().map(|&i| texts[i].len()).max().unwrap_or(0);
    if values.is_empty() {
        return "[]".into(); // numpy prints every empty array so
    }
    if let ([], [Scalar::F32(x)]) = (shape, values) {
        return format!("{x:?}"); // a 0-d value prints as the scalar it is
    }
    let mut out = String::new();
    nest(&mut out, &texts, shape, 0, 0, width, summarize);
    out
}

/// The flat indices of the elements that are printed.
fn shown_indices(shape: &[usize], summarize: bool) -> Vec<usize> {
    let mut indices = vec![0usize];
    for &d in shape {
        let keep: Vec<usize> = axis_items(d, summarize).into_iter().flatten().collect();
        indices = indices
            .iter()
            .flat_map(|&i| keep.iter().map(move |&k| i * d + k))
            .collect();
    }
    indices
}

/// The items of an axis of length `d` that are printed; `None` marks the `...`.
fn axis_items(d: usize, summarize: bool) -> Vec<Option<usize>> {
    if summarize && d > 2 * EDGE_ITEMS {
        (0..EDGE_ITEMS)
            .map(Some)
            .chain([None])
            .chain((d - EDGE_ITEMS..d).map(Some))
            .collect()
    } else {
        (0..d).map(Some).collect()
    }
}

/// Writes the block of axis `depth` that starts at flat index `base`.
fn nest(
    out: &mut String,
    texts: &[String],
    shape: &[usize],
    depth: usize,
    base: usize,
    width: usize,
    summarize: bool,
) {
    if depth == shape.len() {
        out.push_str(&format!("{:>width$}", texts[base]));
        return;
    }
    let d = shape[depth];
    let last_axis = depth + 1 == shape.len();
    // Between rows: a newline, one more between blocks of each further axis, and the
    // indentation of the brackets already open.
    let between = match last_axis {
        true => " ".to_string(),
        false => "\n".repeat(shape.len() - depth - 1) + &" ".repeat(depth + 1),
    };
    out.push('[');
    for (k, item) in axis_items(d, summarize).into_iter().enumerate() {
        if k > 0 {
            out.push_str(&between);
        }
        match item {
            Some(i) => nest(out, texts, shape, depth + 1, base * d + i, width, summarize),
            None => out.push_str("..."),
        }
    }
    out.push(']');
}

/// How every element of one tensor is written.
enum Style {
    Bool,
    Int,
    /// Positional, with this many fractional digits (numpy's `1.` when 0).
    Fixed(usize),
    /// Scientific, with this many fractional digits in the mantissa.
    Scientific(usize),
}

impl Style {
    /// numpy's choice for the printed values: scientific when the largest magnitude is 1e8 or
    /// more, the smallest nonzero one under 1e-4, or their ratio over 1000; otherwise the
    /// fewest fractional digits (at most 8) that show every value as precisely as 8 would.
    fn of(values: impl Iterator<Item = Scalar>, dtype: DType) -> Style {
        match dtype {
            DType::Bool => return Style::Bool,
            d if d.is_int() => return Style::Int,
            _ => {}
        }
        let finite: Vec<f32> = values
            .filter_map(|v| match v.widen() {
                Scalar::F32(x) if x.is_finite() && x != 0.0 => Some(x.abs()),
                _ => None,
            })
            .collect();
        let (lo, hi) = finite.iter().fold((f32::INFINITY, 0.0f32), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
        let scientific = !finite.is_empty() && (hi >= 1e8 || lo < 1e-4 || hi / lo > 1e3);
        // The fractional digits of each value's shortest round-trip text, at most 8.
        let digits = |text: fn(f32) -> String| {
            let fraction = |t: String| t.split('.').nth(1).map_or(0, str::len);
            finite
                .iter()
                .map(|&v| fraction(text(v)).min(PRECISION))
                .max()
                .unwrap_or(0)
        };
        match scientific {
            true => Style::Scientific(digits(|v| {
                let s = format!("{v:e}");
                s.split('e').next().unwrap_or("").to_string()
            })),
            false => Style::Fixed(digits(|v| format!("{v}"))),
        }
    }

    fn text(&self, v: Scalar) -> String {
        match (self, v.widen()) {
            (Style::Bool, Scalar::Bool(b)) => if b { "True" } else { "False" }.into(),
            (_, Scalar::Bool(b)) => (b as u8).to_string(),
            (_, Scalar::I32(i)) => i.to_string(),
            (_, Scalar::U32(u)) => u.to_string(),
            (style, Scalar::F32(x)) => float_text(style, x),
            (_, s) => unreachable!("{} is not a register value", s.dtype()),
        }
    }
}

fn float_text(style: &Style, x: f32) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.into();
    }
    match *style {
        Style::Scientific(p) => {
            let s = format!("{x:.p$e}");
            let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
            let exp: i32 = exp.parse().unwrap_or(0);
            let mantissa = if p == 0 {
                format!("{mantissa}.")
            } else {
                mantissa.to_string()
            };
            format!(
                "{mantissa}e{}{:02}",
                if exp < 0 { '-' } else { '+' },
                exp.abs()
            )
        }
        Style::Fixed(p) => {
            // The shortest text that reads back as `x`, rounded to at most 8 fractional
            // digits; numpy pads the fraction with spaces to the common number of digits.
            let mut text = format!("{x}");
            let mut fraction = text.split_once('.').map_or(0, |(_, f)| f.len());
            if fraction > PRECISION {
                text = format!("{x:.PRECISION$}").trim_end_matches('0').to_string();
                fraction = text.split_once('.').map_or(0, |(_, f)| f.len());
            }
            if !text.contains('.') {
                text.push('.');
            }
            text + &" ".repeat(p.saturating_sub(fraction))
        }
        Style::Bool | Style::Int => x.to_string(),
    }
}
