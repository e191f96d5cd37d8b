//! The async API: reads and realizes that never block, which the browser requires (its one
//! thread cannot wait for the GPU) and native async programs can use with any executor.

use super::{realize, Tensor};
use crate::dtype::Element;
use crate::error::Result;
use crate::runtime::Device;

impl Tensor {
    /// The values, row-major, as [`Tensor::to_vec`] gives them, without blocking.
    ///
    /// ```
    /// # use kiln_engine::{Device, Tensor};
    /// let x = Tensor::from_slice_on(&[1.0f32, 2.0], &[2], &Device::cpu())?;
    /// assert_eq!(pollster::block_on((&x * 3.0).to_vec_async::<f32>())?, vec![3.0, 6.0]);
    /// # Ok::<(), kiln_engine::Error>(())
    /// ```
    pub async fn to_vec_async<T: Element>(&self) -> Result<Vec<T>> {
        self.check_read_dtype::<T>()?;
        self.readable("to_vec_async")?;
        let buffer = self.node.buffer().expect("realized");
        let words = buffer.read_words_async().await?;
        Ok(self.values(&words))
    }

    /// The single value of a one-element tensor, without blocking.
    pub async fn item_async<T: Element>(&self) -> Result<T> {
        self.check_one_element("item_async")?;
        Ok(self.to_vec_async::<T>().await?[0])
    }

    /// A copy of this tensor's value on `device`, as [`Tensor::to`] makes it, without blocking.
    pub async fn to_async(&self, device: &Device) -> Result<Tensor> {
        if let Some(t) = self.without_copy_to(device) {
            return Ok(t);
        }
        self.readable("to_async")?;
        let t0 = web_time::Instant::now();
        let buffer = self.node.buffer().expect("realized");
        let words = buffer.read_words_async().await?;
        self.uploaded_to(device, &words, t0)
    }
}

/// Realizes all `tensors` in one schedule, as [`realize`] does, and resolves once their
/// devices have computed them (or reports a kernel the browser refused to compile).
pub async fn realize_async(tensors: &[&Tensor]) -> Result<()> {
    realize(tensors)?;
    let mut devices: Vec<Device> = vec![];
    for t in tensors {
        if !devices.contains(t.device()) {
            devices.push(t.device().clone());
        }
    }
    for d in devices {
        d.idle_async().await?;
    }
    Ok(())
}
