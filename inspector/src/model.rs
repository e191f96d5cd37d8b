//! What the inspector shows, derived once from each trace it loads: kernels with their rates
//! and distance from the roofline, realizes with their graphs, devices with their probes,
//! memory in use over time. No egui here, so all of it is tested as plain data.

use std::cmp::Ordering;

use kiln::trace::{Event, KernelInfo, Limits, NodeInfo, Trace};

/// A device's measured ceilings: the roofline probes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Probe {
    pub copy_gbs: f64,
    pub fma_gflops: f64,
}

impl Probe {
    /// The best rate a kernel of `intensity` FLOPs per byte can reach: the lower ceiling.
    pub fn attainable_gflops(&self, intensity: f64) -> f64 {
        self.fma_gflops.min(intensity * self.copy_gbs)
    }

    /// How close a kernel comes to the ceiling that binds it, in percent. Reaching
    /// `gflops` at `gbs` is `gflops / attainable(gflops / gbs)`, which is the larger of the
    /// two fractions: of the FMA probe and of the copy probe.
    pub fn percent_of_roofline(&self, gflops: f64, gbs: f64) -> f64 {
        100.0 * (gflops / self.fma_gflops).max(gbs / self.copy_gbs)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct DeviceRow {
    pub name: String,
    pub cpu: bool,
    pub limits: Limits,
    /// The last probes measured on this device in the trace.
    pub probe: Option<Probe>,
}

/// Rates of one kernel launch, when it was timed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rates {
    pub gflops: f64,
    pub gbs: f64,
    /// FLOPs per byte moved (`None` for a kernel that moves no bytes).
    pub intensity: Option<f64>,
}

impl Rates {
    pub fn of(flops: u64, bytes: u64, time_us: f64) -> Option<Rates> {
        if time_us <= 0.0 || !time_us.is_finite() {
            return None;
        }
        let seconds = time_us * 1e-6;
        Some(Rates {
            gflops: flops as f64 / seconds / 1e9,
            gbs: bytes as f64 / seconds / 1e9,
            intensity: (bytes > 0).then(|| flops as f64 / bytes as f64),
        })
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct KernelRow {
    pub info: KernelInfo,
    pub rates: Option<Rates>,
    /// Percent of the binding roofline ceiling, when the kernel was timed and its device's
    /// probes are in the trace.
    pub roofline_pct: Option<f64>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RealizeRow {
    pub id: u64,
    pub device: String,
    pub at_us: f64,
    pub schedule_us: f64,
    /// Indices into [`Model::kernels`], in launch order.
    pub kernels: Vec<usize>,
    pub nodes: Vec<NodeInfo>,
}

/// Everything derived from one trace.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Model {
    pub devices: Vec<DeviceRow>,
    pub realizes: Vec<RealizeRow>,
    pub kernels: Vec<KernelRow>,
    /// (microseconds, bytes) of the buffers taken from the device pools since the trace
    /// started and not yet given back, as a step function: two points per change.
    pub memory: Vec<[f64; 2]>,
    /// Events in the trace the model was built from.
    pub events: usize,
}

/// The kernel table's sortable columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Column {
    Launch,
    Realize,
    Name,
    Time,
    Gflops,
    Gbs,
    Roofline,
}

impl Column {
    pub const ALL: [Column; 7] = [
        Column::Launch,
        Column::Realize,
        Column::Name,
        Column::Time,
        Column::Gflops,
        Column::Gbs,
        Column::Roofline,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Column::Launch => "#",
            Column::Realize => "realize",
            Column::Name => "kernel",
            Column::Time => "time (us)",
            Column::Gflops => "GFLOPS",
            Column::Gbs => "GB/s",
            Column::Roofline => "% roofline",
        }
    }
}

impl Model {
    pub fn from_trace(trace: &Trace) -> Model {
        let mut m = Model {
            events: trace.events.len(),
            ..Model::default()
        };
        let mut live: Vec<(u64, u64)> = vec![];
        let mut live_bytes = 0u64;
        for e in &trace.events {
            match e {
                Event::Device { name, cpu, limits } => m.devices.push(DeviceRow {
                    name: name.clone(),
                    cpu: *cpu,
                    limits: limits.clone(),
                    probe: None,
                }),
                Event::Probes {
                    device,
                    copy_gbs,
                    fma_gflops,
                    ..
                } => {
                    if let Some(d) = m.devices.iter_mut().find(|d| &d.name == device) {
                        d.probe = Some(Probe {
                            copy_gbs: *copy_gbs,
                            fma_gflops: *fma_gflops,
                        });
                    }
                }
                Event::Realize {
                    id,
                    device,
                    at_us,
                    schedule_us,
                    nodes,
                    ..
                } => m.realizes.push(RealizeRow {
                    id: *id,
                    device: device.clone(),
                    at_us: *at_us,
                    schedule_us: *schedule_us,
                    kernels: vec![],
                    nodes: nodes.clone(),
                }),
                Event::Kernel(k) => {
                    let index = m.kernels.len();
                    if let Some(r) = m.realizes.iter_mut().rev().find(|r| r.id == k.realize) {
                        r.kernels.push(index);
                    }
                    m.kernels.push(KernelRow {
                        info: (**k).clone(),
                        rates: None,
                        roofline_pct: None,
                    });
                }
                Event::Alloc {
                    buffer,
                    bytes,
                    at_us,
                    ..
                } => {
                    live.push((*buffer, *bytes));
                    m.memory.push([*at_us, live_bytes as f64]);
                    live_bytes += bytes;
                    m.memory.push([*at_us, live_bytes as f64]);
                }
                Event::Free { buffer, at_us } => {
                    // Buffers taken before the trace started are not counted.
                    if let Some(i) = live.iter().position(|(b, _)| b == buffer) {
                        m.memory.push([*at_us, live_bytes as f64]);
                        live_bytes -= live.swap_remove(i).1;
                        m.memory.push([*at_us, live_bytes as f64]);
                    }
                }
            }
        }
        m.rate_kernels();
        m
    }

    /// Fills each kernel's rates and roofline fraction (probes may come after the kernels).
    fn rate_kernels(&mut self) {
        for k in &mut self.kernels {
            let probe = self
                .devices
                .iter()
                .find(|d| d.name == k.info.device)
                .and_then(|d| d.probe);
            k.rates = k
                .info
                .time_us
                .and_then(|t| Rates::of(k.info.flops, k.info.bytes, t));
            k.roofline_pct = match (k.rates, probe) {
                (Some(r), Some(p)) => Some(p.percent_of_roofline(r.gflops, r.gbs)),
                _ => None,
            };
        }
    }

    pub fn device(&self, name: &str) -> Option<&DeviceRow> {
        self.devices.iter().find(|d| d.name == name)
    }

    /// The index of the kernel the trace calls `id`.
    pub fn kernel_index(&self, id: u64) -> Option<usize> {
        self.kernels.iter().position(|k| k.info.id == id)
    }

    /// The realize that launched kernel `index`.
    pub fn realize_of(&self, index: usize) -> Option<usize> {
        self.realizes
            .iter()
            .position(|r| r.kernels.contains(&index))
    }

    /// Kernel indices of `realize` (or all), ordered by `column`.
    pub fn sorted_kernels(
        &self,
        realize: Option<usize>,
        column: Column,
        descending: bool,
    ) -> Vec<usize> {
        let mut rows: Vec<usize> = match realize.and_then(|r| self.realizes.get(r)) {
            Some(r) => r.kernels.clone(),
            None => (0..self.kernels.len()).collect(),
        };
        let number = |i: usize| -> Option<f64> {
            let k = &self.kernels[i];
            match column {
                Column::Time => k.info.time_us,
                Column::Gflops => k.rates.map(|r| r.gflops),
                Column::Gbs => k.rates.map(|r| r.gbs),
                Column::Roofline => k.roofline_pct,
                _ => None,
            }
        };
        rows.sort_by(|&a, &b| {
            let (ka, kb) = (&self.kernels[a].info, &self.kernels[b].info);
            let order = match column {
                Column::Launch => ka.id.cmp(&kb.id),
                Column::Realize => ka.realize.cmp(&kb.realize).then(ka.id.cmp(&kb.id)),
                Column::Name => ka.name.cmp(&kb.name).then(ka.id.cmp(&kb.id)),
                _ => match (number(a), number(b)) {
                    // Untimed kernels go last whichever way the column is sorted.
                    (Some(x), Some(y)) => {
                        let o = x.total_cmp(&y);
                        if descending {
                            o.reverse()
                        } else {
                            o
                        }
                    }
                    (Some(_), None) => Ordering::Less,
                    (None, Some(_)) => Ordering::Greater,
                    (None, None) => ka.id.cmp(&kb.id),
                },
            };
            match column {
                Column::Time | Column::Gflops | Column::Gbs | Column::Roofline => order,
                _ if descending => order.reverse(),
                _ => order,
            }
        });
        rows
    }

    /// Total kernel time per realize's device clock, in microseconds.
    pub fn total_time_us(&self) -> f64 {
        self.kernels.iter().filter_map(|k| k.info.time_us).sum()
    }
}
