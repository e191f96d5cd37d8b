pub use kiln_engine::*;
