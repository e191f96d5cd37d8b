//! The lazy graph of a realize, every node colored by the kernel it was fused into (gray:
//! inputs and views that no kernel computes). Layout: each node in the column of its
//! longest path from an input, ordered within the column by where its sources sit, which
//! keeps the DAGs kiln schedules (tens to hundreds of nodes) readable without a layout crate.

use std::collections::HashMap;

use eframe::egui::{self, Align2, Color32, FontId, Rect, Sense, Stroke, Vec2};
use kiln::trace::NodeInfo;

use crate::model::{Model, RealizeRow};
use crate::style;

const NODE: Vec2 = Vec2::new(168.0, 36.0);
const GAP: Vec2 = Vec2::new(56.0, 14.0);

/// Column and row of each node (by index into `nodes`).
pub fn layout(nodes: &[NodeInfo]) -> Vec<(usize, usize)> {
    let index: HashMap<u64, usize> = nodes.iter().enumerate().map(|(i, n)| (n.id, i)).collect();
    // Sources come before their users in a realize's node list (a toposort), but do not
    // rely on it: relax until stable (at most one pass per node).
    let mut column = vec![0usize; nodes.len()];
    for _ in 0..nodes.len() {
        let mut changed = false;
        for (i, n) in nodes.iter().enumerate() {
            let c = n
                .srcs
                .iter()
                .filter_map(|s| index.get(s))
                .map(|&s| column[s] + 1)
                .max()
                .unwrap_or(0);
            if c > column[i] {
                column[i] = c;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let columns = column.iter().max().map_or(0, |m| m + 1);
    let mut row = vec![0usize; nodes.len()];
    let mut position = vec![0.0f32; nodes.len()];
    for c in 0..columns {
        let mut members: Vec<usize> = (0..nodes.len()).filter(|&i| column[i] == c).collect();
        // Barycenter of the sources' rows: a node sits near what it reads.
        let key = |i: usize| {
            let srcs: Vec<f32> = nodes[i]
                .srcs
                .iter()
                .filter_map(|s| index.get(s))
                .map(|&s| position[s])
                .collect();
            if srcs.is_empty() {
                i as f32
            } else {
                srcs.iter().sum::<f32>() / srcs.len() as f32
            }
        };
        members.sort_by(|&a, &b| key(a).total_cmp(&key(b)).then(a.cmp(&b)));
        for (r, &i) in members.iter().enumerate() {
            row[i] = r;
            position[i] = r as f32;
        }
    }
    column.into_iter().zip(row).collect()
}

/// What the graph view keeps between frames: pan, zoom and nodes the user moved, for one
/// realize (showing another realize starts from its fitted layout again).
#[derive(Default)]
pub struct GraphState {
    realize: Option<u64>,
    /// The part of the graph in view (scene coordinates); `None` starts at 1:1 on the
    /// inputs' corner, where names are readable (long chains do not fit a window).
    scene_rect: Option<Rect>,
    /// Offsets from the layout's place of the nodes dragged by the user, by node id.
    moved: HashMap<u64, Vec2>,
}

/// Draws realize `realize`'s graph in a pan-and-zoom scene (drag the background to pan,
/// ctrl+scroll or pinch to zoom, drag a node to move it); a click on a node selects the
/// kernel it was fused into.
pub fn ui(
    ui: &mut egui::Ui,
    model: &Model,
    realize: usize,
    state: &mut GraphState,
    selected: &mut Option<usize>,
) {
    let Some(r) = model.realizes.get(realize) else {
        ui.label("no realize in this trace yet");
        return;
    };
    if state.realize != Some(r.id) {
        *state = GraphState {
            realize: Some(r.id),
            ..GraphState::default()
        };
    }
    kernel_links(ui, model, r, selected);
    let fit = toolbar(ui, state);
    let places = Places::of(&r.nodes);
    let GraphState {
        scene_rect, moved, ..
    } = state;
    let scene_rect = match scene_rect {
        Some(rect) if !fit => rect,
        _ => scene_rect.insert(if fit {
            Rect::from_min_size(egui::Pos2::ZERO, places.size)
        } else {
            Rect::from_min_size(egui::Pos2::ZERO, ui.available_size_before_wrap())
        }),
    };
    egui::Scene::new()
        .zoom_range(0.1..=2.0)
        .max_inner_size(places.size)
        .show(ui, scene_rect, |ui| {
            draw_graph(ui, model, r, &places, moved, selected)
        });
}

/// The realize's kernels, each a link that selects it.
fn kernel_links(ui: &mut egui::Ui, model: &Model, r: &RealizeRow, selected: &mut Option<usize>) {
    ui.horizontal_wrapped(|ui| {
        ui.label(format!(
            "realize {}: {} nodes; kernels:",
            r.id,
            r.nodes.len()
        ));
        for &k in &r.kernels {
            let info = &model.kernels[k].info;
            let text = egui::RichText::new(format!("#{} {}", info.id, info.name))
                .color(style::kernel_color(info.id))
                .monospace();
            if ui.selectable_label(*selected == Some(k), text).clicked() {
                *selected = Some(k);
            }
        }
    });
}

/// "Fit" and "Reset layout"; says whether Fit was clicked.
fn toolbar(ui: &mut egui::Ui, state: &mut GraphState) -> bool {
    let mut fit = false;
    ui.horizontal(|ui| {
        if ui
            .button("Fit")
            .on_hover_text("show the whole graph")
            .clicked()
        {
            fit = true;
        }
        if ui
            .add_enabled(!state.moved.is_empty(), egui::Button::new("Reset layout"))
            .on_hover_text("put moved nodes back where the layout placed them")
            .clicked()
        {
            state.moved.clear();
        }
        ui.weak("drag to pan, ctrl+scroll to zoom, drag a node to move it");
    });
    fit
}

/// Where the layout puts each node, and the size of the whole graph.
struct Places {
    /// (column, row) per node.
    cells: Vec<(usize, usize)>,
    size: Vec2,
}

impl Places {
    fn of(nodes: &[NodeInfo]) -> Places {
        let cells = layout(nodes);
        let columns = cells.iter().map(|p| p.0 + 1).max().unwrap_or(0);
        let rows = cells.iter().map(|p| p.1 + 1).max().unwrap_or(0);
        let size = Vec2::new(
            columns as f32 * (NODE.x + GAP.x) + GAP.x,
            rows as f32 * (NODE.y + GAP.y) + GAP.y,
        );
        Places { cells, size }
    }

    /// Node `i`'s top-left corner in a scene whose area starts at `origin`.
    fn at(&self, origin: egui::Pos2, i: usize) -> egui::Pos2 {
        let (c, r) = self.cells[i];
        origin
            + Vec2::new(
                GAP.x + c as f32 * (NODE.x + GAP.x),
                GAP.y + r as f32 * (NODE.y + GAP.y),
            )
    }
}

/// The scene's contents: nodes (dragged ones where the user left them), edges from each
/// source to its consumer, and a click selecting a node's kernel.
fn draw_graph(
    ui: &mut egui::Ui,
    model: &Model,
    r: &RealizeRow,
    places: &Places,
    moved: &mut HashMap<u64, Vec2>,
    selected: &mut Option<usize>,
) {
    let (area, _) = ui.allocate_exact_size(places.size, Sense::hover());
    // Interactions first, so a node dragged this frame is drawn where it now is.
    let responses: Vec<egui::Response> = r
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let offset = moved.get(&n.id).copied().unwrap_or_default();
            let rect = Rect::from_min_size(places.at(area.min, i) + offset, NODE);
            let response = ui.interact(
                rect,
                ui.scope_id().with(("node", n.id)),
                Sense::click_and_drag(),
            );
            if response.dragged() {
                *moved.entry(n.id).or_default() += response.drag_delta();
            }
            response
        })
        .collect();
    let rect_of = |i: usize| {
        let offset = moved.get(&r.nodes[i].id).copied().unwrap_or_default();
        Rect::from_min_size(places.at(area.min, i) + offset, NODE)
    };
    let painter = ui.painter().clone();
    let index: HashMap<u64, usize> = r.nodes.iter().enumerate().map(|(i, n)| (n.id, i)).collect();
    for (i, n) in r.nodes.iter().enumerate() {
        for s in n.srcs.iter().filter_map(|s| index.get(s)) {
            let (a, b) = (rect_of(*s).right_center(), rect_of(i).left_center());
            let bend = Vec2::new(((b.x - a.x) * 0.5).abs().max(GAP.x), 0.0);
            painter.add(egui::epaint::CubicBezierShape::from_points_stroke(
                [a, a + bend, b - bend, b],
                false,
                Color32::TRANSPARENT,
                Stroke::new(1.2, Color32::from_gray(120)),
            ));
        }
    }
    let selected_id = selected.map(|k| model.kernels[k].info.id);
    for ((i, n), response) in r.nodes.iter().enumerate().zip(responses) {
        draw_node(
            &painter,
            rect_of(i),
            n,
            n.kernel.is_some() && n.kernel == selected_id,
        );
        // Named for screen readers and tests: "%12 = exp".
        let name = format!("%{} = {}", n.id, n.op);
        response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, name.clone()));
        let kernel = n.kernel.and_then(|k| model.kernel_index(k));
        let response = response.on_hover_text(node_tooltip(model, n, kernel));
        if response.clicked() && kernel.is_some() {
            *selected = kernel;
        }
    }
}

/// A node's box: filled with its kernel's color, outlined when that kernel is selected.
fn draw_node(painter: &egui::Painter, rect: Rect, n: &NodeInfo, highlighted: bool) {
    let fill = match n.kernel {
        Some(k) => style::kernel_color(k).gamma_multiply(0.55),
        None => Color32::from_gray(60),
    };
    let outline = if highlighted {
        Stroke::new(2.5, Color32::WHITE)
    } else {
        Stroke::new(1.0, Color32::from_gray(30))
    };
    painter.rect(rect, 5.0, fill, outline, egui::StrokeKind::Inside);
    painter.text(
        rect.center_top() + Vec2::new(0.0, 3.0),
        Align2::CENTER_TOP,
        style::ellipsize(&n.op, 24),
        FontId::proportional(12.0),
        Color32::WHITE,
    );
    painter.text(
        rect.center_bottom() - Vec2::new(0.0, 3.0),
        Align2::CENTER_BOTTOM,
        style::ellipsize(&format!("{} {:?}", n.dtype, n.shape), 26),
        FontId::monospace(10.0),
        Color32::from_gray(220),
    );
}

/// "%12 = exp(%11)", dtype and shape, and the kernel it was fused into.
fn node_tooltip(model: &Model, n: &NodeInfo, kernel: Option<usize>) -> String {
    let srcs: Vec<String> = n.srcs.iter().map(|s| format!("%{s}")).collect();
    let fused = match kernel {
        Some(k) => format!(
            "fused into kernel #{}: {}",
            model.kernels[k].info.id, model.kernels[k].info.name
        ),
        None => "not computed by a kernel (an input, or a view of a buffer)".into(),
    };
    format!(
        "%{} = {}({})\n{} {:?}\n{fused}",
        n.id,
        n.op,
        srcs.join(", "),
        n.dtype,
        n.shape
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: u64, srcs: &[u64]) -> NodeInfo {
        NodeInfo {
            id,
            op: "op".into(),
            dtype: "f32".into(),
            shape: vec![1],
            srcs: srcs.to_vec(),
            kernel: None,
        }
    }

    #[test]
    fn nodes_sit_right_of_their_sources() {
        // a diamond with a long and a short path to the sink, listed out of order
        let nodes = vec![node(5, &[3, 1]), node(1, &[]), node(3, &[2]), node(2, &[1])];
        let places = layout(&nodes);
        let col = |id: u64| places[nodes.iter().position(|n| n.id == id).unwrap()].0;
        assert_eq!((col(1), col(2), col(3), col(5)), (0, 1, 2, 3));
        // no two nodes share a place
        let mut seen = places.clone();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), places.len());
    }
}
