//! The inspector's views, one per file: each draws from the [`crate::model::Model`] and
//! reports a click on a kernel by setting the selection.

pub mod detail;
pub mod graph;
pub mod roofline;
pub mod table;
pub mod timeline;
