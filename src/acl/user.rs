//! One ACL user: its flags, password hashes, allowed commands (a bit per
//! command-table id), key patterns and channel patterns; the rules that change
//! them (`ACL SETUSER`, `user` lines) and the texts that describe them
//! (`ACL LIST`, `ACL GETUSER`), worded and ordered as Redis 7.0 does.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use crate::cmd::{CommandSpec, CommandTable, flag};
use crate::util::glob::glob_match;

/// Key pattern permissions (`%R~`, `%W~`, `~` is both).
pub const READ: u8 = 1;
pub const WRITE: u8 = 2;

#[derive(Clone, Debug, PartialEq)]
pub struct KeyPattern {
    pub flags: u8,
    pub pattern: Vec<u8>,
}

/// `sanitize-payload` / `skip-sanitize-payload`: kept and shown, not acted on
/// (RESTORE payloads are not accepted by ferrokv).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Sanitize {
    Unset,
    Sanitize,
    Skip,
}

#[derive(Clone, Debug)]
pub struct User {
    pub name: String,
    pub enabled: bool,
    pub nopass: bool,
    pub sanitize: Sanitize,
    /// SHA-256 digests, in the order they were added.
    pub passwords: Vec<[u8; 32]>,
    /// One bit per command-table id.
    allowed: Vec<u64>,
    /// Every command allowed (the fast path); cleared by any removal.
    all_commands: bool,
    /// Set by `+@all` and cleared by `-@all` only: whether commands added
    /// later would be allowed, which decides if the description starts with
    /// `+@all` or `-@all`.
    future_commands: bool,
    /// First arguments allowed for a command that is otherwise denied
    /// (`+select|0`), by id.
    first_args: BTreeMap<usize, Vec<Vec<u8>>>,
    pub all_keys: bool,
    pub keys: Vec<KeyPattern>,
    pub all_channels: bool,
    pub channels: Vec<Vec<u8>>,
}

/// Why a rule was refused, as the text after `ERR Error in ACL SETUSER
/// modifier '...': `.
pub type RuleError = &'static str;

pub const UNKNOWN_COMMAND: RuleError = "Unknown command or category name in ACL";
pub const SYNTAX: RuleError = "Syntax error";

/// SHA-256 of a password, the only form in which passwords are kept.
pub fn hash_password(password: &[u8]) -> [u8; 32] {
    Sha256::digest(password).into()
}

pub fn hex(digest: &[u8; 32]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// `#<hash>`: exactly 64 lower-case hex digits.
fn parse_hex(text: &[u8]) -> Option<[u8; 32]> {
    if text.len() != 64 || !text.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in text.chunks(2).enumerate() {
        let s = std::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(s, 16).ok()?;
    }
    Some(out)
}

/// Compares two digests without an early exit.
fn digest_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let mut diff = 0u8;
    for i in 0..32 {
        diff |= a[i] ^ b[i];
    }
    std::hint::black_box(diff) == 0
}

impl User {
    /// A user as `ACL SETUSER` creates it: off, no passwords, no commands,
    /// no keys, channels per `acl-pubsub-default`.
    pub fn new(name: &str, table: &CommandTable, all_channels: bool) -> User {
        User {
            name: name.to_string(),
            enabled: false,
            nopass: false,
            sanitize: Sanitize::Unset,
            passwords: Vec::new(),
            allowed: vec![0; table.ids().div_ceil(64)],
            all_commands: false,
            future_commands: false,
            first_args: BTreeMap::new(),
            all_keys: false,
            keys: Vec::new(),
            all_channels,
            channels: Vec::new(),
        }
    }

    /// The `default` user of a fresh server: `on nopass ~* &* +@all`.
    pub fn default_user(table: &CommandTable) -> User {
        let mut user = User::new("default", table, true);
        for rule in ["on", "nopass", "~*", "&*", "+@all"] {
            user.apply(rule.as_bytes(), table, true)
                .expect("default rules");
        }
        user
    }

    /// Everything allowed: the gate skips the per-command checks.
    pub fn unrestricted(&self) -> bool {
        self.all_commands && self.all_keys && self.all_channels
    }

    /// Constant-time password check: the password's digest is compared with
    /// every stored digest, without stopping at the first match.
    pub fn password_ok(&self, password: &[u8]) -> bool {
        if self.nopass {
            return true;
        }
        let digest = hash_password(password);
        let mut ok = false;
        for stored in &self.passwords {
            ok |= digest_eq(stored, &digest);
        }
        ok
    }

    fn bit(&self, id: usize) -> bool {
        self.allowed
            .get(id / 64)
            .is_some_and(|w| w & (1 << (id % 64)) != 0)
    }

    fn set_bit(&mut self, id: usize, on: bool) {
        if let Some(w) = self.allowed.get_mut(id / 64) {
            if on {
                *w |= 1 << (id % 64);
            } else {
                *w &= !(1 << (id % 64));
            }
        }
        if !on {
            self.all_commands = false;
        }
    }

    /// Allows or denies a command and, for a container, all its subcommands.
    fn change_perm(&mut self, table: &CommandTable, id: usize, allow: bool) {
        self.set_bit(id, allow);
        self.first_args.remove(&id);
        for sub in table.subcommand_ids(id) {
            self.set_bit(sub, allow);
        }
    }

    /// `+@cat` / `-@cat` over every command and subcommand in the category.
    fn change_category(&mut self, table: &CommandTable, category: u64, allow: bool) {
        for (_, id, spec) in original_commands(table) {
            if spec.acl_categories() & category != 0 {
                self.change_perm(table, id, allow);
            }
            for sub in table.subcommand_ids(id) {
                if table.spec(sub).acl_categories() & category != 0 {
                    self.change_perm(table, sub, allow);
                }
            }
        }
    }

    /// Whether the user may run command `id` with these arguments (command
    /// rules only; keys and channels are checked separately).
    pub fn may_run(&self, id: usize, spec: &CommandSpec, first_arg: Option<&[u8]>) -> bool {
        if self.all_commands || spec.flags & flag::NO_AUTH != 0 || self.bit(id) {
            return true;
        }
        match (self.first_args.get(&id), first_arg) {
            (Some(allowed), Some(arg)) => allowed.iter().any(|a| a.eq_ignore_ascii_case(arg)),
            _ => false,
        }
    }

    /// Whether a key may be used with the given `READ`/`WRITE` needs.
    pub fn may_access_key(&self, key: &[u8], needs: u8) -> bool {
        self.all_keys
            || self
                .keys
                .iter()
                .any(|p| p.flags & needs == needs && glob_match(&p.pattern, key, false))
    }

    /// Channels are matched against the patterns; a subscription pattern
    /// (`literal`) must equal one of them.
    pub fn may_access_channel(&self, channel: &[u8], literal: bool) -> bool {
        self.all_channels
            || self.channels.iter().any(|p| {
                if literal {
                    p == channel
                } else {
                    glob_match(p, channel, false)
                }
            })
    }

    /// Applies one rule. `allchannels_default` is `acl-pubsub-default` (for
    /// `reset`).
    pub fn apply(
        &mut self,
        rule: &[u8],
        table: &CommandTable,
        allchannels_default: bool,
    ) -> Result<(), RuleError> {
        let lower = rule.to_ascii_lowercase();
        match lower.as_slice() {
            b"" => return Ok(()),
            b"on" => self.enabled = true,
            b"off" => self.enabled = false,
            b"skip-sanitize-payload" => self.sanitize = Sanitize::Skip,
            b"sanitize-payload" => self.sanitize = Sanitize::Sanitize,
            b"nopass" => {
                self.nopass = true;
                self.passwords.clear();
            }
            b"resetpass" => {
                self.nopass = false;
                self.passwords.clear();
            }
            b"allkeys" => {
                self.all_keys = true;
                self.keys.clear();
            }
            b"resetkeys" => {
                self.all_keys = false;
                self.keys.clear();
            }
            b"allchannels" => {
                self.all_channels = true;
                self.channels.clear();
            }
            b"resetchannels" => {
                self.all_channels = false;
                self.channels.clear();
            }
            b"allcommands" | b"+@all" => {
                self.allowed.iter_mut().for_each(|w| *w = u64::MAX);
                self.all_commands = true;
                self.future_commands = true;
                self.first_args.clear();
            }
            b"nocommands" | b"-@all" => {
                self.allowed.iter_mut().for_each(|w| *w = 0);
                self.all_commands = false;
                self.future_commands = false;
                self.first_args.clear();
            }
            b"reset" => {
                for r in ["resetpass", "resetkeys", "resetchannels"] {
                    self.apply(r.as_bytes(), table, allchannels_default)?;
                }
                if allchannels_default {
                    self.apply(b"allchannels", table, allchannels_default)?;
                }
                for r in ["off", "sanitize-payload", "-@all"] {
                    self.apply(r.as_bytes(), table, allchannels_default)?;
                }
            }
            b"clearselectors" => {}
            _ => return self.apply_prefixed(rule, table),
        }
        Ok(())
    }

    fn apply_prefixed(&mut self, rule: &[u8], table: &CommandTable) -> Result<(), RuleError> {
        let (first, rest) = (rule[0], &rule[1..]);
        match first {
            b'>' | b'#' => {
                let digest = if first == b'>' {
                    hash_password(rest)
                } else {
                    parse_hex(rest).ok_or(BAD_HASH)?
                };
                if !self.passwords.contains(&digest) {
                    self.passwords.push(digest);
                }
                self.nopass = false;
            }
            b'<' | b'!' => {
                let digest = if first == b'<' {
                    hash_password(rest)
                } else {
                    parse_hex(rest).ok_or(BAD_HASH)?
                };
                let at =
                    self.passwords.iter().position(|p| *p == digest).ok_or(
                        "The password you are trying to remove from the user does not exist",
                    )?;
                self.passwords.remove(at);
            }
            b'~' | b'%' => {
                let (flags, pattern) = if first == b'~' {
                    (READ | WRITE, rest)
                } else {
                    // Without `~` the pattern is empty (`%R` is `%R~`), as in Redis.
                    let tilde = rest.iter().position(|&c| c == b'~').unwrap_or(rest.len());
                    let mut flags = 0;
                    for &c in &rest[..tilde] {
                        flags |= match c.to_ascii_uppercase() {
                            b'R' => READ,
                            b'W' => WRITE,
                            _ => return Err(SYNTAX),
                        };
                    }
                    if flags == 0 {
                        return Err(SYNTAX);
                    }
                    (flags, rest.get(tilde + 1..).unwrap_or_default())
                };
                if pattern == b"*" && flags == READ | WRITE {
                    self.all_keys = true;
                    self.keys.clear();
                } else if self.all_keys {
                    return Err(
                        "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns",
                    );
                } else if let Some(p) = self.keys.iter_mut().find(|p| p.pattern == pattern) {
                    p.flags |= flags;
                } else {
                    self.keys.push(KeyPattern {
                        flags,
                        pattern: pattern.to_vec(),
                    });
                }
            }
            b'&' => {
                if rest == b"*" {
                    self.all_channels = true;
                    self.channels.clear();
                } else if self.all_channels {
                    return Err(
                        "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels",
                    );
                } else if !self.channels.iter().any(|c| c == rest) {
                    self.channels.push(rest.to_vec());
                }
            }
            b'+' | b'-' => {
                let allow = first == b'+';
                if let Some(category) = rest.strip_prefix(b"@") {
                    let bit = category_bit(category).ok_or(UNKNOWN_COMMAND)?;
                    self.change_category(table, bit, allow);
                } else {
                    self.command_rule(rest, allow, table)?;
                }
            }
            _ => return Err(SYNTAX),
        }
        Ok(())
    }

    /// `+cmd`, `-cmd`, `+container|sub`, `-container|sub`, `+cmd|firstarg`.
    fn command_rule(
        &mut self,
        rule: &[u8],
        allow: bool,
        table: &CommandTable,
    ) -> Result<(), RuleError> {
        let Some(bar) = rule.iter().position(|&c| c == b'|') else {
            let id = original(table, rule).ok_or(UNKNOWN_COMMAND)?;
            self.change_perm(table, id, allow);
            return Ok(());
        };
        let (name, sub) = (&rule[..bar], &rule[bar + 1..]);
        let id = original(table, name).ok_or(UNKNOWN_COMMAND)?;
        if sub.contains(&b'|') {
            return Err(UNKNOWN_COMMAND);
        }
        let subs = table.subcommand_ids(id);
        if !subs.is_empty() {
            let sub_id = subs
                .into_iter()
                .find(|&s| {
                    table
                        .full_name(s)
                        .rsplit('|')
                        .next()
                        .is_some_and(|n| n.as_bytes().eq_ignore_ascii_case(sub))
                })
                .ok_or(UNKNOWN_COMMAND)?;
            self.change_perm(table, sub_id, allow);
            return Ok(());
        }
        if !allow {
            return Err(SYNTAX);
        }
        // A first argument of a command without subcommands (`+select|0`).
        let list = self.first_args.entry(id).or_default();
        if !list.iter().any(|a| a.eq_ignore_ascii_case(sub)) {
            list.push(sub.to_ascii_lowercase());
        }
        Ok(())
    }

    /// Flags as `ACL GETUSER` and `ACL LIST` name them.
    pub fn flag_names(&self) -> Vec<&'static str> {
        let mut flags = vec![if self.enabled { "on" } else { "off" }];
        if self.nopass {
            flags.push("nopass");
        }
        match self.sanitize {
            Sanitize::Skip => flags.push("skip-sanitize-payload"),
            Sanitize::Sanitize => flags.push("sanitize-payload"),
            Sanitize::Unset => {}
        }
        flags
    }

    /// Key patterns as `ACL GETUSER` shows them (`~*` for allkeys).
    pub fn keys_text(&self) -> String {
        if self.all_keys {
            return "~*".into();
        }
        let parts: Vec<String> = self.keys.iter().map(pattern_text).collect();
        parts.join(" ")
    }

    /// Channel patterns as `ACL GETUSER` shows them.
    pub fn channels_text(&self) -> String {
        if self.all_channels {
            return "&*".into();
        }
        let parts: Vec<String> = self
            .channels
            .iter()
            .map(|c| format!("&{}", String::from_utf8_lossy(c)))
            .collect();
        parts.join(" ")
    }

    /// The command rules, rebuilt from the permission bits as Redis does:
    /// `+@all` or `-@all`, then the categories that fit best, then single
    /// commands and first arguments for what remains different.
    pub fn commands_text(&self, table: &CommandTable) -> String {
        let additive = !self.future_commands;
        let mut rules = String::from(if additive { "-@all" } else { "+@all" });
        let mut fake = User::new("", table, false);
        let base: &[u8] = if additive { b"-@all" } else { b"+@all" };
        fake.apply(base, table, false).expect("base rule");
        // What is still to be explained: starts as the user's bits.
        let mut temp = self.clone();
        let mut applied = vec![false; crate::cmd::spec::acl::NAMES.len()];
        loop {
            let mut best = None;
            let (mut min_diff, mut max_same) = (usize::MAX, 0);
            for (j, &(bit, _)) in crate::cmd::spec::acl::NAMES.iter().enumerate() {
                if applied[j] {
                    continue;
                }
                let (on, off) = temp.count_category(table, bit);
                let (diff, same) = if additive { (off, on) } else { (on, off) };
                if same > diff && (diff < min_diff || (diff == min_diff && same > max_same)) {
                    best = Some(j);
                    min_diff = diff;
                    max_same = same;
                }
            }
            let Some(j) = best else { break };
            let (bit, name) = crate::cmd::spec::acl::NAMES[j];
            fake.change_category(table, bit, additive);
            temp.change_category(table, bit, !additive);
            rules.push_str(if additive { " +@" } else { " -@" });
            rules.push_str(name);
            applied[j] = true;
        }
        for (_, id, _) in original_commands(table) {
            self.describe_single(table, &mut fake, id, &mut rules);
            for sub in table.subcommand_ids(id) {
                self.describe_single(table, &mut fake, sub, &mut rules);
            }
        }
        rules
    }

    fn describe_single(
        &self,
        table: &CommandTable,
        fake: &mut User,
        id: usize,
        rules: &mut String,
    ) {
        let bit = self.bit(id);
        if bit != fake.bit(id) {
            rules.push_str(if bit { " +" } else { " -" });
            rules.push_str(table.full_name(id));
            fake.change_perm(table, id, bit);
        }
        if !bit && let Some(args) = self.first_args.get(&id) {
            for arg in args {
                rules.push_str(&format!(
                    " +{}|{}",
                    table.full_name(id),
                    String::from_utf8_lossy(arg)
                ));
            }
        }
    }

    fn count_category(&self, table: &CommandTable, category: u64) -> (usize, usize) {
        let (mut on, mut off) = (0, 0);
        for (_, id, spec) in original_commands(table) {
            let ids = std::iter::once((id, spec)).chain(
                table
                    .subcommand_ids(id)
                    .into_iter()
                    .map(|s| (s, table.spec(s))),
            );
            for (id, spec) in ids {
                if spec.acl_categories() & category != 0 {
                    if self.bit(id) {
                        on += 1;
                    } else {
                        off += 1;
                    }
                }
            }
        }
        (on, off)
    }

    /// The `ACL LIST` / aclfile line: `user <name> <flags> <#hashes> <keys>
    /// <channels> <commands>`.
    pub fn describe(&self, table: &CommandTable) -> String {
        let mut out = format!("user {}", self.name);
        for flag in self.flag_names() {
            out.push(' ');
            out.push_str(flag);
        }
        for p in &self.passwords {
            out.push_str(" #");
            out.push_str(&hex(p));
        }
        if self.all_keys {
            out.push_str(" ~*");
        } else {
            for p in &self.keys {
                out.push(' ');
                out.push_str(&pattern_text(p));
            }
        }
        if self.all_channels {
            out.push_str(" &*");
        } else {
            out.push_str(" resetchannels");
            for c in &self.channels {
                out.push_str(" &");
                out.push_str(&String::from_utf8_lossy(c));
            }
        }
        out.push(' ');
        out.push_str(&self.commands_text(table));
        out
    }
}

const BAD_HASH: RuleError = "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters";

fn pattern_text(p: &KeyPattern) -> String {
    let prefix = match p.flags {
        READ => "%R~",
        WRITE => "%W~",
        _ => "~",
    };
    format!("{prefix}{}", String::from_utf8_lossy(&p.pattern))
}

/// A category's bit by name (case-insensitive), `ACL CAT` names.
pub fn category_bit(name: &[u8]) -> Option<u64> {
    crate::cmd::spec::acl::NAMES
        .iter()
        .find(|(_, n)| n.as_bytes().eq_ignore_ascii_case(name))
        .map(|&(bit, _)| bit)
}

/// Top-level commands in id order under their original names: ACL rules,
/// categories and ACL CAT ignore `rename-command`, as in Redis.
pub fn original_commands(table: &CommandTable) -> Vec<(&str, usize, &'static CommandSpec)> {
    (0..table.ids())
        .map(|id| (table.full_name(id), id))
        .filter(|(name, _)| !name.contains('|'))
        .map(|(name, id)| (name, id, table.spec(id)))
        .collect()
}

/// A top-level command by its original name.
fn original(table: &CommandTable, name: &[u8]) -> Option<usize> {
    original_commands(table)
        .into_iter()
        .find(|(n, _, _)| n.as_bytes().eq_ignore_ascii_case(name))
        .map(|(_, id, _)| id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> CommandTable {
        CommandTable::new(&[]).unwrap()
    }

    fn user(rules: &[&str]) -> (User, CommandTable) {
        let t = table();
        let mut u = User::new("u", &t, false);
        for r in rules {
            u.apply(r.as_bytes(), &t, false).unwrap();
        }
        (u, t)
    }

    #[test]
    fn default_user_describes_like_redis() {
        let t = table();
        assert_eq!(
            User::default_user(&t).describe(&t),
            "user default on nopass ~* &* +@all"
        );
        assert_eq!(
            User::new("alice", &t, false).describe(&t),
            "user alice off resetchannels -@all"
        );
    }

    #[test]
    fn rules_compose_like_redis() {
        let (u, t) = user(&["+@all", "-get", "+get|x"]);
        assert_eq!(u.commands_text(&t), "+@all -get +get|x");
        let (u, t) = user(&["+config|get"]);
        assert_eq!(u.commands_text(&t), "-@all +config|get");
        let (u, t) = user(&["+@read", "-@all", "+set"]);
        assert_eq!(u.commands_text(&t), "-@all +set");
    }

    #[test]
    fn passwords_and_patterns() {
        let (u, _) = user(&["on", ">p1", "%R~r*", "%W~w*", "~b", "%W~b"]);
        assert!(u.password_ok(b"p1"));
        assert!(!u.password_ok(b"p2"));
        assert!(u.may_access_key(b"r1", READ));
        assert!(!u.may_access_key(b"r1", WRITE));
        assert!(u.may_access_key(b"w1", WRITE));
        assert!(u.may_access_key(b"b", READ | WRITE));
        assert_eq!(u.keys_text(), "%R~r* %W~w* ~b");
        let t = table();
        let mut u = u;
        assert_eq!(u.apply(b"#ABC", &t, false), Err(BAD_HASH));
        assert_eq!(u.apply(b"%~x", &t, false), Err(SYNTAX));
        assert_eq!(u.apply(b"+nosuch", &t, false), Err(UNKNOWN_COMMAND));
        assert_eq!(u.apply(b"+config|nosuch", &t, false), Err(UNKNOWN_COMMAND));
        assert!(u.apply(b"<nope", &t, false).is_err());
        u.apply(b"<p1", &t, false).unwrap();
        assert!(!u.password_ok(b"p1"));
    }
}
