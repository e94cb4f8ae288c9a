//! Reading redis.conf: one directive per line, arguments split with Redis's
//! quoting rules, `include`, repeated directives, and command-line
//! `--directive value` options appended after the file, as redis-server
//! merges them (so they override it). Errors read exactly like Redis's.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::Config;
use super::directives;
use crate::protocol::parse::split_args;

/// Nested `include`s deeper than this are a loop.
const MAX_INCLUDE_DEPTH: usize = 16;

/// Redis's start-up error for a bad line.
pub fn fatal(line_no: usize, line: &str, why: &str) -> String {
    format!(
        "\n*** FATAL CONFIG FILE ERROR (Redis {}) ***\nReading the configuration file, at line {line_no}\n>>> '{line}'\n{why}",
        crate::REDIS_VERSION
    )
}

/// An I/O error's text without Rust's ` (os error N)` suffix, as strerror.
pub fn strerror(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(cut) => text[..cut].to_string(),
        None => text,
    }
}

pub fn read_file(path: &str) -> Result<String, String> {
    std::fs::read(path)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .map_err(|e| {
            format!(
                "Fatal error, can't open config file '{path}': {}",
                strerror(&e)
            )
        })
}

/// Turns `--name value ...` arguments into config lines, as redis-server
/// does: each `--name` starts a line, other arguments are quoted after it.
/// A bare `--save` means `save ""`. `-` alone asks for standard input.
pub fn options_text(args: &[String]) -> (String, bool) {
    let mut text = String::new();
    let mut from_stdin = false;
    for (i, arg) in args.iter().enumerate() {
        if arg == "-" {
            from_stdin = true;
        } else if let Some(name) = arg.strip_prefix("--") {
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(name);
            text.push(' ');
            let has_value = args.get(i + 1).is_some_and(|next| !next.starts_with("--"));
            if name.eq_ignore_ascii_case("save") && !has_value {
                text.push_str("\"\" ");
            }
        } else {
            text.push_str(&super::value::quote(arg));
            text.push(' ');
        }
    }
    (text, from_stdin)
}

/// Applies config text to a `Config`, line by line.
pub struct Loader<'c> {
    pub config: &'c mut Config,
    /// The first `save` line replaces the default; later ones add to it.
    save_seen: bool,
    depth: usize,
    /// Command names after the renames so far, built at the first rename.
    commands: Option<HashSet<String>>,
}

impl<'c> Loader<'c> {
    pub fn new(config: &'c mut Config) -> Self {
        Loader {
            config,
            save_seen: false,
            depth: 0,
            commands: None,
        }
    }

    pub fn load_text(&mut self, text: &str) -> Result<(), String> {
        for (i, raw) in text.split('\n').enumerate() {
            let line = raw.trim_matches(|c| matches!(c, ' ' | '\t' | '\r' | '\n'));
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let args = split_line(line)
                .ok_or_else(|| fatal(i + 1, line, "Unbalanced quotes in configuration line"))?;
            if args.is_empty() {
                continue;
            }
            self.directive(&args).map_err(|why| match why {
                LineError::Fatal(why) => fatal(i + 1, line, &why),
                LineError::Outer(message) => message,
            })?;
        }
        Ok(())
    }

    fn directive(&mut self, args: &[String]) -> Result<(), LineError> {
        let name = args[0].to_ascii_lowercase();
        if let Some(directive) = directives::find(&name) {
            return self.set(directive, &args[1..]).map_err(LineError::Fatal);
        }
        let bad = || LineError::Fatal("Bad directive or wrong number of arguments".into());
        match (name.as_str(), args.len()) {
            ("include", 2) => self.include(&args[1]),
            ("rename-command", 3) => self.rename(&args[1], &args[2]),
            ("user", n) if n >= 2 => {
                self.config.users.push(args[1..].to_vec());
                Ok(())
            }
            ("loadmodule", n) if n >= 2 => {
                self.config.modules.push(args[1..].to_vec());
                self.config.note_ignored("loadmodule");
                Ok(())
            }
            (other, n) if n >= 2 && directives::DEPRECATED.contains(&other) => {
                if let Some(&deprecated) = directives::DEPRECATED.iter().find(|d| **d == other) {
                    self.config.note_ignored(deprecated);
                }
                Ok(())
            }
            ("sentinel", _) => Err(LineError::Fatal(
                "sentinel directive while not in sentinel mode".into(),
            )),
            _ => Err(bad()),
        }
    }

    fn set(
        &mut self,
        directive: &'static directives::Directive,
        args: &[String],
    ) -> Result<(), String> {
        let kind = directive.kind;
        let count_ok = match kind {
            super::value::Kind::ReplicaOf => args.len() == 2,
            k if k.multi_arg() => true,
            _ => args.len() == 1,
        };
        if !count_ok {
            return Err("wrong number of arguments".into());
        }
        let value = args.join(" ");
        let current = self.config.get(directive);
        let mut canonical = kind.parse(&value, &current)?;
        if matches!(kind, super::value::Kind::Save) {
            if self.save_seen && !canonical.is_empty() && !current.is_empty() {
                canonical = format!("{current} {canonical}");
            }
            self.save_seen = true;
        }
        self.config.set(directive, &canonical);
        if !directive.implemented {
            self.config.note_ignored(directive.name);
        }
        Ok(())
    }

    /// Records a `rename-command`, refusing names that no longer exist.
    fn rename(&mut self, from: &str, to: &str) -> Result<(), LineError> {
        let names = self.commands.get_or_insert_with(|| {
            crate::cmd::table::families()
                .iter()
                .flat_map(|family| family.iter().map(|spec| spec.name.to_string()))
                .collect()
        });
        if !names.remove(&from.to_ascii_lowercase()) {
            return Err(LineError::Fatal("No such command in rename-command".into()));
        }
        if !to.is_empty() {
            names.insert(to.to_ascii_lowercase());
        }
        self.config.renames.push((from.to_string(), to.to_string()));
        Ok(())
    }

    /// `include` opens the path as given (relative to the working directory,
    /// as Redis does); a path with glob characters includes every match.
    fn include(&mut self, path: &str) -> Result<(), LineError> {
        if self.depth >= MAX_INCLUDE_DEPTH {
            return Err(LineError::Fatal("Too many nested includes".into()));
        }
        let files = if path.contains(['*', '?', '[']) {
            glob_files(path)
        } else {
            vec![PathBuf::from(path)]
        };
        for file in files {
            let text = read_file(&file.to_string_lossy()).map_err(LineError::Outer)?;
            self.depth += 1;
            let loaded = self.load_text(&text);
            self.depth -= 1;
            loaded.map_err(LineError::Outer)?;
        }
        Ok(())
    }
}

/// Why a line failed: its own error (reported with the line), or an error
/// from an included file, reported as it is.
enum LineError {
    Fatal(String),
    Outer(String),
}

/// Splits one line with Redis's quoting rules; `None` on unbalanced quotes.
pub fn split_line(line: &str) -> Option<Vec<String>> {
    let mut spans = Vec::new();
    let mut out = Vec::new();
    split_args(line.as_bytes(), &mut spans, &mut out).ok()?;
    Some(
        spans
            .iter()
            .map(|s| String::from_utf8_lossy(&out[s.start..s.end]).into_owned())
            .collect(),
    )
}

/// Files matching a glob in the last path component, sorted by name.
fn glob_files(pattern: &str) -> Vec<PathBuf> {
    let path = Path::new(pattern);
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let Some(file_pattern) = path.file_name() else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|entry| {
            crate::util::glob::glob_match(
                file_pattern.as_encoded_bytes(),
                entry.file_name().as_encoded_bytes(),
                false,
            )
        })
        .map(|entry| entry.path())
        .collect();
    files.sort();
    files
}
