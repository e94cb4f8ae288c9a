//! PLACEHOLDER: the set family's commands land here.

use super::spec::CommandSpec;

pub static COMMANDS: &[CommandSpec] = &[];
