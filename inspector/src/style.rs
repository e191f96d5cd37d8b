//! Colors and text layouts shared by the views: kernel names colored by axis kind (DEBUG=2's
//! colors), one color per kernel for the graph and the timeline, and WGSL highlighting.

use eframe::egui::text::LayoutJob;
use eframe::egui::{Color32, FontId, TextFormat};
use kiln::trace::KernelInfo;

/// The color of a part kind, as DEBUG=2 colors it in a terminal (tinygrad's scheme).
pub fn kind_color(kind: &str) -> Color32 {
    match kind {
        "global" => Color32::from_rgb(90, 140, 255),
        "loop" => Color32::from_rgb(200, 200, 200),
        "local" => Color32::from_rgb(60, 210, 220),
        "group" => Color32::from_rgb(90, 200, 90),
        "upcast" => Color32::from_rgb(230, 200, 60),
        "reduce" => Color32::from_rgb(235, 90, 90),
        "unroll" => Color32::from_rgb(210, 110, 230),
        _ => Color32::GRAY,
    }
}

/// The part kinds in the order of the legend.
pub const KINDS: [&str; 7] = [
    "global", "loop", "local", "group", "upcast", "reduce", "unroll",
];

/// `r_` / `E_` and then each part's size in its kind's color, as DEBUG=2 prints it.
pub fn kernel_name(k: &KernelInfo, size: f32) -> LayoutJob {
    let font = FontId::monospace(size);
    let plain = TextFormat::simple(font.clone(), Color32::LIGHT_GRAY);
    let mut job = LayoutJob::default();
    if k.parts.is_empty() {
        job.append(&k.name, 0.0, plain);
        return job;
    }
    let prefix = k.name.split('_').next().unwrap_or("E");
    job.append(prefix, 0.0, plain.clone());
    for p in &k.parts {
        job.append("_", 0.0, plain.clone());
        job.append(
            &p.size.to_string(),
            0.0,
            TextFormat::simple(font.clone(), kind_color(&p.kind)),
        );
    }
    job
}

/// `s` cut to `n` characters, ending in an ellipsis when cut.
pub fn ellipsize(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        return s.to_string();
    }
    let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
    t.push('…');
    t
}

/// A distinct color for kernel `id` (graph nodes, timeline bars).
pub fn kernel_color(id: u64) -> Color32 {
    // Golden-ratio hue steps keep neighbouring kernels apart.
    let hue = (id as f32 * 0.618_034).fract();
    let c = eframe::egui::ecolor::Hsva::new(hue, 0.55, 0.85, 1.0);
    Color32::from(c)
}

const KEYWORDS: &[&str] = &[
    "fn", "var", "let", "const", "struct", "return", "if", "else", "for", "loop", "while", "break",
    "continue", "switch", "case", "default", "override", "alias", "enable", "true", "false",
];
const TYPES: &[&str] = &[
    "f32",
    "f16",
    "i32",
    "u32",
    "bool",
    "vec2",
    "vec3",
    "vec4",
    "array",
    "ptr",
    "atomic",
    "storage",
    "uniform",
    "workgroup",
    "function",
    "private",
    "read",
    "read_write",
    "write",
];

/// WGSL with keywords, types, builtins (`@...`), numbers and comments colored.
pub fn highlight_wgsl(src: &str, size: f32) -> LayoutJob {
    let font = FontId::monospace(size);
    let fmt = |c: Color32| TextFormat::simple(font.clone(), c);
    let (plain, keyword, ty, attr, number, comment) = (
        fmt(Color32::from_rgb(212, 212, 212)),
        fmt(Color32::from_rgb(197, 134, 192)),
        fmt(Color32::from_rgb(78, 201, 176)),
        fmt(Color32::from_rgb(220, 220, 120)),
        fmt(Color32::from_rgb(181, 206, 168)),
        fmt(Color32::from_rgb(106, 153, 85)),
    );
    let mut job = LayoutJob::default();
    let bytes = src.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let rest = &src[i..];
        let (len, format) = if rest.starts_with("//") {
            (rest.find('\n').unwrap_or(rest.len()), &comment)
        } else if bytes[i] == b'@' {
            (1 + word_len(&rest[1..]), &attr)
        } else if bytes[i].is_ascii_digit() {
            let n = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.'))
                .unwrap_or(rest.len());
            (n, &number)
        } else if bytes[i].is_ascii_alphabetic() || bytes[i] == b'_' {
            let n = word_len(rest);
            let word = &rest[..n];
            let f = if KEYWORDS.contains(&word) {
                &keyword
            } else if TYPES.contains(&word) {
                &ty
            } else {
                &plain
            };
            (n, f)
        } else {
            // Punctuation and spaces up to the next token (at least one character; a '/'
            // here does not start a comment).
            let n = rest
                .char_indices()
                .skip(1)
                .find(|(_, c)| c.is_ascii_alphanumeric() || *c == '_' || *c == '@' || *c == '/')
                .map_or(rest.len(), |(j, _)| j);
            (n, &plain)
        };
        job.append(&rest[..len], 0.0, format.clone());
        i += len;
    }
    job
}

fn word_len(s: &str) -> usize {
    s.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len())
}

pub fn plain_code(text: &str) -> eframe::egui::text::LayoutJob {
    eframe::egui::text::LayoutJob::simple(
        text.to_string(),
        eframe::egui::FontId::monospace(12.0),
        Color32::from_rgb(212, 212, 212),
        f32::INFINITY,
    )
}

/// A scrollable, selectable block of code.
pub fn code_block(ui: &mut eframe::egui::Ui, id: &str, job: eframe::egui::text::LayoutJob) {
    eframe::egui::ScrollArea::both()
        .id_salt(id)
        .max_height(420.0)
        .auto_shrink([false, true])
        .show(ui, |ui| {
            ui.add(
                eframe::egui::Label::new(job)
                    .selectable(true)
                    .wrap_mode(eframe::egui::TextWrapMode::Extend),
            );
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn highlighting_keeps_every_character() {
        let src = "@compute @workgroup_size(64)\nfn main(@builtin(global_invocation_id) g: vec3<u32>) {\n  // a comment / here\n  let x = 1.5e3 / 2.0;\n  out[g.x] = f32(x) * π;\n}\n";
        let job = highlight_wgsl(src, 12.0);
        assert_eq!(job.text, src);
        let colors: Vec<Color32> = job.sections.iter().map(|s| s.format.color).collect();
        assert!(
            colors.contains(&Color32::from_rgb(197, 134, 192)),
            "keywords"
        );
        assert!(
            colors.contains(&Color32::from_rgb(106, 153, 85)),
            "comments"
        );
    }
}
