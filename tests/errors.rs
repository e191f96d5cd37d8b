//! Bad input gets a clear message that names the op, the shapes and the dtypes.

mod common;
use common::{devices, panic_message};
use kiln::{DType, Device, Error, Tensor};

fn t(shape: &[usize]) -> Tensor {
    let n: usize = shape.iter().product();
    Tensor::from_slice_on(&vec![1.0f32; n], shape, &Device::cpu()).unwrap()
}

#[test]
fn binary_shape_mismatch_names_op_and_shapes() {
    let m = panic_message(|| drop(t(&[2, 3]).add(&t(&[4]))));
    assert!(
        m.contains("add") && m.contains("[2, 3]") && m.contains("[4]") && m.contains("f32"),
        "{m}"
    );
    let m = panic_message(|| drop(t(&[2, 3]).matmul(&t(&[4, 5]))));
    assert!(
        m.contains("matmul") && m.contains("3") && m.contains("4"),
        "{m}"
    );
}

#[test]
fn bad_axis_names_op_and_shape() {
    let m = panic_message(|| drop(t(&[2, 3]).sum(&[2])));
    assert!(
        m.contains("sum") && m.contains("axis 2") && m.contains("[2, 3]"),
        "{m}"
    );
    let m = panic_message(|| drop(t(&[2, 3]).max(&[-3])));
    assert!(m.contains("max") && m.contains("-3"), "{m}");
    let m = panic_message(|| drop(t(&[2, 3]).permute(&[0, 0])));
    assert!(m.contains("permute") && m.contains("[0, 0]"), "{m}");
}

#[test]
fn bad_reshape_names_shapes() {
    let m = panic_message(|| drop(t(&[2, 3]).reshape(&[4, -1])));
    assert!(
        m.contains("reshape") && m.contains("[2, 3]") && m.contains("[4, -1]"),
        "{m}"
    );
    let m = panic_message(|| drop(t(&[2, 3]).reshape(&[-1, -1])));
    assert!(m.contains("reshape"), "{m}");
    let m = panic_message(|| drop(t(&[2, 3]).expand(&[3, 3])));
    assert!(
        m.contains("expand") && m.contains("[2, 3]") && m.contains("[3, 3]"),
        "{m}"
    );
    let m = panic_message(|| drop(t(&[2, 3]).shrink(&[(0, 3), (0, 3)])));
    assert!(m.contains("shrink"), "{m}");
}

#[test]
fn from_slice_with_wrong_length_is_an_error() {
    let e = Tensor::from_slice_on(&[1.0f32, 2.0, 3.0], &[2, 2], &Device::cpu()).unwrap_err();
    assert!(matches!(
        e,
        Error::DataLength {
            len: 3,
            expected: 4,
            ..
        }
    ));
    let m = e.to_string();
    assert!(
        m.contains("from_slice") && m.contains("3") && m.contains("[2, 2]") && m.contains("4"),
        "{m}"
    );
}

#[test]
fn to_vec_with_wrong_type_is_an_error() {
    let x = t(&[3]);
    let e = x.to_vec::<i32>().unwrap_err();
    assert!(matches!(
        e,
        Error::DTypeMismatch {
            requested: DType::I32,
            actual: DType::F32
        }
    ));
    assert!(
        e.to_string().contains("i32") && e.to_string().contains("f32"),
        "{e}"
    );
    assert_eq!(x.cast(DType::I32).to_vec::<i32>().unwrap(), vec![1, 1, 1]);
}

#[test]
fn cross_device_ops_name_both_devices() {
    // Needs a second device: without an adapter there is nothing to test (and with
    // KILN_REQUIRE_GPU=1 `gpu()` fails the test instead of skipping it).
    let Some(other) = common::gpu() else { return };
    let on_gpu = Tensor::from_slice_on(&[1.0f32, 2.0], &[2], &other).unwrap();
    let g = on_gpu.clone();
    let m = panic_message(move || drop(t(&[2]).add(&g)));
    assert!(m.contains("different devices"), "{m}");
    assert!(
        m.contains("CPU") && m.contains("WGPU"),
        "names both devices: {m}"
    );
    // The op the user called, not the primitive it is built from.
    let g = on_gpu.clone();
    let m = panic_message(move || drop(t(&[2]).sub(&g)));
    assert!(m.starts_with("sub:"), "{m}");
    let g = on_gpu.reshape(&[2, 1]);
    let m = panic_message(move || drop(t(&[1, 2]).matmul(&g)));
    assert!(m.starts_with("matmul:"), "{m}");
}

type Case = Box<dyn FnOnce() + std::panic::UnwindSafe>;

/// Composites name themselves, not the reduction inside them.
#[test]
fn composites_name_themselves_in_axis_errors() {
    let cases: Vec<(&str, Case)> = vec![
        ("softmax", Box::new(|| drop(t(&[2, 3]).softmax(5)))),
        ("log_softmax", Box::new(|| drop(t(&[2, 3]).log_softmax(-3)))),
        (
            "layer_norm",
            Box::new(|| drop(t(&[2, 3]).layer_norm(2, 1e-5))),
        ),
    ];
    for (name, f) in cases {
        let m = panic_message(f);
        assert!(m.starts_with(&format!("{name}:")), "{m}");
    }
}

#[test]
fn int_ops_without_float_meaning_are_refused() {
    let i = Tensor::from_slice_on(&[1i32, 2], &[2], &Device::cpu()).unwrap();
    let b = i.gt(&i);
    let m = panic_message(|| drop(b.neg()));
    assert!(m.contains("neg") && m.contains("bool"), "{m}");
}

#[test]
fn repeated_axes_are_refused() {
    let x = t(&[2, 3]);
    for (m, what) in [
        (panic_message(|| drop(t(&[2, 3]).sum(&[0, 0]))), "sum"),
        (panic_message(|| drop(t(&[2, 3]).sum(&[1, -1]))), "sum"),
        (panic_message(|| drop(t(&[2, 3]).mean(&[1, 1]))), "mean"),
        (panic_message(|| drop(t(&[2, 3]).var(&[0, -2], 1.0))), "var"),
        (panic_message(|| drop(t(&[2, 3]).flip(&[0, 0]))), "flip"),
    ] {
        assert!(
            m.contains(what) && m.contains("more than once") && m.contains("[2, 3]"),
            "{m}"
        );
    }
    assert_eq!(x.sum(&[1, 0]).shape(), &[] as &[usize]);
}

#[test]
fn max_and_min_of_nothing_are_refused() {
    let e = Tensor::from_slice_on::<f32>(&[], &[3, 0], &Device::cpu()).unwrap();
    let m = panic_message(|| drop(e.max(&[1])));
    assert!(
        m.contains("max") && m.contains("empty") && m.contains("[3, 0]"),
        "{m}"
    );
    let e = Tensor::from_slice_on::<f32>(&[], &[3, 0], &Device::cpu()).unwrap();
    let m = panic_message(|| drop(e.min_all()));
    assert!(m.contains("min") && m.contains("empty"), "{m}");
    // Over a non-empty axis of an empty tensor it is fine: the result is empty.
    let e = Tensor::from_slice_on::<f32>(&[], &[3, 0], &Device::cpu()).unwrap();
    assert_eq!(e.max(&[0]).shape(), &[0]);
}

#[test]
fn shapes_that_overflow_are_refused() {
    // from_slice returns it as an `Err`: see `from_slice_of_an_overflowing_shape_is_an_err`.
    let m = panic_message(|| drop(Tensor::ones_on(&[1 << 62, 4], DType::F32, &Device::cpu())));
    assert!(m.contains("more elements than fit"), "{m}");
    let m = panic_message(|| drop(t(&[2]).pad(&[(usize::MAX, 0)])));
    assert!(m.contains("pad") && m.contains("usize::MAX"), "{m}");
    let m = panic_message(|| drop(t(&[1, 2]).expand(&[usize::MAX, 2])));
    assert!(
        m.contains("expand") && m.contains("more elements than fit"),
        "{m}"
    );
}

/// Kernels index with i32: a domain past 2^31 - 1 elements is an error, not wrapped addresses.
#[test]
fn index_spaces_past_i32_are_refused() {
    let big = Tensor::ones_on(&[1 << 31], DType::F32, &Device::cpu()); // a constant: no memory
    match big.sum_all().realize() {
        Err(Error::Unsupported { message, .. }) => {
            assert!(
                message.contains("i32") && message.contains("2147483648"),
                "{message}"
            )
        }
        other => panic!("expected Unsupported, got {other:?}"),
    }
}
/// A sum over 2^40 elements failed with a WGSL compile error ("numeric literal not
/// representable: `4294967296i`"). It is refused before compiling, naming the reduction and the
/// shape the user reduced, on both devices.
#[test]
fn reductions_past_i32_name_the_op_and_shape() {
    for dev in devices() {
        let x = Tensor::ones_on(&[1], DType::F32, &dev).expand(&[1 << 20, 1 << 20]);
        match x.sum_all().realize() {
            Err(Error::Unsupported { message, .. }) => assert!(
                message.contains("sum kernel over shape [1048576, 1048576]")
                    && message.contains("1099511627776"),
                "{message}"
            ),
            other => panic!("expected Unsupported on {dev:?}, got {other:?}"),
        }
    }
}

/// Contract panics report the user's line (#[track_caller]), not kiln's source.
#[test]
fn panics_point_at_the_callers_line() {
    use std::cell::RefCell;
    thread_local!(static LOCATION: RefCell<Option<String>> = const { RefCell::new(None) });
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(|info| {
        let at = info.location().map(|l| l.file().to_string());
        LOCATION.with(|c| *c.borrow_mut() = at);
    }));
    type Case = (&'static str, Box<dyn FnOnce() + std::panic::UnwindSafe>);
    let cases: Vec<Case> = vec![
        ("add", Box::new(|| drop(t(&[2, 3]).add(&t(&[4]))))),
        ("operator +", Box::new(|| drop(&t(&[2, 3]) + &t(&[4])))),
        ("sum", Box::new(|| drop(t(&[2, 3]).sum(&[5])))),
        ("reshape", Box::new(|| drop(t(&[2, 3]).reshape(&[4])))),
        ("matmul", Box::new(|| drop(t(&[2, 3]).matmul(&t(&[4, 2]))))),
        ("softmax", Box::new(|| drop(t(&[2, 3]).softmax(5)))),
        ("pad", Box::new(|| drop(t(&[2]).pad(&[(usize::MAX, 0)])))),
        (
            "ones",
            Box::new(|| drop(Tensor::ones_on(&[1 << 62, 4], DType::F32, &Device::cpu()))),
        ),
    ];
    let mut wrong = vec![];
    for (what, f) in cases {
        LOCATION.with(|c| *c.borrow_mut() = None);
        assert!(std::panic::catch_unwind(f).is_err(), "{what} should panic");
        let at = LOCATION.with(|c| c.borrow().clone()).unwrap_or_default();
        if !at.ends_with("errors.rs") {
            wrong.push(format!("{what}: {at}"));
        }
    }
    std::panic::set_hook(previous);
    assert!(
        wrong.is_empty(),
        "panics located in kiln, not here: {wrong:?}"
    );
}

#[test]
fn a_composite_op_names_itself_not_the_primitive_inside_it() {
    let m = panic_message(|| {
        drop(Tensor::ones_on(
            &[1 << 32, 1 << 32],
            DType::F32,
            &Device::cpu(),
        ))
    });
    assert!(
        m.starts_with("ones:") && m.contains("[4294967296, 4294967296]"),
        "{m}"
    );
    let m =
        panic_message(|| drop(Tensor::zeros_on(&[0, 3], DType::F32, &Device::cpu()).softmax(0)));
    assert!(
        m.starts_with("softmax:") && m.contains("[0, 3]") && m.contains("empty"),
        "{m}"
    );
    let m = panic_message(|| drop(t(&[2, 3]).layer_norm(5, 1e-5)));
    assert!(m.starts_with("layer_norm:"), "{m}");
    let m = panic_message(|| drop(t(&[2, 3]).transpose(0, 1).permute(&[0, 0])));
    assert!(m.starts_with("permute:"), "{m}");
    // After a violation inside a composite, the next op reports under its own name again.
    let m = panic_message(|| drop(t(&[2, 3]).sum(&[7])));
    assert!(m.starts_with("sum:"), "{m}");
}

#[test]
fn from_slice_of_an_overflowing_shape_is_an_err() {
    let e = Tensor::from_slice_on(&[1.0f32], &[1 << 32, 1 << 32], &Device::cpu()).unwrap_err();
    assert!(
        matches!(
            e,
            Error::TooLarge {
                op: "from_slice",
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("[4294967296, 4294967296]"), "{e}");
}

#[test]
fn scalar_operators_keep_an_integer_tensor_integer() {
    let dev = Device::cpu();
    let i = Tensor::from_slice_on(&[1i32, 2, 3], &[3], &dev).unwrap();
    let y = &i + 1;
    assert_eq!(y.dtype(), DType::I32);
    assert_eq!(y.to_vec::<i32>().unwrap(), vec![2, 3, 4]);
    assert_eq!((2 * &i - 1).to_vec::<i32>().unwrap(), vec![1, 3, 5]);
    let u = Tensor::from_slice_on(&[1u32, 2], &[2], &dev).unwrap();
    assert_eq!((&u * 3).dtype(), DType::U32);
    assert_eq!((&u * 3).to_vec::<u32>().unwrap(), vec![3, 6]);
    // A float scalar promotes an integer tensor, an integer scalar keeps a float's dtype.
    assert_eq!((&i * 0.5).dtype(), DType::F32);
    assert_eq!((t(&[2]) + 1).to_vec::<f32>().unwrap(), vec![2.0, 2.0]);
}
