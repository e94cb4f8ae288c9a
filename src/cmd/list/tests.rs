//! Unit tests of the list family through the in-process client, and a
//! property test against a `VecDeque` model.

use crate::testkit::TestClient;

fn run(t: &mut TestClient, cmd: &str) -> String {
    t.run(&cmd.split(' ').collect::<Vec<_>>())
}

#[test]
fn push_pop_and_counts() {
    let mut t = TestClient::new();
    assert_eq!(run(&mut t, "RPUSH l a b c"), ":3\r\n");
    assert_eq!(run(&mut t, "LPUSH l z"), ":4\r\n");
    assert_eq!(run(&mut t, "LPOP l"), "$1\r\nz\r\n");
    assert_eq!(run(&mut t, "RPOP l 2"), "*2\r\n$1\r\nc\r\n$1\r\nb\r\n");
    assert_eq!(run(&mut t, "LPOP l 0"), "*0\r\n");
    assert_eq!(run(&mut t, "LPOP l 5"), "*1\r\n$1\r\na\r\n");
    assert_eq!(
        run(&mut t, "EXISTS l"),
        ":0\r\n",
        "an emptied list is deleted"
    );
    assert_eq!(run(&mut t, "LPOP l"), "$-1\r\n");
    assert_eq!(run(&mut t, "LPOP l 2"), "*-1\r\n");
    assert_eq!(
        run(&mut t, "LPOP l -1"),
        "-ERR value is out of range, must be positive\r\n"
    );
    assert_eq!(run(&mut t, "LPUSHX l a"), ":0\r\n");
    assert_eq!(run(&mut t, "SET s v"), "+OK\r\n");
    assert_eq!(
        run(&mut t, "RPUSHX s a"),
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert!(run(&mut t, "HELLO 3").starts_with('%'));
    assert_eq!(run(&mut t, "LPOP l 2"), "_\r\n");
    assert_eq!(run(&mut t, "LPOP l"), "_\r\n");
}

#[test]
fn ranges_and_edits() {
    let mut t = TestClient::new();
    run(&mut t, "RPUSH l a b c d e");
    assert_eq!(
        run(&mut t, "LRANGE l -2 100"),
        "*2\r\n$1\r\nd\r\n$1\r\ne\r\n"
    );
    assert_eq!(run(&mut t, "LRANGE l 3 1"), "*0\r\n");
    assert_eq!(run(&mut t, "LINDEX l -1"), "$1\r\ne\r\n");
    assert_eq!(run(&mut t, "LINDEX l 9"), "$-1\r\n");
    assert_eq!(run(&mut t, "LSET l -5 A"), "+OK\r\n");
    assert_eq!(run(&mut t, "LSET l 5 A"), "-ERR index out of range\r\n");
    assert_eq!(run(&mut t, "LSET nokey 0 A"), "-ERR no such key\r\n");
    assert_eq!(run(&mut t, "LINSERT l AFTER A x"), ":6\r\n");
    assert_eq!(run(&mut t, "LINSERT l BEFORE nope x"), ":-1\r\n");
    assert_eq!(run(&mut t, "LREM l 0 x"), ":1\r\n");
    assert_eq!(run(&mut t, "LTRIM l 1 -2"), "+OK\r\n");
    assert_eq!(
        run(&mut t, "LRANGE l 0 -1"),
        "*3\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n"
    );
    assert_eq!(run(&mut t, "LTRIM l 5 10"), "+OK\r\n");
    assert_eq!(run(&mut t, "EXISTS l"), ":0\r\n");
    run(&mut t, "RPUSH l a");
    assert_eq!(
        crate::db::Value::List(Default::default()).encoding(),
        "quicklist",
        "Redis 7.0 reports every list as a quicklist"
    );
}

#[test]
fn lpos_options() {
    let mut t = TestClient::new();
    run(&mut t, "RPUSH l a b c a b c a");
    assert_eq!(run(&mut t, "LPOS l a"), ":0\r\n");
    assert_eq!(run(&mut t, "LPOS l a RANK 2"), ":3\r\n");
    assert_eq!(run(&mut t, "LPOS l a RANK -1"), ":6\r\n");
    assert_eq!(run(&mut t, "LPOS l a COUNT 0"), "*3\r\n:0\r\n:3\r\n:6\r\n");
    assert_eq!(
        run(&mut t, "LPOS l a RANK -2 COUNT 2"),
        "*2\r\n:3\r\n:0\r\n"
    );
    assert_eq!(
        run(&mut t, "LPOS l a COUNT 0 MAXLEN 4"),
        "*2\r\n:0\r\n:3\r\n"
    );
    assert_eq!(
        run(&mut t, "LPOS l a RANK -9223372036854775808"),
        ":6\r\n",
        "as Redis 7.0"
    );
    assert!(run(&mut t, "LPOS l a RANK 0").starts_with("-ERR RANK can't be zero"));
    assert_eq!(
        run(&mut t, "LPOS l a COUNT -1"),
        "-ERR COUNT can't be negative\r\n"
    );
    assert_eq!(
        run(&mut t, "LPOS l a MAXLEN x"),
        "-ERR MAXLEN can't be negative\r\n"
    );
    assert_eq!(run(&mut t, "LPOS l a COUNT"), "-ERR syntax error\r\n");
    assert_eq!(run(&mut t, "LPOS nokey a COUNT 1"), "*0\r\n");
}

#[test]
fn moves_and_mpop() {
    let mut t = TestClient::new();
    run(&mut t, "RPUSH src a b c");
    assert_eq!(run(&mut t, "LMOVE src dst LEFT RIGHT"), "$1\r\na\r\n");
    assert_eq!(run(&mut t, "RPOPLPUSH src dst"), "$1\r\nc\r\n");
    assert_eq!(
        run(&mut t, "LRANGE dst 0 -1"),
        "*2\r\n$1\r\nc\r\n$1\r\na\r\n"
    );
    assert_eq!(
        run(&mut t, "LMOVE src src LEFT RIGHT"),
        "$1\r\nb\r\n",
        "one element rotates onto itself"
    );
    assert_eq!(run(&mut t, "LLEN src"), ":1\r\n");
    assert_eq!(
        run(&mut t, "LMOVE nokey dst LEFT UP"),
        "-ERR syntax error\r\n"
    );
    run(&mut t, "SET s v");
    assert_eq!(
        run(&mut t, "LMOVE src s LEFT LEFT"),
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_eq!(run(&mut t, "LMOVE nokey s LEFT LEFT"), "$-1\r\n");
    assert_eq!(
        run(&mut t, "LMPOP 2 nokey dst RIGHT COUNT 5"),
        "*2\r\n$3\r\ndst\r\n*2\r\n$1\r\na\r\n$1\r\nc\r\n"
    );
    assert_eq!(run(&mut t, "LMPOP 1 nokey LEFT"), "*-1\r\n");
    assert_eq!(
        run(&mut t, "LMPOP 0 nokey LEFT"),
        "-ERR numkeys should be greater than 0\r\n"
    );
    assert_eq!(run(&mut t, "LMPOP 3 a LEFT"), "-ERR syntax error\r\n");
    assert_eq!(
        run(&mut t, "LMPOP 1 a LEFT COUNT 0"),
        "-ERR count should be greater than 0\r\n"
    );
    assert_eq!(
        run(&mut t, "LMPOP 1 a LEFT COUNT 1 COUNT 1"),
        "-ERR syntax error\r\n"
    );
}

#[test]
fn blocking_forms_answer_at_once_when_data_is_there() {
    let mut t = TestClient::new();
    run(&mut t, "RPUSH b x y");
    assert_eq!(run(&mut t, "BLPOP a b 0"), "*2\r\n$1\r\nb\r\n$1\r\nx\r\n");
    assert_eq!(run(&mut t, "BRPOP a b 0"), "*2\r\n$1\r\nb\r\n$1\r\ny\r\n");
    assert_eq!(run(&mut t, "BLPOP a -1"), "-ERR timeout is negative\r\n");
    assert_eq!(
        run(&mut t, "BLPOP a x"),
        "-ERR timeout is not a float or out of range\r\n"
    );
    assert_eq!(
        run(&mut t, "BLMPOP 0 0 a LEFT"),
        "-ERR numkeys should be greater than 0\r\n"
    );
    run(&mut t, "RPUSH b x y");
    assert_eq!(run(&mut t, "BLMOVE b c RIGHT LEFT 0"), "$1\r\ny\r\n");
    assert_eq!(run(&mut t, "BRPOPLPUSH b c 0"), "$1\r\nx\r\n");
    assert_eq!(
        run(&mut t, "BLMPOP 0 2 b c LEFT COUNT 9"),
        "*2\r\n$1\r\nc\r\n*2\r\n$1\r\nx\r\n$1\r\ny\r\n"
    );
}

#[test]
fn a_push_serves_blocked_clients_in_order() {
    let mut pusher = TestClient::new();
    let mut first = TestClient::on(pusher.server.clone());
    let mut second = TestClient::on(pusher.server.clone());
    assert_eq!(run(&mut first, "BLPOP q 0"), "", "blocked: no reply yet");
    assert_eq!(run(&mut second, "BRPOP other q 0"), "");
    let mut w1 = first.client.block.wait.take().expect("first blocked");
    let mut w2 = second.client.block.wait.take().expect("second blocked");
    assert_eq!(pusher.server.keyspace.blocking.blocked_clients(), 2);
    assert_eq!(run(&mut pusher, "RPUSH q a b c"), ":3\r\n");
    assert_eq!(
        w1.reply.try_recv().unwrap(),
        b"*2\r\n$1\r\nq\r\n$1\r\na\r\n"
    );
    assert_eq!(
        w2.reply.try_recv().unwrap(),
        b"*2\r\n$1\r\nq\r\n$1\r\nc\r\n"
    );
    assert_eq!(run(&mut pusher, "LRANGE q 0 -1"), "*1\r\n$1\r\nb\r\n");
    assert_eq!(pusher.server.keyspace.blocking.blocked_clients(), 0);
}

#[test]
fn blmove_serves_into_the_destination_and_chains() {
    let mut pusher = TestClient::new();
    let mut mover = TestClient::on(pusher.server.clone());
    let mut popper = TestClient::on(pusher.server.clone());
    run(&mut mover, "BLMOVE src dst RIGHT LEFT 0");
    run(&mut popper, "BLPOP dst 0");
    let mut moved = mover.client.block.wait.take().unwrap();
    let mut popped = popper.client.block.wait.take().unwrap();
    assert_eq!(run(&mut pusher, "LPUSH src v"), ":1\r\n");
    assert_eq!(moved.reply.try_recv().unwrap(), b"$1\r\nv\r\n");
    assert_eq!(
        popped.reply.try_recv().unwrap(),
        b"*2\r\n$3\r\ndst\r\n$1\r\nv\r\n"
    );
    assert_eq!(run(&mut pusher, "EXISTS src dst"), ":0\r\n");
}

#[test]
fn unblock_and_cancel() {
    let mut admin = TestClient::new();
    let mut waiter = TestClient::on(admin.server.clone());
    run(&mut waiter, "BLMPOP 0 1 q LEFT");
    let id = waiter.client.id.to_string();
    let mut wait = waiter.client.block.wait.take().unwrap();
    assert_eq!(admin.run(&["CLIENT", "UNBLOCK", &id, "ERROR"]), ":1\r\n");
    assert_eq!(
        wait.reply.try_recv().unwrap(),
        b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n"
    );
    assert_eq!(admin.run(&["CLIENT", "UNBLOCK", &id]), ":0\r\n");
    run(&mut waiter, "BLPOP q 0");
    let mut wait = waiter.client.block.wait.take().unwrap();
    assert_eq!(admin.run(&["CLIENT", "UNBLOCK", &id, "TIMEOUT"]), ":1\r\n");
    assert_eq!(wait.reply.try_recv().unwrap(), b"*-1\r\n");
    run(&mut waiter, "BLPOP q 0");
    assert!(admin.server.keyspace.blocking.cancel(waiter.client.id));
    assert_eq!(run(&mut admin, "RPUSH q a"), ":1\r\n");
    assert_eq!(
        run(&mut admin, "LLEN q"),
        ":1\r\n",
        "a gone waiter takes nothing"
    );
}

mod model {
    //! Random command sequences against a `VecDeque` model.

    use std::collections::VecDeque;

    use proptest::prelude::*;

    use crate::testkit::TestClient;

    #[derive(Debug, Clone)]
    enum Op {
        Push(bool, Vec<u8>),
        Pop(bool, Option<u8>),
        Range(i8, i8),
        Index(i8),
        Set(i8, u8),
        Insert(bool, u8, u8),
        Rem(i8, u8),
        Trim(i8, i8),
        Rotate(bool),
        Pos(u8, i8, u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        let elem = 0u8..4;
        prop_oneof![
            3 => (any::<bool>(), proptest::collection::vec(elem.clone(), 1..4)).prop_map(|(l, v)| Op::Push(l, v)),
            2 => (any::<bool>(), proptest::option::of(0u8..4)).prop_map(|(l, c)| Op::Pop(l, c)),
            1 => (-6i8..6, -6i8..6).prop_map(|(a, b)| Op::Range(a, b)),
            1 => (-6i8..6).prop_map(Op::Index),
            1 => (-6i8..6, elem.clone()).prop_map(|(i, e)| Op::Set(i, e)),
            1 => (any::<bool>(), elem.clone(), elem.clone()).prop_map(|(a, p, e)| Op::Insert(a, p, e)),
            1 => (-3i8..3, elem.clone()).prop_map(|(c, e)| Op::Rem(c, e)),
            1 => (-6i8..6, -6i8..6).prop_map(|(a, b)| Op::Trim(a, b)),
            1 => any::<bool>().prop_map(Op::Rotate),
            1 => (elem, -3i8..3, 0u8..3).prop_map(|(e, r, c)| Op::Pos(e, r, c)),
        ]
    }

    fn name(e: u8) -> String {
        format!("e{e}")
    }

    fn bulk(s: &str) -> String {
        format!("${}\r\n{s}\r\n", s.len())
    }

    fn array(items: impl ExactSizeIterator<Item = String>) -> String {
        let mut out = format!("*{}\r\n", items.len());
        items.for_each(|i| out.push_str(&bulk(&i)));
        out
    }

    fn resolve(len: usize, i: i64) -> Option<usize> {
        let i = if i < 0 { len as i64 + i } else { i };
        (0..len as i64).contains(&i).then_some(i as usize)
    }

    fn clamp(len: usize, a: i64, b: i64) -> Option<(usize, usize)> {
        let len = len as i64;
        let a = if a < 0 { (len + a).max(0) } else { a };
        let b = if b < 0 { len + b } else { b.min(len - 1) };
        (a <= b && a < len).then_some((a as usize, b as usize))
    }

    /// Applies `op` to the model; returns the command and its expected reply.
    fn apply(m: &mut VecDeque<String>, op: &Op) -> (Vec<String>, String) {
        let s = |x: &str| x.to_string();
        match op {
            Op::Push(left, elems) => {
                let mut cmd = vec![s(if *left { "LPUSH" } else { "RPUSH" }), s("k")];
                for &e in elems {
                    cmd.push(name(e));
                    if *left {
                        m.push_front(name(e))
                    } else {
                        m.push_back(name(e))
                    }
                }
                (cmd, format!(":{}\r\n", m.len()))
            }
            Op::Pop(left, count) => {
                let mut cmd = vec![s(if *left { "LPOP" } else { "RPOP" }), s("k")];
                let mut take = || if *left { m.pop_front() } else { m.pop_back() };
                match count {
                    None => (cmd, take().map_or(s("$-1\r\n"), |e| bulk(&e))),
                    Some(c) => {
                        cmd.push(c.to_string());
                        let was_empty = m.is_empty();
                        let popped: Vec<String> = (0..*c)
                            .map_while(|_| if *left { m.pop_front() } else { m.pop_back() })
                            .collect();
                        (
                            cmd,
                            if was_empty {
                                s("*-1\r\n")
                            } else {
                                array(popped.into_iter())
                            },
                        )
                    }
                }
            }
            Op::Range(a, b) => {
                let cmd = vec![s("LRANGE"), s("k"), a.to_string(), b.to_string()];
                let reply = match clamp(m.len(), *a as i64, *b as i64) {
                    Some((a, b)) => array(m.range(a..=b).cloned().collect::<Vec<_>>().into_iter()),
                    None => s("*0\r\n"),
                };
                (cmd, reply)
            }
            Op::Index(i) => {
                let cmd = vec![s("LINDEX"), s("k"), i.to_string()];
                (
                    cmd,
                    resolve(m.len(), *i as i64).map_or(s("$-1\r\n"), |i| bulk(&m[i])),
                )
            }
            Op::Set(i, e) => {
                let cmd = vec![s("LSET"), s("k"), i.to_string(), name(*e)];
                let reply = if m.is_empty() {
                    s("-ERR no such key\r\n")
                } else if let Some(i) = resolve(m.len(), *i as i64) {
                    m[i] = name(*e);
                    s("+OK\r\n")
                } else {
                    s("-ERR index out of range\r\n")
                };
                (cmd, reply)
            }
            Op::Insert(after, p, e) => {
                let cmd = vec![
                    s("LINSERT"),
                    s("k"),
                    s(if *after { "AFTER" } else { "BEFORE" }),
                    name(*p),
                    name(*e),
                ];
                let reply = if m.is_empty() {
                    s(":0\r\n")
                } else if let Some(at) = m.iter().position(|x| *x == name(*p)) {
                    m.insert(at + *after as usize, name(*e));
                    format!(":{}\r\n", m.len())
                } else {
                    s(":-1\r\n")
                };
                (cmd, reply)
            }
            Op::Rem(c, e) => {
                let cmd = vec![s("LREM"), s("k"), c.to_string(), name(*e)];
                let limit = if *c == 0 {
                    usize::MAX
                } else {
                    c.unsigned_abs() as usize
                };
                let mut idx: Vec<usize> = (0..m.len()).filter(|&i| m[i] == name(*e)).collect();
                if *c < 0 {
                    idx.reverse();
                }
                idx.truncate(limit);
                idx.sort_unstable();
                for &i in idx.iter().rev() {
                    m.remove(i);
                }
                (cmd, format!(":{}\r\n", idx.len()))
            }
            Op::Trim(a, b) => {
                let cmd = vec![s("LTRIM"), s("k"), a.to_string(), b.to_string()];
                *m = match clamp(m.len(), *a as i64, *b as i64) {
                    Some((a, b)) => m.range(a..=b).cloned().collect(),
                    None => VecDeque::new(),
                };
                (cmd, s("+OK\r\n"))
            }
            Op::Rotate(left) => {
                let dir = if *left { "LEFT" } else { "RIGHT" };
                let cmd = vec![
                    s("LMOVE"),
                    s("k"),
                    s("k"),
                    s(dir),
                    s(if *left { "RIGHT" } else { "LEFT" }),
                ];
                let reply = if *left {
                    m.pop_front().map(|e| {
                        m.push_back(e.clone());
                        bulk(&e)
                    })
                } else {
                    m.pop_back().map(|e| {
                        m.push_front(e.clone());
                        bulk(&e)
                    })
                };
                (cmd, reply.unwrap_or(s("$-1\r\n")))
            }
            Op::Pos(e, rank, count) => {
                let rank = if *rank == 0 { 1 } else { *rank as i64 };
                let cmd = vec![
                    s("LPOS"),
                    s("k"),
                    name(*e),
                    s("RANK"),
                    rank.to_string(),
                    s("COUNT"),
                    count.to_string(),
                ];
                let mut hits: Vec<usize> = (0..m.len()).filter(|&i| m[i] == name(*e)).collect();
                if rank < 0 {
                    hits.reverse();
                }
                let hits: Vec<usize> = hits
                    .into_iter()
                    .skip(rank.unsigned_abs() as usize - 1)
                    .take(if *count == 0 {
                        usize::MAX
                    } else {
                        *count as usize
                    })
                    .collect();
                let mut reply = format!("*{}\r\n", hits.len());
                hits.iter()
                    .for_each(|h| reply.push_str(&format!(":{h}\r\n")));
                (cmd, reply)
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn lists_behave_like_a_deque(ops in proptest::collection::vec(op(), 1..40)) {
            let mut t = TestClient::new();
            let mut model = VecDeque::new();
            for op in &ops {
                let (cmd, expected) = apply(&mut model, op);
                prop_assert_eq!(t.run(&cmd), expected, "{:?}", cmd);
                prop_assert_eq!(t.run(&["LLEN", "k"]), format!(":{}\r\n", model.len()));
                prop_assert_eq!(t.run(&["EXISTS", "k"]), format!(":{}\r\n", !model.is_empty() as u8));
            }
        }
    }
}

#[test]
fn blmove_whose_destination_shard_is_busy_is_served_after_the_push() {
    let mut pusher = TestClient::new();
    let server = pusher.server.clone();
    let mut mover = TestClient::on(server.clone());
    // Pick a destination in another shard than the source.
    let shard = |k: &str| {
        server
            .keyspace
            .shard_of(crate::db::dict::hash_key(k.as_bytes()))
    };
    let dst = (0..1000)
        .map(|i| format!("dst{i}"))
        .find(|k| shard(k) != shard("src"))
        .unwrap();
    mover.run(&["BLMOVE", "src", &dst, "LEFT", "LEFT", "0"]);
    let mut wait = mover.client.block.wait.take().unwrap();
    let busy = server.keyspace.lock_keys([dst.as_bytes()]);
    let pushing = std::thread::spawn(move || pusher.run(&["RPUSH", "src", "v"]));
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert!(
        wait.reply.try_recv().is_err(),
        "not served while the destination is held"
    );
    drop(busy);
    assert_eq!(pushing.join().unwrap(), ":1\r\n");
    assert_eq!(wait.reply.try_recv().unwrap(), b"$1\r\nv\r\n");
    let mut check = TestClient::on(server);
    assert_eq!(check.run(&["LRANGE", &dst, "0", "-1"]), "*1\r\n$1\r\nv\r\n");
    assert_eq!(check.run(&["EXISTS", "src"]), ":0\r\n");
}
