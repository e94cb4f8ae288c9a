use crate::testkit::TestClient;

#[test]
fn specs_match_redis() {
    let expected = [
        (
            "eval",
            -3,
            "noscript stale skip_monitor no_mandatory_keys movablekeys",
            (0, 0, 0),
            "slow scripting",
        ),
        (
            "evalsha",
            -3,
            "noscript stale skip_monitor no_mandatory_keys movablekeys",
            (0, 0, 0),
            "slow scripting",
        ),
        (
            "eval_ro",
            -3,
            "readonly noscript stale skip_monitor no_mandatory_keys movablekeys",
            (0, 0, 0),
            "slow scripting",
        ),
        (
            "evalsha_ro",
            -3,
            "readonly noscript stale skip_monitor no_mandatory_keys movablekeys",
            (0, 0, 0),
            "slow scripting",
        ),
    ];
    crate::cmd::spec::assert_specs_match_redis(&super::COMMANDS[..4], &expected);
    let subcommands = [
        ("load", 3, "noscript stale", (0, 0, 0), "slow scripting"),
        ("exists", -3, "noscript", (0, 0, 0), "slow scripting"),
        ("flush", -2, "noscript", (0, 0, 0), "slow scripting"),
        (
            "kill",
            2,
            "noscript allow_busy",
            (0, 0, 0),
            "slow scripting",
        ),
        ("help", 2, "loading stale", (0, 0, 0), "slow scripting"),
    ];
    crate::cmd::spec::assert_specs_match_redis(super::SCRIPT_SUBCOMMANDS, &subcommands);
}

#[test]
fn scripts_run_commands_on_undeclared_keys_and_are_cached() {
    let mut t = TestClient::new();
    assert_eq!(
        t.run(&[
            "EVAL",
            "redis.call('set', 'other', ARGV[1]); return redis.call('incr', KEYS[1])",
            "1",
            "counter",
            "v"
        ]),
        ":1\r\n"
    );
    assert_eq!(t.run(&["GET", "other"]), "$1\r\nv\r\n");
    let sha = crate::script::sha1_hex(b"return redis.call('get', KEYS[1])");
    assert_eq!(
        t.run(&["EVALSHA", &sha, "1", "other"]),
        "-NOSCRIPT No matching script. Please use EVAL.\r\n"
    );
    t.run(&["SCRIPT", "LOAD", "return redis.call('get', KEYS[1])"]);
    assert_eq!(t.run(&["EVALSHA", &sha, "1", "other"]), "$1\r\nv\r\n");
    assert_eq!(t.server.scripts.cached_count(), 2);
    assert_eq!(t.run(&["SCRIPT", "FLUSH"]), "+OK\r\n");
    assert_eq!(t.run(&["SCRIPT", "EXISTS", &sha]), "*1\r\n:0\r\n");
}

#[test]
fn numkeys_errors_match_redis() {
    let mut t = TestClient::new();
    assert_eq!(
        t.run(&["EVAL", "return 1", "-1"]),
        "-ERR Number of keys can't be negative\r\n"
    );
    assert_eq!(
        t.run(&["EVAL", "return 1", "2", "a"]),
        "-ERR Number of keys can't be greater than number of args\r\n"
    );
    assert_eq!(
        t.run(&["EVAL", "return 1", "x"]),
        "-ERR value is not an integer or out of range\r\n"
    );
}

#[test]
fn read_only_scripts_refuse_writes_and_errors_name_the_line() {
    let mut t = TestClient::new();
    let reply = t.run(&["EVAL_RO", "\nreturn redis.call('set', 'a', 'b')", "0"]);
    assert!(
        reply.starts_with("-ERR Write commands are not allowed from read-only scripts. script: "),
        "{reply}"
    );
    assert!(reply.ends_with(", on @user_script:2.\r\n"), "{reply}");
    assert_eq!(t.run(&["EXISTS", "a"]), ":0\r\n");
}

#[test]
fn select_in_a_script_does_not_move_the_caller() {
    let mut t = TestClient::new();
    assert_eq!(
        t.run(&[
            "EVAL",
            "redis.call('select', 1); return redis.call('set', 'k', 'v')",
            "0"
        ]),
        "+OK\r\n"
    );
    assert_eq!(t.client.db, 0);
    assert_eq!(t.run(&["EXISTS", "k"]), ":0\r\n");
    t.run(&["SELECT", "1"]);
    assert_eq!(t.run(&["EXISTS", "k"]), ":1\r\n");
}

#[test]
fn scripts_inside_exec_run_under_its_locks() {
    let mut t = TestClient::new();
    t.run(&["MULTI"]);
    t.run(&["EVAL", "return redis.call('incr', KEYS[1])", "1", "n"]);
    t.run(&["EVAL", "return redis.call('incr', KEYS[1])", "1", "n"]);
    assert_eq!(t.run(&["EXEC"]), "*2\r\n:1\r\n:2\r\n");
}

#[test]
fn blocking_commands_are_refused_in_scripts() {
    let mut t = TestClient::new();
    let reply = t.run(&["EVAL", "return redis.call('blpop', 'l', 0)", "0"]);
    assert!(reply.starts_with("-ERR This Redis command is not allowed from script"));
    assert!(t.client.block.wait.is_none());
}
