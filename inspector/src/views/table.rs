//! The kernel table: every launch with its name colored by axis kind, time, rates and
//! distance from the roofline, sortable by any column, filtered by realize.

use eframe::egui::{self, RichText};
use egui_extras::{Column as Width, TableBuilder};

use crate::model::{Column, Model};
use crate::style;

/// The table's state: sort column and direction, realize filter.
pub struct TableState {
    pub sort: Column,
    pub descending: bool,
    pub realize: Option<usize>,
}

impl Default for TableState {
    fn default() -> Self {
        TableState {
            sort: Column::Launch,
            descending: false,
            realize: None,
        }
    }
}

/// Draws the table; `selected` is the selected kernel's index, changed by a click.
pub fn ui(ui: &mut egui::Ui, model: &Model, state: &mut TableState, selected: &mut Option<usize>) {
    ui.horizontal(|ui| {
        let current = match state.realize {
            Some(r) => format!("realize {}", model.realizes[r].id),
            None => "all realizes".into(),
        };
        egui::ComboBox::new("realize filter", "show")
            .selected_text(current)
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut state.realize, None, "all realizes");
                for (i, r) in model.realizes.iter().enumerate() {
                    let text = format!(
                        "realize {} ({} kernels, {:.0} us scheduling)",
                        r.id,
                        r.kernels.len(),
                        r.schedule_us
                    );
                    ui.selectable_value(&mut state.realize, Some(i), text);
                }
            });
        ui.label("axis kinds:");
        for kind in style::KINDS {
            ui.label(
                RichText::new(kind)
                    .color(style::kind_color(kind))
                    .monospace(),
            );
        }
    });
    let rows = model.sorted_kernels(state.realize, state.sort, state.descending);
    TableBuilder::new(ui)
        .id_salt("kernel table")
        .striped(true)
        .sense(egui::Sense::click())
        .column(Width::auto().at_least(28.0))
        .column(Width::auto().at_least(50.0))
        .column(Width::initial(300.0).at_least(120.0).resizable(true))
        .columns(Width::auto().at_least(70.0), 4)
        .column(Width::remainder())
        .header(22.0, |mut header| {
            for column in Column::ALL {
                header.col(|ui| {
                    let arrow = match (state.sort == column, state.descending) {
                        (true, false) => " ^",
                        (true, true) => " v",
                        _ => "",
                    };
                    let b = ui.add(
                        egui::Button::new(
                            RichText::new(format!("{}{arrow}", column.title())).strong(),
                        )
                        .frame(false),
                    );
                    if b.on_hover_text("sort by this column").clicked() {
                        if state.sort == column {
                            state.descending = !state.descending;
                        } else {
                            state.sort = column;
                            // Rates read best first; names and ids in order.
                            state.descending = matches!(
                                column,
                                Column::Time | Column::Gflops | Column::Gbs | Column::Roofline
                            );
                        }
                    }
                });
            }
            header.col(|ui| {
                ui.strong("opts");
            });
        })
        .body(|body| {
            body.rows(20.0, rows.len(), |mut row| {
                let index = rows[row.index()];
                let k = &model.kernels[index];
                row.set_selected(*selected == Some(index));
                let num = |v: Option<f64>, digits: usize| match v {
                    Some(v) => format!("{v:.digits$}"),
                    None => "-".into(),
                };
                row.col(|ui| {
                    ui.label(k.info.id.to_string());
                });
                row.col(|ui| {
                    ui.label(k.info.realize.to_string());
                });
                row.col(|ui| {
                    ui.add(egui::Label::new(style::kernel_name(&k.info, 13.0)).selectable(false));
                });
                row.col(|ui| {
                    ui.label(num(k.info.time_us, 1));
                });
                row.col(|ui| {
                    ui.label(num(k.rates.map(|r| r.gflops), 2));
                });
                row.col(|ui| {
                    ui.label(num(k.rates.map(|r| r.gbs), 2));
                });
                row.col(|ui| {
                    ui.label(num(k.roofline_pct, 0));
                });
                row.col(|ui| {
                    ui.label(RichText::new(short_opts(&k.info.opts)).monospace().small());
                });
                if row.response().clicked() {
                    *selected = Some(index);
                }
            });
        });
}

/// `Opt(op=UPCAST, axis=0, arg=4)` → `UPCAST 0 4`, comma-separated.
pub fn short_opts(opts: &[String]) -> String {
    opts.iter()
        .map(|o| {
            let field = |name: &str| {
                o.split(&format!("{name}="))
                    .nth(1)
                    .and_then(|rest| rest.split([',', ')']).next())
                    .unwrap_or("?")
                    .to_string()
            };
            let op = field("op");
            match field("axis").as_str() {
                "None" => op,
                axis => format!("{op} {axis} {}", field("arg")),
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn short_opts_reads_tinygrads_spelling() {
        let opts = vec![
            "Opt(op=UPCAST, axis=0, arg=4)".to_string(),
            "Opt(op=NOLOCALS, axis=None, arg=None)".to_string(),
        ];
        assert_eq!(super::short_opts(&opts), "UPCAST 0 4, NOLOCALS");
    }
}
