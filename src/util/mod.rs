//! Small helpers shared across command families.

pub mod glob;
