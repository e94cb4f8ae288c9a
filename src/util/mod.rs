//! Small helpers shared across command families.

pub mod clock;
pub mod flat;
pub mod glob;
pub mod varint;
