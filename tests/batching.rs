//! Batched submission: on wgpu, small kernels are recorded into one open command encoder and
//! submitted together (at a read, a timed run, an upload, every 32 kernels, or at once for a
//! kernel binding 1 MiB or more). These tests check what a user must never notice: every
//! recorded kernel keeps its own constants, uploads into recycled buffers wait for the
//! kernels recorded before them, and reads see everything recorded before them, from any
//! thread. The CPU device runs the same code as the reference.

mod common;
use common::*;
use kiln::Tensor;

/// More realizes than one batch holds, each with its own constant (a kernel parameter, so
/// all of them share one pipeline and differ only in their parameter window), read at the end.
#[test]
fn recorded_kernels_keep_their_own_constants() {
    for dev in devices() {
        let host: Vec<f32> = (0..1000).map(|i| i as f32 * 0.25 - 7.0).collect();
        let x = Tensor::from_slice_on(&host, &[1000], &dev).unwrap();
        let ys: Vec<Tensor> = (0..100)
            .map(|i| {
                let y = &(&x * (1.0 + i as f32 * 0.5)) + i as f32;
                y.realize().unwrap()
            })
            .collect();
        for (i, y) in ys.iter().enumerate() {
            let got = y.to_vec::<f32>().unwrap();
            let want: Vec<f32> = host
                .iter()
                .map(|v| v * (1.0 + i as f32 * 0.5) + i as f32)
                .collect();
            assert_eq!(got, want, "realize {i} on {}", dev.name());
        }
    }
}

/// A realized result whose input is dropped: the input's buffer goes back to the pool while
/// the kernel that reads it may still be recorded, unsubmitted. The next upload of that size
/// gets the same buffer; its data must not reach the recorded kernel.
#[test]
fn an_upload_into_a_recycled_buffer_waits_for_recorded_kernels() {
    for dev in devices() {
        for round in 0..40 {
            let n = 4096;
            let x = Tensor::from_slice_on(&vec![1.0f32 + round as f32; n], &[n], &dev).unwrap();
            let y = (&x * 2.0).realize().unwrap();
            drop(x);
            let z = Tensor::from_slice_on(&vec![-100.0f32; n], &[n], &dev).unwrap();
            let want = 2.0 * (1.0 + round as f32);
            assert!(
                y.to_vec::<f32>().unwrap().iter().all(|&v| v == want),
                "round {round} on {}: the upload overwrote the input of a recorded kernel",
                dev.name()
            );
            assert!(z.to_vec::<f32>().unwrap().iter().all(|&v| v == -100.0));
        }
    }
}

/// Kernels recorded on other threads, small ones between big ones (a kernel binding 1 MiB or
/// more submits the batch at once), all read on this thread.
#[test]
fn reads_see_kernels_recorded_by_other_threads() {
    for dev in devices() {
        let small = Tensor::from_slice_on(&[1.0f32, 2.0, 3.0], &[3], &dev).unwrap();
        let big = Tensor::ones_on(&[1 << 18], kiln::DType::F32, &dev);
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let (small, big) = (small.clone(), big.clone());
                std::thread::spawn(move || {
                    (0..10)
                        .map(|i| {
                            let k = (t * 10 + i) as f32;
                            let s = (&small + k).realize().unwrap();
                            let b = (&big * k).sum_all().realize().unwrap();
                            (k, s, b)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for h in handles {
            for (k, s, b) in h.join().unwrap() {
                assert_eq!(s.to_vec::<f32>().unwrap(), vec![1.0 + k, 2.0 + k, 3.0 + k]);
                assert_eq!(b.to_vec::<f32>().unwrap(), vec![k * (1 << 18) as f32]);
            }
        }
    }
}
