//! Blocking stream reads over real sockets against the built binary: XREAD
//! BLOCK served by XADD from another client in order, XREADGROUP BLOCK `>`
//! handing each entry to exactly one consumer, timeouts, MULTI/EXEC writers,
//! and waiters whose stream or group disappears.

mod common;

use std::time::{Duration, Instant};

use common::{Conn, ServerProcess};

fn text(reply: Vec<u8>) -> String {
    String::from_utf8_lossy(&reply).into_owned()
}

fn read(conn: &mut Conn) -> String {
    text(conn.read_reply().expect("a reply"))
}

#[test]
fn xread_block_is_served_by_xadd_in_blocking_order() {
    let server = ServerProcess::ferrokv(&[]);
    let mut readers: Vec<Conn> = (0..3).map(|_| server.connect()).collect();
    for (i, reader) in readers.iter_mut().enumerate() {
        reader.set_timeout(Duration::from_secs(5));
        reader.send(&["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]);
        server.wait_blocked(i + 1);
    }
    let mut writer = server.connect();
    assert_eq!(
        writer.cmd_text(&["XADD", "s", "1-1", "f", "v"]),
        "$3\r\n1-1\r\n"
    );
    let expected = "*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n1-1\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n";
    for reader in &mut readers {
        assert_eq!(read(reader), expected, "every XREAD sees the new entry");
    }
    server.wait_blocked(0);
}

#[test]
fn dollar_means_entries_after_the_last_id_at_blocking_time() {
    let server = ServerProcess::ferrokv(&[]);
    let mut writer = server.connect();
    writer.cmd(&["XADD", "s", "5-0", "old", "1"]);
    let mut reader = server.connect();
    reader.set_timeout(Duration::from_secs(5));
    reader.send(&["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]);
    server.wait_blocked(1);
    // A deletion marks the key but brings nothing new: still blocked.
    writer.cmd(&["XDEL", "s", "5-0"]);
    writer.cmd(&["XADD", "s", "6-0", "new", "1"]);
    let reply = read(&mut reader);
    assert!(reply.contains("6-0") && !reply.contains("5-0"), "{reply}");
}

#[test]
fn xreadgroup_block_delivers_each_entry_to_exactly_one_consumer() {
    let server = ServerProcess::ferrokv(&[]);
    let mut admin = server.connect();
    admin.cmd(&["XGROUP", "CREATE", "jobs", "g", "$", "MKSTREAM"]);
    let mut consumers: Vec<Conn> = (0..3).map(|_| server.connect()).collect();
    for (i, c) in consumers.iter_mut().enumerate() {
        c.set_timeout(Duration::from_secs(5));
        let name = format!("c{i}");
        c.send(&[
            "XREADGROUP",
            "GROUP",
            "g",
            &name,
            "BLOCK",
            "0",
            "STREAMS",
            "jobs",
            ">",
        ]);
        server.wait_blocked(i + 1);
    }
    for n in 1..=3 {
        admin.cmd(&["XADD", "jobs", &format!("{n}-0"), "job", &n.to_string()]);
    }
    let mut seen: Vec<String> = consumers.iter_mut().map(read).collect();
    // In blocking order: the first consumer gets the first job, and so on.
    for (i, reply) in seen.iter().enumerate() {
        assert!(reply.contains(&format!("{}-0", i + 1)), "{reply}");
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 3, "no entry delivered twice");
    let pending = admin.cmd_text(&["XPENDING", "jobs", "g"]);
    assert!(pending.starts_with("*4\r\n:3\r\n"), "{pending}");
}

#[test]
fn timeouts_answer_with_a_null_array() {
    let server = ServerProcess::ferrokv(&[]);
    let mut admin = server.connect();
    admin.cmd(&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]);
    let mut reader = server.connect();
    let started = Instant::now();
    assert_eq!(
        reader.cmd_text(&["XREAD", "BLOCK", "50", "STREAMS", "s", "$"]),
        "*-1\r\n"
    );
    assert_eq!(
        reader.cmd_text(&[
            "XREADGROUP",
            "GROUP",
            "g",
            "c",
            "BLOCK",
            "50",
            "STREAMS",
            "s",
            ">"
        ]),
        "*-1\r\n"
    );
    assert!(started.elapsed() >= Duration::from_millis(100));
    server.wait_blocked(0);
}

#[test]
fn xadd_inside_multi_exec_serves_a_blocked_reader() {
    let server = ServerProcess::ferrokv(&[]);
    let mut reader = server.connect();
    reader.set_timeout(Duration::from_secs(5));
    reader.send(&["XREAD", "BLOCK", "0", "STREAMS", "s", "0"]);
    server.wait_blocked(1);
    let mut writer = server.connect();
    writer.cmd(&["MULTI"]);
    writer.cmd(&["XADD", "s", "1-0", "a", "1"]);
    writer.cmd(&["XADD", "s", "2-0", "b", "2"]);
    let exec = writer.cmd_text(&["EXEC"]);
    assert_eq!(exec, "*2\r\n$3\r\n1-0\r\n$3\r\n2-0\r\n");
    let reply = read(&mut reader);
    assert!(
        reply.contains("1-0") && reply.contains("2-0"),
        "both entries: {reply}"
    );
    // Inside MULTI a blocking read answers at once.
    writer.cmd(&["MULTI"]);
    writer.cmd(&["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]);
    assert_eq!(writer.cmd_text(&["EXEC"]), "*1\r\n*-1\r\n");
}

#[test]
fn waiters_learn_their_stream_or_group_is_gone() {
    let server = ServerProcess::ferrokv(&[]);
    let mut admin = server.connect();
    let mut reader = server.connect();
    reader.set_timeout(Duration::from_secs(5));

    admin.cmd(&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]);
    reader.send(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "c",
        "BLOCK",
        "0",
        "STREAMS",
        "s",
        ">",
    ]);
    server.wait_blocked(1);
    admin.cmd(&["DEL", "s"]);
    assert_eq!(
        read(&mut reader),
        "-UNBLOCKED the stream key no longer exists\r\n"
    );

    admin.cmd(&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]);
    reader.send(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "c",
        "BLOCK",
        "0",
        "STREAMS",
        "s",
        ">",
    ]);
    server.wait_blocked(1);
    admin.cmd(&["XGROUP", "DESTROY", "s", "g"]);
    assert_eq!(
        read(&mut reader),
        "-NOGROUP the consumer group this client was blocked on no longer exists\r\n"
    );

    // A plain XREAD keeps waiting when its key is replaced by a string.
    reader.send(&["XREAD", "BLOCK", "0", "STREAMS", "s2", "$"]);
    server.wait_blocked(1);
    admin.cmd(&["SET", "s2", "x"]);
    admin.cmd(&["DEL", "s2"]);
    server.wait_blocked(1);
    admin.cmd(&["XADD", "s2", "1-0", "f", "v"]);
    assert!(read(&mut reader).contains("1-0"));
}

#[test]
fn a_later_reader_is_served_when_an_earlier_one_waits_for_more() {
    let server = ServerProcess::ferrokv(&[]);
    let mut admin = server.connect();
    let mut far = server.connect();
    let mut near = server.connect();
    near.set_timeout(Duration::from_secs(5));
    far.send(&["XREAD", "BLOCK", "0", "STREAMS", "s", "100-0"]);
    server.wait_blocked(1);
    near.send(&["XREAD", "BLOCK", "0", "STREAMS", "s", "0"]);
    server.wait_blocked(2);
    admin.cmd(&["XADD", "s", "50-0", "f", "v"]);
    assert!(read(&mut near).contains("50-0"));
    server.wait_blocked(1);
}
