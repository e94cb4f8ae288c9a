//! Values of directives: what each kind accepts, its canonical text (what
//! CONFIG GET shows), and how CONFIG REWRITE writes it back, with Redis's
//! error texts.
//!
//! Every value is validated once into a canonical string; typed `Config`
//! fields are then filled from that string, so a value that passed here can
//! always be stored.

use crate::protocol::parse::parse_i64;

/// What a directive accepts.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    /// `yes` or `no`.
    Bool,
    /// A plain integer within bounds (no units).
    Int(i64, i64),
    /// A byte count with optional units, within signed bounds.
    Memory(i64, i64),
    /// A byte count with optional units, 0..=u64::MAX.
    UMemory,
    /// An octal number up to the bound (`unixsocketperm`).
    Octal(i64),
    /// One word out of a list, case-insensitive.
    Enum(&'static [&'static str]),
    /// Several words out of a list (`shutdown-on-sigterm nosave now`).
    Flags(&'static [&'static str]),
    /// Free text.
    Str,
    /// `save <seconds> <changes> ...`.
    Save,
    /// `bind <addr> ...`.
    Bind,
    /// `client-output-buffer-limit <class> <hard> <soft> <seconds> ...`.
    ClientOutputBufferLimit,
    /// Keyspace notification classes (`KEA`).
    NotifyEvents,
    /// Three OOM score adjustments.
    OomScoreAdjValues,
    /// Latency percentiles for INFO.
    Percentiles,
    /// A byte count or a percentage of maxmemory.
    MaxmemoryClients,
    /// `replicaof <host> <port>` or `no one`.
    ReplicaOf,
}

pub const NO_YES_LOCAL: &[&str] = &["no", "yes", "local"];
pub const SHUTDOWN_FLAGS: &[&str] = &["default", "save", "nosave", "now", "force"];

/// Notification classes in the order Redis prints them; `A` stands for the
/// first ten together.
const NOTIFY_CLASSES: &str = "g$lshzxetdnKEm";
const NOTIFY_ALL: &str = "g$lshzxetd";

const INT_ERR: &str = "argument couldn't be parsed into an integer";
const MEM_ERR: &str = "argument must be a memory value";
const COBL_CLASS_ERR: &str = "Invalid client class specified in buffer limit configuration.";
const COBL_ARGS_ERR: &str = "Wrong number of arguments in buffer limit configuration.";
const COBL_VALUE_ERR: &str =
    "Error in hard, soft or soft_seconds setting in buffer limit configuration.";

impl Kind {
    /// Kinds whose file form takes several arguments, joined with spaces
    /// into one value (as CONFIG SET receives it).
    pub fn multi_arg(self) -> bool {
        matches!(
            self,
            Kind::Flags(_)
                | Kind::Save
                | Kind::Bind
                | Kind::ClientOutputBufferLimit
                | Kind::OomScoreAdjValues
                | Kind::Percentiles
        )
    }

    /// Validates `value` into its canonical text. `current` is the value it
    /// replaces (a partial `client-output-buffer-limit` keeps other classes).
    pub fn parse(self, value: &str, current: &str) -> Result<String, String> {
        match self {
            Kind::Bool => match value.to_ascii_lowercase().as_str() {
                v @ ("yes" | "no") => Ok(v.to_string()),
                _ => Err("argument must be 'yes' or 'no'".into()),
            },
            Kind::Int(min, max) => {
                let n = parse_i64(value.as_bytes()).ok_or(INT_ERR)?;
                check_range(n, min, max)
            }
            Kind::Memory(min, max) => match parse_memory(value) {
                Some(n) if n > i64::MAX as u64 => Err(range_err(min, max)),
                Some(n) => check_range(n as i64, min, max),
                None => Err(MEM_ERR.into()),
            },
            Kind::UMemory => parse_memory(value)
                .map(|n| n.to_string())
                .ok_or_else(|| MEM_ERR.into()),
            Kind::Octal(max) => {
                let n = i64::from_str_radix(value, 8)
                    .map_err(|_| "argument couldn't be parsed as an octal number")?;
                if n < 0 || n > max {
                    return Err(format!("argument must be between 0 and {max:o} inclusive"));
                }
                Ok(format!("{n:o}"))
            }
            Kind::Enum(names) => names
                .iter()
                .find(|n| n.eq_ignore_ascii_case(value))
                .map(|n| n.to_string())
                .ok_or_else(|| enum_err(names)),
            Kind::Flags(names) => parse_flags(names, value),
            Kind::Str => Ok(value.to_string()),
            Kind::Save => parse_save(value),
            Kind::Bind => Ok(words(value).join(" ")),
            Kind::ClientOutputBufferLimit => parse_output_limits(value, current),
            Kind::NotifyEvents => parse_notify(value),
            Kind::OomScoreAdjValues => parse_oom_values(value),
            Kind::Percentiles => parse_percentiles(value),
            Kind::MaxmemoryClients => parse_maxmemory_clients(value),
            Kind::ReplicaOf => parse_replicaof(value),
        }
    }

    /// What CONFIG GET shows for a canonical value.
    pub fn display(self, canonical: &str) -> String {
        match self {
            Kind::NotifyEvents => display_notify(canonical),
            _ => canonical.to_string(),
        }
    }

    /// The arguments CONFIG REWRITE writes after the name, one entry per
    /// line (several for `save`; none when a `replicaof` is unset).
    pub fn file_lines(self, canonical: &str) -> Vec<String> {
        match self {
            Kind::Memory(..) | Kind::UMemory => vec![memory_with_unit(canonical)],
            Kind::Str => vec![quote(canonical)],
            Kind::NotifyEvents => vec![quote(&display_notify(canonical))],
            Kind::Save if canonical.is_empty() => vec!["\"\"".into()],
            Kind::Save => words(canonical)
                .chunks(2)
                .map(|pair| pair.join(" "))
                .collect(),
            Kind::ReplicaOf if canonical.is_empty() => Vec::new(),
            Kind::ClientOutputBufferLimit => rewrite_output_limits(canonical),
            Kind::MaxmemoryClients if !canonical.ends_with('%') => {
                vec![memory_with_unit(canonical)]
            }
            _ => vec![canonical.to_string()],
        }
    }
}

fn words(value: &str) -> Vec<&str> {
    value.split(' ').filter(|w| !w.is_empty()).collect()
}

fn range_err(min: i64, max: i64) -> String {
    format!("argument must be between {min} and {max} inclusive")
}

fn check_range(n: i64, min: i64, max: i64) -> Result<String, String> {
    if n < min || n > max {
        return Err(range_err(min, max));
    }
    Ok(n.to_string())
}

fn enum_err(names: &[&str]) -> String {
    format!(
        "argument(s) must be one of the following: {}",
        names.join(", ")
    )
}

/// `1k`=1000, `1kb`=1024, `m`/`mb`, `g`/`gb`, `b`, any case; digits only
/// before the unit. An empty value is 0, as in Redis.
pub fn parse_memory(value: &str) -> Option<u64> {
    let split = value
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(value.len());
    let (digits, unit) = value.split_at(split);
    let multiplier: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    if digits.is_empty() {
        return unit.is_empty().then_some(0);
    }
    digits.parse::<u64>().ok()?.checked_mul(multiplier)
}

/// Bytes as CONFIG REWRITE writes them: the largest exact binary unit.
fn memory_with_unit(canonical: &str) -> String {
    let Ok(n) = canonical.parse::<u64>() else {
        return canonical.to_string();
    };
    const GB: u64 = 1 << 30;
    const MB: u64 = 1 << 20;
    const KB: u64 = 1 << 10;
    match n {
        0 => "0".into(),
        n if n % GB == 0 => format!("{}gb", n / GB),
        n if n % MB == 0 => format!("{}mb", n / MB),
        n if n % KB == 0 => format!("{}kb", n / KB),
        n => n.to_string(),
    }
}

/// Quotes text the way Redis writes strings into a config file: in double
/// quotes, escaping quotes, backslashes and non-printable bytes.
pub fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for &b in text.as_bytes() {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x07 => out.push_str("\\a"),
            0x08 => out.push_str("\\b"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('"');
    out
}

fn parse_flags(names: &[&str], value: &str) -> Result<String, String> {
    let given = words(value);
    let mut chosen = vec![false; names.len()];
    if given.is_empty() {
        return Err(enum_err(names));
    }
    for word in given {
        let i = names
            .iter()
            .position(|n| n.eq_ignore_ascii_case(word))
            .ok_or_else(|| enum_err(names))?;
        chosen[i] = true;
    }
    // The first name stands for "no flag" and only shows when nothing else is set.
    let set: Vec<&str> = names
        .iter()
        .zip(&chosen)
        .skip(1)
        .filter(|(_, on)| **on)
        .map(|(n, _)| *n)
        .collect();
    Ok(if set.is_empty() {
        names[0].to_string()
    } else {
        set.join(" ")
    })
}

fn parse_save(value: &str) -> Result<String, String> {
    let params = words(value);
    let valid = params.len() % 2 == 0
        && params
            .iter()
            .all(|p| parse_i64(p.as_bytes()).is_some_and(|n| n >= 0));
    if !valid {
        return Err("Invalid save parameters".into());
    }
    Ok(params.join(" "))
}

/// Client classes in display order, with the names each accepts.
const OUTPUT_CLASSES: [(&str, &[&str]); 3] = [
    ("normal", &["normal"]),
    ("slave", &["slave", "replica"]),
    ("pubsub", &["pubsub"]),
];

fn parse_output_limits(value: &str, current: &str) -> Result<String, String> {
    let given = words(value);
    if given.is_empty() || given.len() % 4 != 0 {
        return Err(COBL_ARGS_ERR.into());
    }
    let mut limits: Vec<[u64; 3]> = output_limits(current);
    for group in given.chunks(4) {
        let class = OUTPUT_CLASSES
            .iter()
            .position(|(_, names)| names.iter().any(|n| n.eq_ignore_ascii_case(group[0])))
            .ok_or(COBL_CLASS_ERR)?;
        let hard = parse_memory(group[1]).ok_or(COBL_VALUE_ERR)?;
        let soft = parse_memory(group[2]).ok_or(COBL_VALUE_ERR)?;
        let secs = parse_i64(group[3].as_bytes())
            .filter(|&s| s >= 0)
            .ok_or(COBL_VALUE_ERR)?;
        limits[class] = [hard, soft, secs as u64];
    }
    Ok(format_output_limits(&limits))
}

/// The three classes' `[hard, soft, seconds]` from a canonical value.
fn output_limits(canonical: &str) -> Vec<[u64; 3]> {
    let numbers: Vec<u64> = words(canonical)
        .iter()
        .filter_map(|w| w.parse().ok())
        .collect();
    let mut limits = vec![[0u64; 3]; 3];
    for (i, chunk) in numbers.chunks(3).take(3).enumerate() {
        if chunk.len() == 3 {
            limits[i] = [chunk[0], chunk[1], chunk[2]];
        }
    }
    limits
}

fn format_output_limits(limits: &[[u64; 3]]) -> String {
    OUTPUT_CLASSES
        .iter()
        .zip(limits)
        .map(|((name, _), [h, s, t])| format!("{name} {h} {s} {t}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// One line per class that differs from Redis's default, as Redis rewrites it.
fn rewrite_output_limits(canonical: &str) -> Vec<String> {
    let defaults =
        output_limits("normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60");
    let names = ["normal", "replica", "pubsub"];
    output_limits(canonical)
        .iter()
        .zip(&defaults)
        .zip(names)
        .filter(|((now, default), _)| now != default)
        .map(|(([h, s, t], _), name)| {
            format!(
                "{name} {} {} {t}",
                memory_with_unit(&h.to_string()),
                memory_with_unit(&s.to_string())
            )
        })
        .collect()
}

/// Canonical form: the classes that are on, in [`NOTIFY_CLASSES`] order.
fn parse_notify(value: &str) -> Result<String, String> {
    let mut on = [false; NOTIFY_CLASSES.len()];
    for c in value.chars() {
        let classes = if c == 'A' {
            NOTIFY_ALL.to_string()
        } else if NOTIFY_CLASSES.contains(c) {
            c.to_string()
        } else {
            return Err("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".into());
        };
        for class in classes.chars() {
            if let Some(i) = NOTIFY_CLASSES.find(class) {
                on[i] = true;
            }
        }
    }
    Ok(NOTIFY_CLASSES
        .chars()
        .zip(on)
        .filter(|(_, on)| *on)
        .map(|(c, _)| c)
        .collect())
}

/// Redis prints `A` for the ten classes it stands for, and then leaves out
/// `n` (a quirk kept for identical output).
fn display_notify(canonical: &str) -> String {
    let all = NOTIFY_ALL.chars().all(|c| canonical.contains(c));
    let mut out = String::new();
    if all {
        out.push('A');
    } else {
        out.extend(canonical.chars().filter(|c| "g$lshzxetdn".contains(*c)));
    }
    out.extend(canonical.chars().filter(|c| "KE".contains(*c)));
    out.extend(canonical.chars().filter(|&c| c == 'm'));
    out
}

fn parse_oom_values(value: &str) -> Result<String, String> {
    let given = words(value);
    if given.len() != 3 {
        return Err("wrong number of arguments".into());
    }
    let mut values = Vec::with_capacity(3);
    for word in given {
        match parse_i64(word.as_bytes()) {
            Some(n) if (-2000..=2000).contains(&n) => values.push(n.to_string()),
            _ => {
                return Err(
                    "Invalid oom-score-adj-values, elements must be between -2000 and 2000.".into(),
                );
            }
        }
    }
    Ok(values.join(" "))
}

fn parse_percentiles(value: &str) -> Result<String, String> {
    let mut out = Vec::new();
    for word in words(value) {
        let p: f64 = word
            .parse()
            .ok()
            .filter(|p: &f64| p.is_finite())
            .ok_or("Invalid latency-tracking-info-percentiles parameters")?;
        if !(0.0..=100.0).contains(&p) {
            return Err(
                "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]"
                    .into(),
            );
        }
        out.push(p.to_string());
    }
    Ok(out.join(" "))
}

fn parse_maxmemory_clients(value: &str) -> Result<String, String> {
    const ERR: &str = "argument must be a memory or percent value";
    if let Some(percent) = value.strip_suffix('%') {
        let n = parse_i64(percent.as_bytes())
            .filter(|&n| n >= 0)
            .ok_or(ERR)?;
        if n > 100 {
            return Err("percentage argument must be less or equal to 100".into());
        }
        return Ok(format!("{n}%"));
    }
    match parse_memory(value) {
        Some(n) if n <= i64::MAX as u64 => Ok(n.to_string()),
        _ => Err(ERR.into()),
    }
}

fn parse_replicaof(value: &str) -> Result<String, String> {
    let given = words(value);
    if given.is_empty() {
        return Ok(String::new());
    }
    if given.len() != 2 {
        return Err("wrong number of arguments".into());
    }
    if given[0].eq_ignore_ascii_case("no") && given[1].eq_ignore_ascii_case("one") {
        return Ok(String::new());
    }
    parse_i64(given[1].as_bytes())
        .filter(|p| (0..=65535).contains(p))
        .ok_or("Invalid master port")?;
    Ok(given.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_units() {
        assert_eq!(parse_memory("1k"), Some(1000));
        assert_eq!(parse_memory("1kb"), Some(1024));
        assert_eq!(parse_memory("1KB"), Some(1024));
        assert_eq!(parse_memory("2m"), Some(2_000_000));
        assert_eq!(parse_memory("2Mb"), Some(2 << 20));
        assert_eq!(parse_memory("3g"), Some(3_000_000_000));
        assert_eq!(parse_memory("3gb"), Some(3 << 30));
        assert_eq!(parse_memory("7b"), Some(7));
        assert_eq!(parse_memory(""), Some(0));
        for bad in ["1.5gb", "-1", "1 gb", "kb", "1tb", "99999999999999999999"] {
            assert_eq!(parse_memory(bad), None, "{bad}");
        }
        assert_eq!(memory_with_unit("1073741824"), "1gb");
        assert_eq!(memory_with_unit("1048577"), "1048577");
        assert_eq!(memory_with_unit("2048"), "2kb");
    }

    #[test]
    fn kinds_validate_like_redis() {
        assert_eq!(Kind::Bool.parse("YES", ""), Ok("yes".into()));
        assert_eq!(
            Kind::Bool.parse("1", ""),
            Err("argument must be 'yes' or 'no'".into())
        );
        assert_eq!(Kind::Int(0, 10).parse("010", ""), Err(INT_ERR.into()));
        assert_eq!(
            Kind::Int(1, 4294967295).parse("0", ""),
            Err("argument must be between 1 and 4294967295 inclusive".into())
        );
        assert_eq!(
            Kind::Memory(0, i64::MAX).parse("1mb", ""),
            Ok("1048576".into())
        );
        assert_eq!(Kind::UMemory.parse("-1", ""), Err(MEM_ERR.into()));
        assert_eq!(Kind::Octal(0o777).parse("700", ""), Ok("700".into()));
        assert_eq!(
            Kind::Octal(0o777).parse("778", ""),
            Err("argument couldn't be parsed as an octal number".into())
        );
        assert_eq!(
            Kind::Enum(&["a", "b"]).parse("C", ""),
            Err("argument(s) must be one of the following: a, b".into())
        );
        assert_eq!(Kind::Enum(&["a", "b"]).parse("B", ""), Ok("b".into()));
        assert_eq!(
            Kind::Flags(SHUTDOWN_FLAGS).parse("NOW nosave", ""),
            Ok("nosave now".into())
        );
        assert_eq!(
            Kind::Flags(SHUTDOWN_FLAGS).parse("default now", ""),
            Ok("now".into())
        );
        assert_eq!(Kind::Save.parse(" 10  20 ", ""), Ok("10 20".into()));
        assert_eq!(
            Kind::Save.parse("1 2 3", ""),
            Err("Invalid save parameters".into())
        );
    }

    #[test]
    fn special_kinds() {
        let default = "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60";
        assert_eq!(
            Kind::ClientOutputBufferLimit.parse("replica 1kb 2mb 3", default),
            Ok("normal 0 0 0 slave 1024 2097152 3 pubsub 33554432 8388608 60".into())
        );
        assert_eq!(
            Kind::ClientOutputBufferLimit.parse("bogus 1 2 3", default),
            Err(COBL_CLASS_ERR.into())
        );
        assert_eq!(
            Kind::ClientOutputBufferLimit.file_lines(
                "normal 1048576 2 3 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
            ),
            vec!["normal 1mb 2 3".to_string()]
        );
        let kea = Kind::NotifyEvents.parse("KEA", "").unwrap();
        assert_eq!(Kind::NotifyEvents.display(&kea), "AKE");
        let mixed = Kind::NotifyEvents.parse("Ex$g", "").unwrap();
        assert_eq!(Kind::NotifyEvents.display(&mixed), "g$xE");
        let mn = Kind::NotifyEvents.parse("mn", "").unwrap();
        assert_eq!(Kind::NotifyEvents.display(&mn), "nm");
        assert!(Kind::NotifyEvents.parse("Z", "").is_err());
        assert_eq!(
            Kind::Percentiles.parse("1.50 99.999 3e1", ""),
            Ok("1.5 99.999 30".into())
        );
        assert_eq!(Kind::MaxmemoryClients.parse("10%", ""), Ok("10%".into()));
        assert_eq!(
            Kind::MaxmemoryClients.parse("200%", ""),
            Err("percentage argument must be less or equal to 100".into())
        );
        assert_eq!(Kind::ReplicaOf.parse("no one", ""), Ok("".into()));
    }

    #[test]
    fn quoting_matches_redis() {
        assert_eq!(quote("a b\"c"), "\"a b\\\"c\"");
        assert_eq!(quote("x\n\x01"), "\"x\\n\\x01\"");
    }
}
