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
    assert_eq!(run(&mut t, "HELLO 3").starts_with('%'), true);
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
    assert_eq!(run(&mut t, "LPOS l a RANK -9223372036854775808"), "$-1\r\n");
    assert_eq!(
        run(&mut t, "LPOS l a RANK 0").starts_with("-ERR RANK can't be zero"),
        true
    );
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
