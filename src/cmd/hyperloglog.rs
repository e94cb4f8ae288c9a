//! HyperLogLog commands: PFADD, PFCOUNT, PFMERGE, PFDEBUG, PFSELFTEST.
//!
//! HLLs are plain string values in Redis's byte layout ([`crate::db::hll`]),
//! so TYPE says `string` and GET/SET move them between servers.

use super::spec::{CommandSpec, flag::*, key1, keys_all, keys_range};
use super::{Args, CmdError, CmdResult, Ctx};
use crate::db::hll::{self, Corrupt, Encoding, REGISTERS};
use crate::db::{Entry, StrValue, Value};
use crate::server::notify;

const HLL: &str = "hyperloglog";

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("pfadd", -2, WRITE | DENYOOM | FAST, key1(), pfadd)
        .doc(HLL, "2.8.9", "Adds elements to a HyperLogLog, creating the key if needed.")
        .complexity("O(1) to add every element."),
    CommandSpec::new("pfcount", -2, READONLY, keys_all(1), pfcount)
        .doc(HLL, "2.8.9", "Estimates the number of distinct elements in one HyperLogLog or the union of several.")
        .complexity("O(1) with a very small average constant time when called with a single key. O(N) with N being the number of keys, and much bigger constant times, when called with multiple keys."),
    CommandSpec::new("pfmerge", -2, WRITE | DENYOOM, keys_all(1), pfmerge)
        .doc(HLL, "2.8.9", "Merges HyperLogLogs into a destination HyperLogLog.")
        .complexity("O(N) to merge N HyperLogLogs, but with high constant times."),
    CommandSpec::new("pfdebug", 3, WRITE | DENYOOM | ADMIN, keys_range(2, 2, 1), pfdebug)
        .doc(HLL, "2.8.9", "Internal commands for inspecting HyperLogLog values.")
        .complexity("N/A"),
    CommandSpec::new("pfselftest", 1, ADMIN, super::spec::Keys::None, pfselftest)
        .doc(HLL, "2.8.9", "Checks the HyperLogLog implementation against itself.")
        .complexity("N/A"),
];

const NOT_HLL: CmdError = CmdError::Msg("WRONGTYPE Key is not a valid HyperLogLog string value.");
const CORRUPT: CmdError = CmdError::Msg("INVALIDOBJ Corrupted HLL object detected");

impl From<Corrupt> for CmdError {
    fn from(_: Corrupt) -> Self {
        CORRUPT
    }
}

/// The HLL bytes of a value: WRONGTYPE for other types and for strings that
/// are not HLLs.
fn hll_of(value: &Value) -> Result<&[u8], CmdError> {
    let bytes = match value {
        Value::Str(StrValue::Bytes(b)) => &b[..],
        Value::Str(StrValue::Raw(v)) => &v[..],
        Value::Str(StrValue::Int(_)) => return Err(NOT_HLL), // too short for a header
        #[allow(unreachable_patterns)]
        _ => return Err(CmdError::WrongType),
    };
    hll::validate(bytes).map(|_| bytes).ok_or(NOT_HLL)
}

/// The HLL of an entry as a growable buffer, after checking it is one.
fn hll_of_mut(entry: &mut Entry) -> Result<&mut Vec<u8>, CmdError> {
    hll_of(&entry.value)?;
    match &mut entry.value {
        Value::Str(s) => Ok(s.make_raw()),
        _ => unreachable!("checked by hll_of"),
    }
}

fn new_hll_value() -> Value {
    Value::Str(StrValue::Raw(hll::new_sparse()))
}

fn sparse_max_bytes(ctx: &Ctx) -> usize {
    ctx.server.config.read().hll_sparse_max_bytes
}

fn pfadd(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let sparse_max = sparse_max_bytes(ctx);
    let key = args.get(1);
    let created = match ctx.db.get(key) {
        Some(entry) => {
            hll_of(&entry.value)?;
            false
        }
        None => {
            ctx.db.set(key, new_hll_value());
            true
        }
    };
    let entry = ctx.db.get(key).expect("present or just created");
    let bytes = hll_of_mut(entry)?;
    let mut changed = false;
    for element in args.iter().skip(2) {
        let (index, value) = hll::register_for(element);
        changed |= hll::raise_register(bytes, index, value, sparse_max)?;
    }
    if changed {
        hll::invalidate_cache(bytes);
        ctx.db.modified(key);
    }
    if created || changed {
        ctx.db.notify(notify::STRING, "pfadd", key);
    }
    ctx.out.int((created || changed) as i64);
    Ok(())
}

fn pfcount(ctx: &mut Ctx, args: &Args) -> CmdResult {
    if args.len() == 2 {
        return pfcount_one(ctx, args.get(1));
    }
    let mut union = [0u8; REGISTERS];
    for key in args.iter().skip(1) {
        if let Some(entry) = ctx.db.read(key) {
            hll::merge_into(hll_of(&entry.value)?, &mut union)?;
        }
    }
    ctx.out.int(hll::count_registers(&union) as i64);
    Ok(())
}

/// One key: answers from the cached cardinality, refreshing it when stale.
fn pfcount_one(ctx: &mut Ctx, key: &[u8]) -> CmdResult {
    let Some(entry) = ctx.db.read(key) else {
        ctx.out.int(0);
        return Ok(());
    };
    if let Some(card) = hll::cached_cardinality(hll_of(&entry.value)?) {
        ctx.out.int(card as i64);
        return Ok(());
    }
    let bytes = hll_of_mut(entry)?;
    let card = hll::count(bytes)?;
    hll::store_cardinality(bytes, card);
    ctx.db.modified(key);
    ctx.out.int(card as i64);
    Ok(())
}

fn pfmerge(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let sparse_max = sparse_max_bytes(ctx);
    let mut union = [0u8; REGISTERS];
    // The destination takes part in the union; any dense input makes it dense.
    let mut any_dense = false;
    for key in args.iter().skip(1) {
        if let Some(entry) = ctx.db.read(key) {
            let bytes = hll_of(&entry.value)?;
            any_dense |= hll::encoding(bytes) == Encoding::Dense;
            hll::merge_into(bytes, &mut union)?;
        }
    }
    let dest = args.get(1);
    if ctx.db.get(dest).is_none() {
        ctx.db.set(dest, new_hll_value());
    }
    let bytes = hll_of_mut(ctx.db.get(dest).expect("present or just created"))?;
    if any_dense {
        hll::to_dense(bytes)?;
    }
    for (index, &value) in union.iter().enumerate() {
        if value > 0 {
            hll::raise_register(bytes, index, value, sparse_max)?;
        }
    }
    hll::invalidate_cache(bytes);
    ctx.db.modified(dest);
    ctx.db.notify(notify::STRING, "pfadd", dest);
    ctx.out.ok();
    Ok(())
}

fn pfdebug(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let key = args.get(2);
    let Some(entry) = ctx.db.get(key) else {
        return Err(CmdError::Msg("ERR The specified key does not exist"));
    };
    let bytes = hll_of_mut(entry)?;
    let sparse = hll::encoding(bytes) == Encoding::Sparse;
    if args.is(1, "getreg") {
        if sparse {
            hll::to_dense(bytes)?;
        }
        let registers = hll::dense_registers(bytes);
        if sparse {
            ctx.db.modified(key);
        }
        ctx.out.array(registers.len());
        for r in registers {
            ctx.out.int(r as i64);
        }
    } else if args.is(1, "decode") {
        if !sparse {
            return Err(CmdError::Msg("ERR HLL encoding is not sparse"));
        }
        ctx.out.bulk(hll::describe_sparse(bytes).as_bytes());
    } else if args.is(1, "encoding") {
        ctx.out.simple(if sparse { "sparse" } else { "dense" });
    } else if args.is(1, "todense") {
        if sparse {
            hll::to_dense(bytes)?;
            ctx.db.modified(key);
        }
        ctx.out.int(sparse as i64);
    } else {
        return Err(CmdError::msg(format!(
            "ERR Unknown PFDEBUG subcommand '{}'",
            args.str(1)
        )));
    }
    Ok(())
}

/// Checks register packing, sparse/dense agreement and the estimator's error
/// on a bounded workload; `OK` or an `ERR TESTFAILED` description.
fn pfselftest(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    let mut sparse = hll::new_sparse();
    let mut dense = hll::new_sparse();
    hll::to_dense(&mut dense)?;
    // The sparse side turns dense somewhere past a few thousand elements.
    const SPARSE_MAX: usize = 8000;
    let mut checkpoint = 10u64;
    for n in 1..=20_000u64 {
        let (index, value) = hll::register_for(&n.to_le_bytes());
        let a = hll::raise_register(&mut sparse, index, value, SPARSE_MAX)?;
        let b = hll::raise_register(&mut dense, index, value, SPARSE_MAX)?;
        if a != b {
            return Err(CmdError::Msg(
                "ERR TESTFAILED sparse and dense registers differ",
            ));
        }
        if n == checkpoint || n == 20_000 {
            checkpoint *= 10;
            let (count, dense_count) = (hll::count(&sparse)?, hll::count(&dense)?);
            let error = (count as f64 - n as f64).abs() / n as f64;
            // 1.04/sqrt(16384) is 0.81%; five standard errors is generous.
            if count != dense_count || error > 0.05 {
                return Err(CmdError::msg(format!(
                    "ERR TESTFAILED cardinality {n}: sparse {count}, dense {dense_count}"
                )));
            }
        }
    }
    ctx.out.ok();
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::testkit::TestClient;

    fn run(t: &mut TestClient, args: &[&str]) -> String {
        t.run(args)
    }

    #[test]
    fn pfadd_reports_changes_like_redis() {
        let mut t = TestClient::new();
        assert_eq!(run(&mut t, &["PFADD", "h"]), ":1\r\n");
        assert_eq!(run(&mut t, &["PFADD", "h"]), ":0\r\n");
        assert_eq!(run(&mut t, &["PFADD", "h", "a"]), ":1\r\n");
        assert_eq!(run(&mut t, &["PFADD", "h", "a"]), ":0\r\n");
        // Redis puts "a" in register 12711 with a run of 2.
        assert_eq!(
            run(&mut t, &["PFDEBUG", "DECODE", "h"]),
            "$20\r\nZ:12711 v:2,1 Z:3672\r\n"
        );
    }

    #[test]
    fn alphabet_matches_redis_registers_and_count() {
        let mut t = TestClient::new();
        let mut cmd = vec!["PFADD", "h"];
        let letters: Vec<String> = ('a'..='z').map(|c| c.to_string()).collect();
        cmd.extend(letters.iter().map(|s| s.as_str()));
        assert_eq!(t.run(&cmd), ":1\r\n");
        // Taken from Redis 7.0 for the same command.
        assert_eq!(
            run(&mut t, &["PFDEBUG", "DECODE", "h"]),
            "$307\r\nZ:1094 v:4,1 Z:551 v:1,1 Z:138 v:3,1 Z:1769 v:6,1 Z:374 v:2,1 Z:237 v:2,1 \
             z:15 v:1,1 Z:197 v:2,1 Z:1169 v:6,1 Z:1127 v:1,1 Z:611 v:1,1 Z:1085 v:2,1 \
             z:57 v:1,1 Z:144 v:1,1 Z:429 v:1,1 Z:2002 v:1,1 Z:945 v:1,1 Z:750 v:2,1 \
             Z:509 v:4,1 Z:916 v:2,1 Z:793 v:3,1 Z:224 v:1,1 Z:622 v:1,1 Z:465 v:1,1 \
             Z:127 v:2,1 z:9\r\n"
        );
        assert_eq!(run(&mut t, &["PFCOUNT", "h"]), ":25\r\n");
        // The count is now cached in the header, as Redis stores it.
        let raw = t.run_raw(&["GET", "h"]);
        let body = &raw[raw.iter().position(|&b| b == b'\n').unwrap() + 1..];
        assert_eq!(
            &body[..16],
            b"HYLL\x01\x00\x00\x00\x19\x00\x00\x00\x00\x00\x00\x00"
        );
    }

    #[test]
    fn wrong_types_and_foreign_strings() {
        let mut t = TestClient::new();
        run(&mut t, &["SET", "s", "hello"]);
        run(&mut t, &["SET", "n", "12"]);
        let not_hll = "-WRONGTYPE Key is not a valid HyperLogLog string value.\r\n";
        assert_eq!(run(&mut t, &["PFADD", "s", "a"]), not_hll);
        assert_eq!(run(&mut t, &["PFADD", "n", "a"]), not_hll);
        assert_eq!(run(&mut t, &["PFCOUNT", "s"]), not_hll);
        assert_eq!(run(&mut t, &["PFCOUNT", "nokey", "s"]), not_hll);
        assert_eq!(run(&mut t, &["PFMERGE", "d", "s"]), not_hll);
        assert_eq!(run(&mut t, &["EXISTS", "d"]), ":0\r\n");
        assert_eq!(run(&mut t, &["PFDEBUG", "ENCODING", "s"]), not_hll);
        assert_eq!(
            run(&mut t, &["PFDEBUG", "ENCODING", "nokey"]),
            "-ERR The specified key does not exist\r\n"
        );
        assert_eq!(run(&mut t, &["PFCOUNT", "nokey"]), ":0\r\n");
    }

    #[test]
    fn corrupt_sparse_value_is_reported() {
        let mut t = TestClient::new();
        // A sparse header followed by one ZERO opcode covering a single register.
        let corrupt = b"HYLL\x01\x00\x00\x00\x00\x00\x00\x80\x00\x00\x00\x80\x00".to_vec();
        t.run_raw(&[b"SET".to_vec(), b"c".to_vec(), corrupt]);
        let err = "-INVALIDOBJ Corrupted HLL object detected\r\n";
        assert_eq!(run(&mut t, &["PFCOUNT", "c"]), err);
        assert_eq!(run(&mut t, &["PFCOUNT", "c", "c"]), err);
        assert_eq!(run(&mut t, &["PFMERGE", "d", "c"]), err);
    }

    #[test]
    fn union_count_and_merge() {
        let mut t = TestClient::new();
        run(&mut t, &["PFADD", "a", "1", "2", "3"]);
        run(&mut t, &["PFADD", "b", "3", "4", "5", "6"]);
        assert_eq!(run(&mut t, &["PFCOUNT", "a", "b", "missing"]), ":6\r\n");
        assert_eq!(run(&mut t, &["PFCOUNT", "a"]), ":3\r\n");
        assert_eq!(run(&mut t, &["PFMERGE", "a", "b"]), "+OK\r\n");
        assert_eq!(run(&mut t, &["PFCOUNT", "a"]), ":6\r\n");
        assert_eq!(run(&mut t, &["PFCOUNT", "b"]), ":4\r\n");
        assert_eq!(run(&mut t, &["PFMERGE", "empty"]), "+OK\r\n");
        assert_eq!(run(&mut t, &["PFCOUNT", "empty"]), ":0\r\n");
        // A dense input makes the destination dense.
        assert_eq!(run(&mut t, &["PFDEBUG", "TODENSE", "b"]), ":1\r\n");
        assert_eq!(run(&mut t, &["PFDEBUG", "TODENSE", "b"]), ":0\r\n");
        assert_eq!(run(&mut t, &["PFMERGE", "c", "b"]), "+OK\r\n");
        assert_eq!(run(&mut t, &["PFDEBUG", "ENCODING", "c"]), "+dense\r\n");
        assert_eq!(run(&mut t, &["PFCOUNT", "c"]), ":4\r\n");
        assert_eq!(
            run(&mut t, &["PFDEBUG", "DECODE", "c"]),
            "-ERR HLL encoding is not sparse\r\n"
        );
        assert_eq!(
            run(&mut t, &["PFDEBUG", "nope", "c"]),
            "-ERR Unknown PFDEBUG subcommand 'nope'\r\n"
        );
    }

    #[test]
    fn sparse_limit_comes_from_config() {
        let mut t = TestClient::new();
        run(&mut t, &["CONFIG", "SET", "hll-sparse-max-bytes", "30"]);
        run(&mut t, &["PFADD", "h", "a", "b", "c", "d", "e"]);
        assert_eq!(run(&mut t, &["PFDEBUG", "ENCODING", "h"]), "+dense\r\n");
        assert_eq!(run(&mut t, &["PFCOUNT", "h"]), ":5\r\n");
    }

    #[test]
    fn getreg_turns_the_value_dense() {
        let mut t = TestClient::new();
        run(&mut t, &["PFADD", "h", "a"]);
        let regs = run(&mut t, &["PFDEBUG", "GETREG", "h"]);
        assert!(regs.starts_with("*16384\r\n:0\r\n"));
        assert_eq!(regs.matches(":2\r\n").count(), 1);
        assert_eq!(run(&mut t, &["PFDEBUG", "ENCODING", "h"]), "+dense\r\n");
        assert_eq!(run(&mut t, &["STRLEN", "h"]), ":12304\r\n");
    }

    /// Flags, key range and ACL categories as Redis 7.0's COMMAND INFO shows.
    #[test]
    fn command_info_matches_redis() {
        let mut t = TestClient::new();
        let head = |t: &mut TestClient, name: &str| {
            let info = t.run(&["COMMAND", "INFO", name]);
            info.split("*0\r\n").next().unwrap().to_string()
        };
        assert!(head(&mut t, "pfcount").contains("*1\r\n+readonly\r\n:1\r\n:-1\r\n:1\r\n"));
        assert!(
            head(&mut t, "pfadd").contains("+write\r\n+denyoom\r\n+fast\r\n:1\r\n:1\r\n:1\r\n")
        );
        assert!(head(&mut t, "pfdebug").contains("+admin\r\n:2\r\n:2\r\n:1\r\n"));
    }

    #[test]
    fn selftest_passes() {
        let mut t = TestClient::new();
        assert_eq!(run(&mut t, &["PFSELFTEST"]), "+OK\r\n");
    }

    /// Counts taken from Redis 7.0 for PFADD of k0..k(n-1) in batches of 1000.
    #[test]
    fn counts_equal_redis_through_sparse_and_dense() {
        let mut t = TestClient::new();
        let expected = [
            (1000, "998", "sparse"),
            (2000, "1976", "dense"),
            (5000, "4993", "dense"),
        ];
        let mut added = 0;
        for (upto, count, encoding) in expected {
            while added < upto {
                let mut cmd = vec![b"PFADD".to_vec(), b"h".to_vec()];
                cmd.extend((added..added + 1000).map(|i| format!("k{i}").into_bytes()));
                t.run_raw(&cmd);
                added += 1000;
            }
            assert_eq!(run(&mut t, &["PFCOUNT", "h"]), format!(":{count}\r\n"));
            assert_eq!(
                run(&mut t, &["PFDEBUG", "ENCODING", "h"]),
                format!("+{encoding}\r\n")
            );
        }
    }

    mod model {
        use super::super::hll::{self, REGISTERS};
        use crate::testkit::TestClient;
        use proptest::prelude::*;

        #[derive(Debug, Clone)]
        enum Op {
            Add(usize, Vec<u16>),
            Count(Vec<usize>),
            Merge(usize, Vec<usize>),
        }

        fn op() -> impl Strategy<Value = Op> {
            let key = 0..3usize;
            prop_oneof![
                3 => (key.clone(), proptest::collection::vec(0..2000u16, 0..20)).prop_map(|(k, e)| Op::Add(k, e)),
                1 => proptest::collection::vec(key.clone(), 1..4).prop_map(Op::Count),
                1 => (key.clone(), proptest::collection::vec(key, 0..3)).prop_map(|(k, s)| Op::Merge(k, s)),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(32))]

            /// Commands behave like max-register arrays per key.
            #[test]
            fn commands_follow_register_arrays(ops in proptest::collection::vec(op(), 1..40)) {
                let mut t = TestClient::new();
                let mut model: Vec<Option<Box<[u8; REGISTERS]>>> = vec![None, None, None];
                let name = |k: usize| format!("k{k}");
                for op in ops {
                    match op {
                        Op::Add(k, elements) => {
                            let mut cmd = vec!["PFADD".to_string(), name(k)];
                            cmd.extend(elements.iter().map(|e| format!("e{e}")));
                            let created = model[k].is_none();
                            let regs = model[k].get_or_insert_with(|| Box::new([0; REGISTERS]));
                            let mut changed = false;
                            for e in &elements {
                                let (i, v) = hll::register_for(format!("e{e}").as_bytes());
                                changed |= v > regs[i];
                                regs[i] = regs[i].max(v);
                            }
                            prop_assert_eq!(t.run(&cmd), format!(":{}\r\n", (created || changed) as u8));
                        }
                        Op::Count(keys) => {
                            let mut union = [0u8; REGISTERS];
                            for &k in &keys {
                                if let Some(regs) = &model[k] {
                                    for (u, r) in union.iter_mut().zip(regs.iter()) {
                                        *u = (*u).max(*r);
                                    }
                                }
                            }
                            let mut cmd = vec!["PFCOUNT".to_string()];
                            cmd.extend(keys.iter().map(|&k| name(k)));
                            prop_assert_eq!(t.run(&cmd), format!(":{}\r\n", hll::count_registers(&union)));
                        }
                        Op::Merge(dest, sources) => {
                            let mut union = model[dest].clone().unwrap_or_else(|| Box::new([0; REGISTERS]));
                            for &k in &sources {
                                if let Some(regs) = &model[k] {
                                    for (u, r) in union.iter_mut().zip(regs.iter()) {
                                        *u = (*u).max(*r);
                                    }
                                }
                            }
                            model[dest] = Some(union);
                            let mut cmd = vec!["PFMERGE".to_string(), name(dest)];
                            cmd.extend(sources.iter().map(|&k| name(k)));
                            prop_assert_eq!(t.run(&cmd), "+OK\r\n");
                        }
                    }
                }
            }
        }
    }
}
