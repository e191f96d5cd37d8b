//! What the examples' plots share: the text face, and an RGB buffer written as a PNG.

/// The plots' text face (examples/data/DejaVuSans.LICENSE), registered as "sans-serif".
#[allow(dead_code)] // the fluid's frames have no text
pub fn register_font() -> Result<(), Box<dyn std::error::Error>> {
    const FONT: &[u8] = include_bytes!("../data/DejaVuSans.ttf");
    plotters::style::register_font("sans-serif", plotters::style::FontStyle::Normal, FONT)
        .map_err(|_| "the plot's font does not load".into())
}

/// Writes `rgb` (`w` x `h` pixels, 3 bytes each) to `path` as a PNG.
pub fn write_png(path: &str, w: u32, h: u32, rgb: &[u8]) -> Result<(), Box<dyn std::error::Error>> {
    let file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut png = png::Encoder::new(file, w, h);
    png.set_color(png::ColorType::Rgb);
    png.set_depth(png::BitDepth::Eight);
    png.write_header()?.write_image_data(rgb)?;
    Ok(())
}
