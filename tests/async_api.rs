//! The async API natively: `Device::gpu_async`, `to_vec_async`, `item_async`, `to_async`,
//! `realize_async` and `Kernel::time_async` give what their blocking twins give, on both
//! devices, under pollster and under a bare loop of polls that never lets a future block.

mod common;
use common::*;
use kiln::{Device, Error, Tensor};
use std::future::Future;
use std::task::{Context, Poll, Waker};

/// Runs `f` by polling it in a loop with a waker that does nothing: the future must make
/// progress on each poll by itself (no executor wakes it, no poll may block). Returns the
/// value and how many polls it took.
fn spin<F: Future>(f: F) -> (F::Output, usize) {
    let mut f = std::pin::pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    for polls in 1.. {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return (v, polls);
        }
    }
    unreachable!()
}

fn async_devices() -> Vec<Device> {
    let mut d = vec![Device::cpu()];
    if gpu().is_some() {
        d.push(pollster::block_on(Device::gpu_async()).expect("gpu_async after gpu"));
    }
    d
}

#[test]
fn gpu_async_opens_the_same_device_as_gpu() {
    let Some(blocking) = gpu() else { return };
    let (opened, _) = spin(Device::gpu_async());
    assert_eq!(opened.unwrap(), blocking);
}

#[test]
fn reads_agree_with_the_blocking_reads() {
    for dev in async_devices() {
        let x = Tensor::from_slice_on(&[1.5f32, -2.0, 3.25, 0.0, 7.0], &[5], &dev).unwrap();
        let y = (&x * 2.0).exp2().sum(&[0]);
        let z = &x + 1.0;
        assert_eq!(
            pollster::block_on(z.to_vec_async::<f32>()).unwrap(),
            z.to_vec::<f32>().unwrap(),
            "{dev:?}"
        );
        let (item, _) = spin(y.item_async::<f32>());
        assert_eq!(item.unwrap(), y.item::<f32>().unwrap(), "{dev:?}");
        // A fresh lazy value read through the spin loop: realized, run, mapped, read.
        let w = (&x * &x).max(&[0]);
        let (v, polls) = spin(w.to_vec_async::<f32>());
        assert_eq!(v.unwrap(), vec![49.0], "{dev:?} after {polls} polls");
        // Wrong dtype and several elements: the same errors as the blocking calls.
        assert!(matches!(
            pollster::block_on(x.to_vec_async::<i32>()),
            Err(Error::DTypeMismatch { .. })
        ));
        assert!(matches!(
            pollster::block_on(x.item_async::<f32>()),
            Err(Error::DataLength {
                op: "item_async",
                ..
            })
        ));
    }
}

#[test]
fn realize_async_shares_one_schedule_and_resolves_when_done() {
    for dev in async_devices() {
        let x = Tensor::from_slice_on(&[1.0f32, 2.0, 3.0, 4.0], &[4], &dev).unwrap();
        let (sum, mean) = (x.sum_all(), x.mean_all());
        // One kernel for both (counted by the schedule: tests run side by side).
        assert_eq!(kiln::schedule(&[&sum, &mean]).unwrap().kernels().len(), 1);
        let (done, _) = spin(kiln::realize_async(&[&sum, &mean]));
        done.unwrap();
        assert!(sum.is_realized() && mean.is_realized());
        let (s, m) = pollster::block_on(async {
            (
                sum.item_async::<f32>().await,
                mean.item_async::<f32>().await,
            )
        });
        assert_eq!((s.unwrap(), m.unwrap()), (10.0, 2.5));
    }
}

#[test]
fn to_async_copies_between_devices() {
    let Some(gpu) = gpu() else { return };
    let data: Vec<f32> = (0..1000).map(|i| i as f32 * 0.5 - 7.0).collect();
    let on_gpu = Tensor::from_slice_on(&data, &[10, 100], &gpu).unwrap();
    let back = pollster::block_on((&on_gpu * 2.0).to_async(&Device::cpu())).unwrap();
    assert!(back.device().is_cpu());
    let want: Vec<f32> = data.iter().map(|v| v * 2.0).collect();
    assert_eq!(back.to_vec::<f32>().unwrap(), want);
    let there = pollster::block_on(back.to_async(&gpu)).unwrap();
    assert_eq!(there.to_vec::<f32>().unwrap(), want);
}

#[test]
fn an_index_out_of_range_is_reported_by_the_async_read() {
    for dev in async_devices() {
        let table = Tensor::from_slice_on(&[1.0f32, 2.0, 3.0], &[3], &dev).unwrap();
        let index = Tensor::from_slice_on(&[0i32, 5], &[2], &dev).unwrap();
        let picked = table.index_select(0, &index);
        let (got, _) = spin(picked.to_vec_async::<f32>());
        assert!(
            matches!(
                got,
                Err(Error::IndexOutOfRange {
                    index: 5,
                    len: 3,
                    ..
                })
            ),
            "{dev:?}: {got:?}"
        );
    }
}

#[test]
fn time_async_times_a_kernel() {
    for dev in async_devices() {
        let a = Tensor::from_slice_on(&vec![0.5f32; 256 * 256], &[256, 256], &dev).unwrap();
        let s = kiln::schedule(&[&a.matmul(&a)]).unwrap();
        let kernel = &s.kernels()[0];
        let (t, _) = spin(kernel.time_async(&dev, 3));
        let t = t.unwrap();
        assert!(t.as_secs_f64() > 0.0, "{dev:?}: {t:?}");
    }
}
