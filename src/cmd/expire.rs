//! Key expiry commands: EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT, TTL, PTTL,
//! EXPIRETIME, PEXPIRETIME and PERSIST.
//!
//! TTLs are absolute Unix milliseconds in the keyspace; every command reads the
//! clock once (`Db::now_ms`), so "already expired" and the reported TTL agree
//! within one command.

use super::spec::{CommandSpec, acl, flag::*, key1};
use super::{Args, CmdError, CmdResult, Ctx};
use crate::server::notify;

pub static COMMANDS: &[CommandSpec] = &[
    set_ttl_spec(
        "expire",
        "1.0.0",
        "Sets a key's time to live in seconds.",
        expire,
    ),
    set_ttl_spec(
        "pexpire",
        "2.6.0",
        "Sets a key's time to live in milliseconds.",
        pexpire,
    ),
    set_ttl_spec(
        "expireat",
        "1.2.0",
        "Sets a key's expiry as a Unix time in seconds.",
        expireat,
    ),
    set_ttl_spec(
        "pexpireat",
        "2.6.0",
        "Sets a key's expiry as a Unix time in milliseconds.",
        pexpireat,
    ),
    get_ttl_spec(
        "ttl",
        "1.0.0",
        "Returns a key's remaining time to live in seconds.",
        ttl,
    ),
    get_ttl_spec(
        "pttl",
        "2.6.0",
        "Returns a key's remaining time to live in milliseconds.",
        pttl,
    ),
    get_ttl_spec(
        "expiretime",
        "7.0.0",
        "Returns a key's expiry as a Unix time in seconds.",
        expiretime,
    ),
    get_ttl_spec(
        "pexpiretime",
        "7.0.0",
        "Returns a key's expiry as a Unix time in milliseconds.",
        pexpiretime,
    ),
    CommandSpec::new("persist", 2, WRITE | FAST, key1(), persist)
        .acl(acl::KEYSPACE)
        .doc(
            "generic",
            "2.2.0",
            "Removes a key's expiry, keeping the key.",
        ),
];

const fn set_ttl_spec(
    name: &'static str,
    since: &'static str,
    summary: &'static str,
    handler: super::spec::Handler,
) -> CommandSpec {
    CommandSpec::new(name, -3, WRITE | FAST, key1(), handler)
        .acl(acl::KEYSPACE)
        .doc("generic", since, summary)
}

const fn get_ttl_spec(
    name: &'static str,
    since: &'static str,
    summary: &'static str,
    handler: super::spec::Handler,
) -> CommandSpec {
    CommandSpec::new(name, 2, READONLY | FAST, key1(), handler)
        .acl(acl::KEYSPACE)
        .doc("generic", since, summary)
}

/// How the time argument is read.
#[derive(Clone, Copy)]
struct TimeArg {
    /// Seconds (EXPIRE, EXPIREAT) or milliseconds.
    seconds: bool,
    /// Unix time (…AT) or relative to now.
    absolute: bool,
    /// The command name the overflow error quotes.
    name: &'static str,
}

fn expire(ctx: &mut Ctx, args: &Args) -> CmdResult {
    set_expiry(
        ctx,
        args,
        TimeArg {
            seconds: true,
            absolute: false,
            name: "expire",
        },
    )
}

fn pexpire(ctx: &mut Ctx, args: &Args) -> CmdResult {
    set_expiry(
        ctx,
        args,
        TimeArg {
            seconds: false,
            absolute: false,
            name: "pexpire",
        },
    )
}

fn expireat(ctx: &mut Ctx, args: &Args) -> CmdResult {
    set_expiry(
        ctx,
        args,
        TimeArg {
            seconds: true,
            absolute: true,
            name: "expireat",
        },
    )
}

fn pexpireat(ctx: &mut Ctx, args: &Args) -> CmdResult {
    set_expiry(
        ctx,
        args,
        TimeArg {
            seconds: false,
            absolute: true,
            name: "pexpireat",
        },
    )
}

/// The NX / XX / GT / LT condition of the EXPIRE family.
#[derive(Default)]
struct Condition {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

impl Condition {
    fn parse(args: &Args, from: usize) -> Result<Self, CmdError> {
        let mut c = Condition::default();
        for i in from..args.len() {
            let flag = match args.get(i).to_ascii_lowercase().as_slice() {
                b"nx" => &mut c.nx,
                b"xx" => &mut c.xx,
                b"gt" => &mut c.gt,
                b"lt" => &mut c.lt,
                _ => {
                    return Err(CmdError::msg(format!(
                        "ERR Unsupported option {}",
                        args.str(i)
                    )));
                }
            };
            *flag = true;
        }
        if c.nx && (c.xx || c.gt || c.lt) {
            return Err(CmdError::Msg(
                "ERR NX and XX, GT or LT options at the same time are not compatible",
            ));
        }
        if c.gt && c.lt {
            return Err(CmdError::Msg(
                "ERR GT and LT options at the same time are not compatible",
            ));
        }
        Ok(c)
    }

    /// Whether a new expiry `when` may replace `current` (None: no TTL, which
    /// GT and LT treat as an infinite TTL).
    fn allows(&self, current: Option<u64>, when: i64) -> bool {
        match current {
            None => !(self.xx || self.gt),
            Some(cur) => {
                let cur = cur as i128;
                let when = when as i128;
                !(self.nx || (self.gt && when <= cur) || (self.lt && when >= cur))
            }
        }
    }
}

/// The absolute expiry in ms, or None when it does not fit in 64 bits.
fn absolute_ms(value: i64, time: TimeArg, now_ms: u64) -> Option<i64> {
    let ms = if time.seconds {
        value.checked_mul(1000)?
    } else {
        value
    };
    if time.absolute {
        Some(ms)
    } else {
        ms.checked_add(now_ms as i64)
    }
}

fn set_expiry(ctx: &mut Ctx, args: &Args, time: TimeArg) -> CmdResult {
    let condition = Condition::parse(args, 3)?;
    let value = args.int(2)?;
    let when = absolute_ms(value, time, ctx.db.now_ms).ok_or_else(|| {
        CmdError::msg(format!(
            "ERR invalid expire time in '{}' command",
            time.name
        ))
    })?;
    let key = args.get(1);
    if ctx.db.get(key).is_none() {
        ctx.out.int(0);
        return Ok(());
    }
    if !condition.allows(ctx.db.expire_at(key), when) {
        ctx.out.int(0);
        return Ok(());
    }
    // A time already past deletes the key, as Redis does.
    if when <= ctx.db.now_ms as i64 {
        ctx.db.remove(key);
        ctx.db.notify(notify::GENERIC, "del", key);
        ctx.propagate_as(&[b"DEL", key]);
    } else {
        ctx.db.set_expire(key, when as u64);
        ctx.db.notify(notify::GENERIC, "expire", key);
        // The AOF gets the absolute time, so a replay expires it the same.
        let mut itoa = itoa::Buffer::new();
        ctx.propagate_as(&[b"PEXPIREAT", key, itoa.format(when).as_bytes()]);
    }
    ctx.out.int(1);
    Ok(())
}

/// What a TTL query reports.
#[derive(Clone, Copy)]
enum TtlForm {
    RelativeSeconds,
    RelativeMs,
    UnixSeconds,
    UnixMs,
}

fn ttl(ctx: &mut Ctx, args: &Args) -> CmdResult {
    report_ttl(ctx, args, TtlForm::RelativeSeconds)
}

fn pttl(ctx: &mut Ctx, args: &Args) -> CmdResult {
    report_ttl(ctx, args, TtlForm::RelativeMs)
}

fn expiretime(ctx: &mut Ctx, args: &Args) -> CmdResult {
    report_ttl(ctx, args, TtlForm::UnixSeconds)
}

fn pexpiretime(ctx: &mut Ctx, args: &Args) -> CmdResult {
    report_ttl(ctx, args, TtlForm::UnixMs)
}

/// -2 for a missing key, -1 for a key without TTL; seconds are rounded to the
/// nearest second, as Redis does.
fn report_ttl(ctx: &mut Ctx, args: &Args, form: TtlForm) -> CmdResult {
    let key = args.get(1);
    if ctx.db.read_untouched(key).is_none() {
        ctx.out.int(-2);
        return Ok(());
    }
    let Some(when) = ctx.db.expire_at(key) else {
        ctx.out.int(-1);
        return Ok(());
    };
    let remaining = when.saturating_sub(ctx.db.now_ms);
    let reply = match form {
        TtlForm::RelativeSeconds => remaining.saturating_add(500) / 1000,
        TtlForm::RelativeMs => remaining,
        TtlForm::UnixSeconds => when.saturating_add(500) / 1000,
        TtlForm::UnixMs => when,
    };
    ctx.out.int(reply as i64);
    Ok(())
}

fn persist(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let key = args.get(1);
    let removed = ctx.db.get(key).is_some() && ctx.db.persist(key);
    if removed {
        ctx.db.notify(notify::GENERIC, "persist", key);
    }
    ctx.out.int(removed as i64);
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::testkit::TestClient;

    fn int_reply(reply: &str) -> i64 {
        reply
            .strip_prefix(':')
            .and_then(|r| r.trim_end().parse().ok())
            .unwrap_or_else(|| panic!("not an integer reply: {reply}"))
    }

    #[test]
    fn ttl_of_missing_and_persistent_keys() {
        let mut t = TestClient::new();
        for cmd in ["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"] {
            assert_eq!(t.run(&[cmd, "nokey"]), ":-2\r\n");
        }
        t.run(&["SET", "k", "v"]);
        for cmd in ["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"] {
            assert_eq!(t.run(&[cmd, "k"]), ":-1\r\n");
        }
        assert_eq!(t.run(&["PERSIST", "k"]), ":0\r\n");
        assert_eq!(t.run(&["PERSIST", "nokey"]), ":0\r\n");
    }

    #[test]
    fn expire_variants_agree() {
        let mut t = TestClient::new();
        t.run(&["SET", "k", "v"]);
        assert_eq!(t.run(&["EXPIRE", "k", "100"]), ":1\r\n");
        assert_eq!(t.run(&["TTL", "k"]), ":100\r\n");
        let pttl = int_reply(&t.run(&["PTTL", "k"]));
        assert!((99_000..=100_000).contains(&pttl));
        assert_eq!(t.run(&["PEXPIRE", "k", "1700"]), ":1\r\n");
        assert_eq!(t.run(&["TTL", "k"]), ":2\r\n", "1.7s rounds to 2");
        assert_eq!(t.run(&["EXPIREAT", "k", "100000000000"]), ":1\r\n");
        assert_eq!(t.run(&["EXPIRETIME", "k"]), ":100000000000\r\n");
        assert_eq!(t.run(&["PEXPIRETIME", "k"]), ":100000000000000\r\n");
        assert_eq!(t.run(&["PEXPIREAT", "k", "100000000000500"]), ":1\r\n");
        assert_eq!(t.run(&["EXPIRETIME", "k"]), ":100000000001\r\n");
        assert_eq!(t.run(&["PEXPIREAT", "k", "9223372036854775807"]), ":1\r\n");
        assert_eq!(t.run(&["EXPIRETIME", "k"]), ":9223372036854776\r\n");
        assert_eq!(t.run(&["PERSIST", "k"]), ":1\r\n");
        assert_eq!(t.run(&["TTL", "k"]), ":-1\r\n");
        assert_eq!(t.run(&["EXPIRE", "nokey", "10"]), ":0\r\n");
    }

    #[test]
    fn a_time_in_the_past_deletes_the_key() {
        let mut t = TestClient::new();
        for args in [
            ["EXPIRE", "k", "0"],
            ["EXPIRE", "k", "-5"],
            ["PEXPIRE", "k", "-1"],
            ["EXPIREAT", "k", "1"],
            ["PEXPIREAT", "k", "-100"],
        ] {
            t.run(&["SET", "k", "v"]);
            assert_eq!(t.run(&args), ":1\r\n", "{args:?}");
            assert_eq!(t.run(&["EXISTS", "k"]), ":0\r\n", "{args:?}");
        }
    }

    #[test]
    fn nx_xx_gt_lt_conditions() {
        let mut t = TestClient::new();
        t.run(&["SET", "k", "v"]);
        // No TTL: XX and GT refuse, NX and LT accept (no TTL = infinite).
        assert_eq!(t.run(&["EXPIRE", "k", "100", "XX"]), ":0\r\n");
        assert_eq!(t.run(&["EXPIRE", "k", "100", "GT"]), ":0\r\n");
        assert_eq!(t.run(&["EXPIRE", "k", "100", "nx"]), ":1\r\n");
        assert_eq!(t.run(&["EXPIRE", "k", "200", "NX"]), ":0\r\n");
        assert_eq!(t.run(&["EXPIRE", "k", "50", "GT"]), ":0\r\n");
        assert_eq!(t.run(&["EXPIRE", "k", "200", "gt"]), ":1\r\n");
        assert_eq!(t.run(&["EXPIRE", "k", "300", "LT"]), ":0\r\n");
        assert_eq!(t.run(&["EXPIRE", "k", "150", "LT"]), ":1\r\n");
        assert_eq!(t.run(&["EXPIRE", "k", "120", "XX", "LT"]), ":1\r\n");
        assert_eq!(t.run(&["TTL", "k"]), ":120\r\n");
        t.run(&["PERSIST", "k"]);
        assert_eq!(t.run(&["EXPIRE", "k", "-1", "GT"]), ":0\r\n");
        assert_eq!(t.run(&["EXISTS", "k"]), ":1\r\n");
        assert_eq!(t.run(&["EXPIRE", "k", "-1", "LT"]), ":1\r\n");
        assert_eq!(t.run(&["EXISTS", "k"]), ":0\r\n");
    }

    #[test]
    fn option_and_time_errors() {
        let mut t = TestClient::new();
        t.run(&["SET", "k", "v"]);
        let nx = "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n";
        assert_eq!(t.run(&["EXPIRE", "k", "10", "NX", "XX"]), nx);
        assert_eq!(t.run(&["EXPIRE", "k", "10", "GT", "LT", "NX"]), nx);
        assert_eq!(
            t.run(&["PEXPIRE", "k", "10", "GT", "LT"]),
            "-ERR GT and LT options at the same time are not compatible\r\n"
        );
        // Options are checked before the time, and the time before the key.
        assert_eq!(
            t.run(&["EXPIRE", "k", "abc", "foo"]),
            "-ERR Unsupported option foo\r\n"
        );
        assert_eq!(
            t.run(&["EXPIRE", "nokey", "abc"]),
            "-ERR value is not an integer or out of range\r\n"
        );
        assert_eq!(
            t.run(&["EXPIRE", "nokey", "9223372036854775807"]),
            "-ERR invalid expire time in 'expire' command\r\n"
        );
        assert_eq!(
            t.run(&["EXPIRE", "k", "-9223372036854775808"]),
            "-ERR invalid expire time in 'expire' command\r\n"
        );
        assert_eq!(
            t.run(&["PEXPIRE", "k", "9223372036854775000"]),
            "-ERR invalid expire time in 'pexpire' command\r\n"
        );
        assert_eq!(
            t.run(&["EXPIREAT", "k", "9223372036854775807"]),
            "-ERR invalid expire time in 'expireat' command\r\n"
        );
        assert_eq!(
            t.run(&["TTL", "k"]),
            ":-1\r\n",
            "failed commands change nothing"
        );
        assert_eq!(
            t.run(&["TTL", "k", "x"]),
            "-ERR wrong number of arguments for 'ttl' command\r\n"
        );
    }

    #[test]
    fn expired_keys_are_invisible_to_every_command() {
        let mut t = TestClient::new();
        t.run(&["SET", "k", "v"]);
        t.run(&["PEXPIRE", "k", "1"]);
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(t.run(&["GET", "k"]), "$-1\r\n");
        t.run(&["SET", "k", "v"]);
        t.run(&["PEXPIRE", "k", "1"]);
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(t.run(&["EXISTS", "k"]), ":0\r\n");
        assert_eq!(t.run(&["TTL", "k"]), ":-2\r\n");
        assert_eq!(t.run(&["TYPE", "k"]), "+none\r\n");
        assert_eq!(t.run(&["RENAME", "k", "x"]), "-ERR no such key\r\n");
        assert_eq!(t.run(&["RANDOMKEY"]), "$-1\r\n");
    }

    #[test]
    fn active_expiry_removes_keys_nobody_reads() {
        let mut t = TestClient::new();
        for i in 0..500 {
            let key = format!("volatile:{i}");
            t.run(&["SET", &key, "v"]);
            t.run(&["PEXPIRE", &key, "1"]);
        }
        for i in 0..50 {
            t.run(&["SET", &format!("kept:{i}"), "v"]);
        }
        t.run(&["SET", "later", "v"]);
        t.run(&["EXPIRE", "later", "1000"]);
        // Not yet collected: DBSIZE counts them, as Redis's does.
        assert_eq!(t.run(&["DBSIZE"]), ":551\r\n");
        std::thread::sleep(Duration::from_millis(5));
        let mut rng = rand::rng();
        let mut next_shard = 0;
        for _ in 0..50 {
            crate::server::active_expire_cycle(
                &t.server,
                &mut rng,
                &mut next_shard,
                Duration::from_secs(1),
            );
            if t.run(&["DBSIZE"]) == ":51\r\n" {
                break;
            }
        }
        assert_eq!(t.run(&["DBSIZE"]), ":51\r\n");
        assert_eq!(t.run(&["TTL", "later"]), ":1000\r\n");
    }
}
