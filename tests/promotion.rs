//! The promotion lattice README.md writes down (its ```promotion block) is the one binary
//! ops follow: every pair of dtypes, in both orders, through the public API.

use kiln::{DType, Device, Tensor};

fn dtype(name: &str) -> DType {
    match name {
        "bool" => DType::Bool,
        "u32" => DType::U32,
        "i32" => DType::I32,
        "f32" => DType::F32,
        "u8" => DType::U8,
        "i8" => DType::I8,
        "f16" => DType::F16,
        "bf16" => DType::BF16,
        other => panic!("README's promotion table names an unknown dtype {other}"),
    }
}

#[test]
fn binary_ops_promote_as_the_readme_table_says() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let table = readme
        .split("```promotion\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("README.md has a ```promotion block");
    let mut rows = table.lines().filter(|l| !l.trim().is_empty());
    let columns: Vec<DType> = rows.next().unwrap().split_whitespace().map(dtype).collect();
    let dev = Device::cpu();
    let mut checked = 0;
    for row in rows {
        let mut cells = row.split_whitespace();
        let a = dtype(cells.next().unwrap());
        for (&b, want) in columns.iter().zip(cells) {
            let x = Tensor::full_on(&[2], 1.0, a, &dev);
            let y = Tensor::full_on(&[2], 1.0, b, &dev);
            assert_eq!(x.add(&y).dtype(), dtype(want), "{a} + {b}");
            assert_eq!(y.maximum(&x).dtype(), dtype(want), "{b} max {a}");
            checked += 1;
        }
    }
    assert_eq!(
        checked,
        columns.len() * columns.len(),
        "the table is square"
    );
}
