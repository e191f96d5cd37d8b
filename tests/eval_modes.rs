//! Evaluation modes are process-wide, so this binary holds one test that walks through them.

use kiln::{DType, Device, Error, EvalMode, Tensor};

#[test]
fn lazy_eager_and_explicit_modes() {
    let dev = Device::cpu();
    let x = Tensor::from_slice_on(&[1.0f32, 2.0, 3.0], &[3], &dev).unwrap();

    kiln::set_eval_mode(EvalMode::Lazy);
    let y = &x * 2.0f32;
    assert!(
        !y.is_realized(),
        "lazy: nothing runs until a value is needed"
    );
    assert_eq!(y.to_vec::<f32>().unwrap(), vec![2.0, 4.0, 6.0]);

    kiln::set_eval_mode(EvalMode::Eager);
    let before = kiln::stats().kernels_launched;
    let z = &x + 10.0f32;
    assert!(z.is_realized(), "eager: every op realizes at once");
    let w = z.exp().sum(&[0]);
    assert!(w.is_realized());
    assert!(
        kiln::stats().kernels_launched - before >= 2,
        "eager runs one kernel per op"
    );
    // A runtime failure in eager mode comes back as the `Err` lazy mode gives, at the read,
    // not as a panic inside the op.
    let huge = Tensor::ones_on(&[1], DType::F32, &dev)
        .expand(&[1 << 20, 1 << 20])
        .sum_all();
    assert!(!huge.is_realized());
    match huge.item::<f32>() {
        Err(Error::Unsupported { message, .. }) => {
            assert!(
                message.contains("sum kernel over shape [1048576, 1048576]"),
                "{message}"
            )
        }
        other => panic!("expected Unsupported, got {other:?}"),
    }
    let v = z.flip(&[0]);
    assert!(!v.is_realized(), "eager: movement ops stay zero-copy views");
    assert_eq!(v.to_vec::<f32>().unwrap(), vec![13.0, 12.0, 11.0]);
    let before = kiln::stats().kernels_launched;
    let r = z.reshape(&[1, 3]);
    assert!(
        r.is_realized(),
        "eager: a reshape of a realized value shares its buffer"
    );
    assert_eq!(
        kiln::stats().kernels_launched,
        before,
        "sharing a buffer runs no kernel"
    );

    kiln::set_eval_mode(EvalMode::Explicit);
    let q = &x - 1.0f32;
    let e = q.to_vec::<f32>().unwrap_err();
    assert!(matches!(e, Error::NotRealized { .. }), "{e}");
    let m = e.to_string();
    assert!(
        m.contains("to_vec") && m.contains("[3]") && m.contains("realize"),
        "{m}"
    );
    assert!(!q.is_realized(), "explicit: reading never computes");
    q.realize().unwrap();
    assert_eq!(q.to_vec::<f32>().unwrap(), vec![0.0, 1.0, 2.0]);
    assert!(matches!(
        q.cast(DType::I32).to_vec::<i32>(),
        Err(Error::NotRealized { .. })
    ));

    kiln::set_eval_mode(EvalMode::Lazy);
    assert_eq!(kiln::eval_mode(), EvalMode::Lazy);
}
