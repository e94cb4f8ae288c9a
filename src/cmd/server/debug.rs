//! DEBUG: a few of Redis's introspection and test hooks, gated by
//! `enable-debug-command` as Redis gates them.

use crate::cmd::reply_help;

use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use super::super::{Args, CmdError, CmdResult, Ctx};
use crate::db::Value;

const NOT_ALLOWED: &str = "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.";

/// What `enable-debug-command` permits for this client.
fn allowed(setting: &str, peer: std::net::SocketAddr) -> bool {
    match setting {
        "yes" => true,
        "local" => peer.ip().is_loopback(),
        _ => false,
    }
}

pub fn debug(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let setting = ctx.server.config.read().enable_debug_command.clone();
    if !allowed(&setting, ctx.client.handle.addr) {
        return Err(CmdError::Msg(NOT_ALLOWED));
    }
    let sub = args.str(1).to_ascii_lowercase();
    match (sub.as_str(), args.len()) {
        ("help", 2) => help(ctx),
        ("sleep", 3) => {
            // Redis reads the seconds with atof: junk means zero.
            let secs: f64 = args.str(2).trim().parse().unwrap_or(0.0);
            if secs.is_finite() && secs > 0.0 {
                // The gate holds every shard, so this stalls the keyspace as
                // DEBUG SLEEP stalls Redis.
                std::thread::sleep(Duration::from_secs_f64(secs.min(3600.0)));
            }
            ctx.out.ok();
        }
        ("object", 3) => object(ctx, args.get(2))?,
        ("set-active-expire", 3) => {
            // Redis reads the flag with atoi: junk means off.
            let on = args.str(2).trim().parse::<i64>().unwrap_or(0) != 0;
            ctx.server.stats.active_expire.store(on, Relaxed);
            ctx.out.ok();
        }
        ("quicklist-packed-threshold", 3) => {
            // Lists are not quicklists here; the size is validated and ignored.
            let valid = parse_memory(&args.str(2)).is_some_and(|n| n > 1 && n < 1 << 32);
            if !valid {
                return Err(CmdError::Msg(
                    "ERR argument must be a memory value bigger than 1 and smaller than 4gb",
                ));
            }
            ctx.out.ok();
        }
        _ => {
            return Err(CmdError::msg(format!(
                "ERR unknown subcommand or wrong number of arguments for '{:.128}'. Try DEBUG HELP.",
                args.str(1)
            )));
        }
    }
    Ok(())
}

/// `100`, `1k`, `2mb`, `1gb`... as Redis's memory values.
fn parse_memory(text: &str) -> Option<u64> {
    let lower = text.to_ascii_lowercase();
    let split = lower
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(lower.len());
    let (digits, unit) = lower.split_at(split);
    let n: u64 = digits.parse().ok()?;
    let mul = match unit {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    n.checked_mul(mul)
}

/// Bytes the value takes in an RDB file (its payload without the type byte,
/// compressed as `rdbcompression` says), as Redis's `serializedlength`.
fn serialized_length(value: &Value, compress: crate::persist::rdb::codec::Lzf) -> usize {
    let mut out = Vec::new();
    crate::persist::rdb::write::put_value(&mut out, value, compress);
    out.len()
}

fn object(ctx: &mut Ctx, key: &[u8]) -> CmdResult {
    let lru_clock = (ctx.db.now_ms / 1000) as u32 & 0xFF_FFFF;
    let compress = crate::cmd::persist::compression(ctx);
    let entry = ctx.db.get(key).ok_or(CmdError::NoSuchKey)?;
    let idle = lru_clock.wrapping_sub(entry.access) & 0xFF_FFFF;
    let text = format!(
        "Value at:{:p} refcount:1 encoding:{} serializedlength:{} lru:{} lru_seconds_idle:{}",
        &entry.value as *const Value,
        entry.value.encoding(),
        serialized_length(&entry.value, compress),
        entry.access & 0xFF_FFFF,
        if entry.access == 0 { 0 } else { idle },
    );
    ctx.out.simple(&text);
    Ok(())
}

fn help(ctx: &mut Ctx) {
    reply_help(
        ctx.out,
        "DEBUG",
        &[
            "OBJECT <key>",
            "    Show low level info about the `key` and associated value.",
            "QUICKLIST-PACKED-THRESHOLD <size>",
            "    Sets the threshold for elements to be inserted as plain vs packed nodes",
            "    Default value is 1GB, allows values up to 4GB",
            "SET-ACTIVE-EXPIRE <0|1>",
            "    Setting it to 0 disables expiring keys in background when they are not",
            "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
            "    default.",
            "SLEEP <seconds>",
            "    Stop the server for <seconds>. Decimals allowed.",
        ],
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_permission_follows_setting() {
        let local = "127.0.0.1:5000".parse().unwrap();
        let remote = "10.0.0.1:5000".parse().unwrap();
        assert!(allowed("yes", remote));
        assert!(allowed("local", local));
        assert!(!allowed("local", remote));
        assert!(!allowed("no", local));
    }

    #[test]
    fn memory_values() {
        assert_eq!(parse_memory("100"), Some(100));
        assert_eq!(parse_memory("1kb"), Some(1024));
        assert_eq!(parse_memory("2MB"), Some(2 * 1024 * 1024));
        assert_eq!(parse_memory("x"), None);
    }
}
