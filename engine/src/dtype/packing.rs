//! How elements lie in the 32-bit words of a device buffer: element `i` of a dtype of `b`
//! bytes is bits `8·b·(i mod 4/b)` up of word `i / (4/b)` (little-endian, as the bytes of
//! a host slice of the element type lie). The CPU interpreter, uploads and reads all use
//! these; the WGSL renderer spells the same layout.

use super::{DType, Scalar};

/// Elements of `dtype` per word, and the bits of one element's mask.
fn per_word(dtype: DType) -> (usize, u32) {
    match dtype.storage_bytes() {
        1 => (4, 0xff),
        2 => (2, 0xffff),
        _ => (1, u32::MAX),
    }
}

/// The bits ([`Scalar::to_bits`]) of element `i` of a buffer of `dtype` held in `words`.
#[inline]
pub fn read_element(words: &[u32], dtype: DType, i: usize) -> u32 {
    let (k, mask) = per_word(dtype);
    if k == 1 {
        return words[i];
    }
    let shift = (i % k) as u32 * (32 / k as u32);
    (words[i / k] >> shift) & mask
}

/// Writes element `i` (its bits, as [`Scalar::to_bits`] gives them), leaving the word's other
/// elements as they are.
#[inline]
pub fn write_element(words: &mut [u32], dtype: DType, i: usize, bits: u32) {
    let (k, mask) = per_word(dtype);
    if k == 1 {
        words[i] = bits;
        return;
    }
    let shift = (i % k) as u32 * (32 / k as u32);
    let w = &mut words[i / k];
    *w = (*w & !(mask << shift)) | ((bits & mask) << shift);
}

/// The words of a buffer holding `values` (all of `dtype`), the last word zero-padded.
pub fn pack_words(values: impl ExactSizeIterator<Item = Scalar>, dtype: DType) -> Vec<u32> {
    let n = values.len();
    let mut words = vec![0u32; dtype.buffer_bytes(n) / 4];
    for (i, s) in values.enumerate() {
        debug_assert_eq!(s.dtype(), dtype);
        write_element(&mut words, dtype, i, s.to_bits());
    }
    words
}

/// The first `numel` elements of a buffer of `dtype` held in `words`.
pub fn unpack_words(words: &[u32], dtype: DType, numel: usize) -> Vec<Scalar> {
    (0..numel)
        .map(|i| Scalar::from_bits(read_element(words, dtype, i), dtype))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_elements_round_trip_at_every_offset() {
        for dtype in DType::ALL {
            let values: Vec<Scalar> = (0..7)
                .map(|i| Scalar::from_f64(i as f64 * 3.0 - 5.0, dtype))
                .collect();
            let words = pack_words(values.iter().copied(), dtype);
            assert_eq!(words.len(), dtype.buffer_bytes(7) / 4);
            assert_eq!(unpack_words(&words, dtype, 7), values, "{dtype}");
        }
        // Little-endian, as the host's bytes lie.
        let words = pack_words([1u8, 2, 3].map(Scalar::U8).into_iter(), DType::U8);
        assert_eq!(words, vec![0x0003_0201]);
    }
}
