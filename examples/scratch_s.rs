use kiln::{DType, Tensor};
fn main() {
    for d in [kiln::Device::cpu(), kiln::Device::gpu().unwrap()] {
        let x = Tensor::ones_on(&[1], DType::F32, &d).expand(&[1 << 20, 1 << 20]);
        println!("{:?}", x.sum_all().item::<f32>());
        let shape = vec![1usize; 200];
        let y = Tensor::ones_on(&shape, DType::F32, &d).contiguous();
        println!("{:?}", y.sum_all().item::<f32>());
        let mut shape = vec![1usize; 150];
        shape.push(3);
        shape.extend(vec![1usize; 50]);
        shape.push(2);
        let z = Tensor::ones_on(&shape, DType::F32, &d).contiguous();
        println!("{:?}", z.sum(&[150, 201]).to_vec::<f32>());
        println!("{:?}", z.sum_all().item::<f32>());
    }
}
