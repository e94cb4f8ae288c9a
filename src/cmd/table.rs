//! The command table: every family's specs gathered once at start-up, with
//! `rename-command` applied. Lookup is by lower-cased name without allocating.

use std::collections::HashMap;

use super::spec::CommandSpec;

/// Every family's command list. A new family adds one line here.
static FAMILIES: &[&[CommandSpec]] = &[
    super::config::COMMANDS,
    super::connection::COMMANDS,
    super::string::COMMANDS,
    super::bitmap::COMMANDS,
    super::keyspace::COMMANDS,
    super::expire::COMMANDS,
    super::server::COMMANDS,
    super::list::COMMANDS,
    super::hash::COMMANDS,
    super::set::COMMANDS,
    super::zset::COMMANDS,
    super::hyperloglog::COMMANDS,
    super::sort::COMMANDS,
    super::multi::COMMANDS,
    super::pubsub::COMMANDS,
    super::scripting::COMMANDS,
    super::stream::COMMANDS,
    super::persist::COMMANDS,
    super::aof::COMMANDS,
    super::acl::COMMANDS,
    super::module::COMMANDS,
];

pub fn families() -> &'static [&'static [CommandSpec]] {
    FAMILIES
}

/// Command names to ids. The table is fixed and small, so a fast hash (not
/// std's SipHash, measured at ~2% of a pipelined ZADD) is safe here.
type NameMap = HashMap<Vec<u8>, usize, foldhash::fast::FixedState>;

pub struct CommandTable {
    /// Top-level commands by (possibly renamed) lower-case name.
    by_name: NameMap,
    /// Every command and subcommand; the index is its id (statistics key).
    specs: Vec<&'static CommandSpec>,
    /// `name` or `parent|sub`, by id.
    full_names: Vec<String>,
    /// For a container id: its subcommands by lower-case name.
    subs: HashMap<usize, NameMap, foldhash::fast::FixedState>,
}

/// Why a rename could not be applied.
#[derive(Debug, PartialEq)]
pub struct UnknownCommand(pub String);

impl CommandTable {
    /// Builds the table; `renames` are `rename-command` pairs, an empty new name
    /// removing the command.
    pub fn new(renames: &[(String, String)]) -> Result<Self, UnknownCommand> {
        let mut table = CommandTable {
            by_name: NameMap::default(),
            specs: Vec::new(),
            full_names: Vec::new(),
            subs: HashMap::default(),
        };
        for family in families() {
            for spec in family.iter() {
                let id = table.add(spec, spec.name.to_string());
                table.by_name.insert(spec.name.as_bytes().to_vec(), id);
                if !spec.subcommands.is_empty() {
                    let mut subs = NameMap::default();
                    for sub in spec.subcommands {
                        let sub_id = table.add(sub, format!("{}|{}", spec.name, sub.name));
                        subs.insert(sub.name.as_bytes().to_vec(), sub_id);
                    }
                    table.subs.insert(id, subs);
                }
            }
        }
        for (from, to) in renames {
            let id = table
                .by_name
                .remove(from.to_ascii_lowercase().as_bytes())
                .ok_or_else(|| UnknownCommand(from.clone()))?;
            if !to.is_empty() {
                table
                    .by_name
                    .insert(to.to_ascii_lowercase().into_bytes(), id);
            }
        }
        Ok(table)
    }

    fn add(&mut self, spec: &'static CommandSpec, full_name: String) -> usize {
        self.specs.push(spec);
        self.full_names.push(full_name);
        self.specs.len() - 1
    }

    /// Finds a command, descending into a container's subcommand when `sub` is
    /// given and names one. A container whose subcommand is unknown returns the
    /// container itself, whose handler-less spec makes the caller report it.
    pub fn lookup(&self, name: &[u8], sub: Option<&[u8]>) -> Option<(usize, &'static CommandSpec)> {
        let id = *with_lowercase(name, |n| self.by_name.get(n))?;
        let spec = self.specs[id];
        if let Some(sub) = sub.filter(|_| !spec.subcommands.is_empty()) {
            if let Some(&sub_id) = with_lowercase(sub, |s| self.subs.get(&id)?.get(s)) {
                return Some((sub_id, self.specs[sub_id]));
            }
        }
        Some((id, spec))
    }

    /// Top-level lookup only (COMMAND INFO, ACL rules).
    pub fn get(&self, name: &[u8]) -> Option<(usize, &'static CommandSpec)> {
        let id = *with_lowercase(name, |n| self.by_name.get(n))?;
        Some((id, self.specs[id]))
    }

    pub fn full_name(&self, id: usize) -> &str {
        &self.full_names[id]
    }

    pub fn spec(&self, id: usize) -> &'static CommandSpec {
        self.specs[id]
    }

    /// Number of ids (commands plus subcommands).
    pub fn ids(&self) -> usize {
        self.specs.len()
    }

    /// Visible top-level commands with their current names.
    pub fn top_level(&self) -> impl Iterator<Item = (&[u8], usize, &'static CommandSpec)> {
        self.by_name
            .iter()
            .map(|(n, &id)| (n.as_slice(), id, self.specs[id]))
    }

    pub fn subcommand_ids(&self, id: usize) -> Vec<usize> {
        let mut ids: Vec<usize> = self
            .subs
            .get(&id)
            .map(|m| m.values().copied().collect())
            .unwrap_or_default();
        ids.sort_unstable();
        ids
    }
}

/// Lower-cases a command name into a stack buffer (names are short) and
/// passes it to `f`; long names take the slow path.
fn with_lowercase<R>(name: &[u8], f: impl FnOnce(&[u8]) -> R) -> R {
    let mut buf = [0u8; 32];
    if name.len() <= buf.len() {
        for (d, s) in buf.iter_mut().zip(name) {
            *d = s.to_ascii_lowercase();
        }
        f(&buf[..name.len()])
    } else {
        f(&name.to_ascii_lowercase())
    }
}
