//! Unit tests for loading, CLI merging, the table and CONFIG REWRITE.

use super::*;

fn load(text: &str) -> Result<Config, String> {
    let mut config = Config::default();
    config.load_text(text)?;
    Ok(config)
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// A fresh directory under the system temp dir for one test.
fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ferrokv-config-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn table_defaults_match_typed_defaults() {
    let config = Config::default();
    for directive in DIRECTIVES {
        let canonical = directive
            .kind
            .parse(directive.default, directive.default)
            .unwrap_or_else(|e| panic!("{}: default invalid: {e}", directive.name));
        assert_eq!(
            canonical, directive.default,
            "{} default not canonical",
            directive.name
        );
        assert_eq!(
            config.get(directive),
            directive.default,
            "{}",
            directive.name
        );
    }
}

#[test]
fn table_names_are_unique_and_lowercase() {
    let mut names: Vec<&str> = DIRECTIVES
        .iter()
        .filter(|d| !d.hidden)
        .flat_map(|d| d.names())
        .collect();
    assert!(names.iter().all(|n| *n == n.to_ascii_lowercase()));
    let count = names.len();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), count);
    // Redis 7.0.15 (with TLS) answers CONFIG GET * with 192 names.
    assert_eq!(count, 192);
}

#[test]
fn parses_directives_quotes_and_case() {
    let config = load(
        "# comment\n\n  PORT 7000\nbind 127.0.0.1 ::1\nrequirepass \"p a\\x41ss\"\nloglevel WARNING\nmaxmemory 2MB\nhz '20'\n",
    )
    .unwrap();
    assert_eq!(config.port, 7000);
    assert_eq!(config.bind, ["127.0.0.1", "::1"]);
    assert_eq!(config.requirepass.as_deref(), Some(&b"p aAss"[..]));
    assert_eq!(config.loglevel, "warning");
    assert_eq!(config.maxmemory, 2 << 20);
    assert_eq!(config.hz, 20);
}

#[test]
fn repeated_directives() {
    let config = load("save 100 1\nsave 200 2 300 3\nhz 15\nhz 16\nrename-command ECHO \"\"\nrename-command GET get2\n").unwrap();
    assert_eq!(config.value("save").unwrap(), "100 1 200 2 300 3");
    assert_eq!(config.hz, 16);
    assert_eq!(
        config.renames,
        [
            ("ECHO".to_string(), String::new()),
            ("GET".to_string(), "get2".to_string())
        ]
    );
    let err = load("rename-command get \"\"\nrename-command GET foo\n").unwrap_err();
    assert!(err.ends_with("No such command in rename-command"), "{err}");
    let reset = load("save 100 1\nsave \"\"\n").unwrap();
    assert_eq!(reset.value("save").unwrap(), "");
}

#[test]
fn unimplemented_directives_are_kept_and_noted() {
    let config = load("list-max-ziplist-entries 5\nactiverehashing no\nnotify-keyspace-events KEA\nslaveof 10.0.0.1 6380\nuser alice on >pw ~* +@all\n").unwrap();
    assert_eq!(config.value("activerehashing").unwrap(), "no");
    assert_eq!(
        config.display(directives::find("notify-keyspace-events").unwrap()),
        "AKE"
    );
    assert_eq!(config.value("replicaof").unwrap(), "10.0.0.1 6380");
    assert_eq!(config.users, [["alice", "on", ">pw", "~*", "+@all"]]);
    assert_eq!(
        config.ignored,
        ["list-max-ziplist-entries", "activerehashing", "replicaof"]
    );
}

fn fatal_line(text: &str) -> String {
    load(text).unwrap_err()
}

#[test]
fn every_error_kind_reads_like_redis() {
    let cases = [
        (
            "port \"abc\"",
            "argument couldn't be parsed into an integer",
        ),
        ("foo bar", "Bad directive or wrong number of arguments"),
        ("port 1 2", "wrong number of arguments"),
        ("port", "wrong number of arguments"),
        (
            "loglevel nothing",
            "argument(s) must be one of the following: debug, verbose, notice, warning",
        ),
        (
            "hz 99999999999",
            "argument must be between 0 and 2147483647 inclusive",
        ),
        (
            "maxclients 0",
            "argument must be between 1 and 4294967295 inclusive",
        ),
        ("maxmemory 1.5gb", "argument must be a memory value"),
        ("save 1 2 3", "Invalid save parameters"),
        ("appendonly maybe", "argument must be 'yes' or 'no'"),
        (
            "rename-command foo",
            "Bad directive or wrong number of arguments",
        ),
        ("requirepass \"a", "Unbalanced quotes in configuration line"),
        (
            "databases 0",
            "argument must be between 1 and 2147483647 inclusive",
        ),
        (
            "unixsocketperm 778",
            "argument couldn't be parsed as an octal number",
        ),
        (
            "notify-keyspace-events Z",
            "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.",
        ),
        (
            "client-output-buffer-limit x 1 2 3",
            "Invalid client class specified in buffer limit configuration.",
        ),
        ("slaveof a", "wrong number of arguments"),
        ("include", "Bad directive or wrong number of arguments"),
        (
            "rename-command NOSUCH foo",
            "No such command in rename-command",
        ),
    ];
    for (line, why) in cases {
        let expected = format!(
            "\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\nReading the configuration file, at line 2\n>>> '{line}'\n{why}"
        );
        assert_eq!(fatal_line(&format!("# c\n{line}\n")), expected, "{line}");
    }
}

#[test]
fn options_override_the_file_in_order() {
    let dir = temp_dir("cli");
    let path = dir.join("a.conf");
    std::fs::write(&path, "hz 10\nport 7000\nmaxmemory 1mb\n").unwrap();
    let config = Config::from_args(&args(&[
        path.to_str().unwrap(),
        "--port",
        "7001",
        "--maxmemory",
        "2mb",
        "--bind",
        "127.0.0.1",
        "::1",
        "--save",
    ]))
    .unwrap();
    assert_eq!(config.port, 7001);
    assert_eq!(config.hz, 10);
    assert_eq!(config.maxmemory, 2 << 20);
    assert_eq!(config.bind, ["127.0.0.1", "::1"]);
    assert_eq!(config.value("save").unwrap(), "");
    assert!(config.config_file.as_ref().unwrap().is_absolute());
    // An option error counts lines after the file and a separator line.
    let err = Config::from_args(&args(&[path.to_str().unwrap(), "--port", "abc"])).unwrap_err();
    assert!(err.contains("at line 5\n>>> 'port \"abc\"'\n"), "{err}");
    let err = Config::from_args(&args(&["--port", "7401", "--hz", "abc"])).unwrap_err();
    assert!(err.contains("at line 3\n>>> 'hz \"abc\"'\n"), "{err}");
    let missing = Config::from_args(&args(&["/nonexistent/x.conf"])).unwrap_err();
    assert_eq!(
        missing,
        "Fatal error, can't open config file '/nonexistent/x.conf': No such file or directory"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn include_is_relative_to_the_working_directory_and_globs() {
    let dir = temp_dir("include");
    std::fs::write(dir.join("one.conf"), "hz 20\n").unwrap();
    std::fs::write(dir.join("two.conf"), "maxclients 50\n").unwrap();
    std::fs::write(dir.join("bad.inc"), "\n\nhz abc\n").unwrap();
    let config = load(&format!("include {}\n", dir.join("*.conf").display())).unwrap();
    assert_eq!((config.hz, config.maxclients), (20, 50));
    // An error inside an included file reports that file's line.
    let err = load(&format!(
        "hz 1\ninclude {}\n",
        dir.join("bad.inc").display()
    ))
    .unwrap_err();
    assert!(err.contains("at line 3\n>>> 'hz abc'\n"), "{err}");
    let err = load("include ferrokv-no-such-file.conf\n").unwrap_err();
    assert!(err.starts_with("Fatal error, can't open config file 'ferrokv-no-such-file.conf'"));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn set_pairs_is_all_or_nothing() {
    let mut config = Config::default();
    let err = config
        .set_pairs(&[("hz", "50"), ("maxmemory-policy", "bogus")], true)
        .unwrap_err();
    assert!(err.contains("'maxmemory-policy'"), "{err}");
    assert_eq!(config.hz, 10);
    config
        .set_pairs(
            &[
                ("hz", "50"),
                ("maxmemory-policy", "ALLKEYS-LRU"),
                ("timeout", "30"),
            ],
            true,
        )
        .unwrap();
    assert_eq!(
        (config.hz, config.maxmemory_policy.as_str(), config.timeout),
        (50, "allkeys-lru", 30)
    );
    config
        .set_pairs(&[("client-output-buffer-limit", "pubsub 1mb 0 0")], true)
        .unwrap();
    assert_eq!(
        config.value("client-output-buffer-limit").unwrap(),
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 1048576 0 0"
    );
}

#[test]
fn rewrite_keeps_comments_and_unknown_lines() {
    let old = "# top comment\nport 7402\nhz 15\n# about maxmemory\nmaxmemory 100mb\nsave 100 1\nsave 200 2\nrename-command ECHO \"\"\nhz 16\nslave-priority 5\n   # indented comment\nbind 127.0.0.1\n";
    let mut config = load(old).unwrap();
    config
        .set_pairs(
            &[
                ("maxmemory", "2gb"),
                ("hz", "10"),
                ("timeout", "30"),
                ("save", "1 1 2 2 3 3"),
                ("notify-keyspace-events", "KEA"),
                ("requirepass", "a b\"c"),
                ("replica-priority", "7"),
            ],
            true,
        )
        .unwrap();
    let new = rewrite::rewrite_text(&config, old);
    assert_eq!(
        new,
        "# top comment\nport 7402\nhz 10\n# about maxmemory\nmaxmemory 2gb\nsave 1 1\nsave 2 2\nrename-command ECHO \"\"\n\nreplica-priority 7\n# indented comment\nbind 127.0.0.1\n\n# Generated by CONFIG REWRITE\nnotify-keyspace-events \"AKE\"\nrequirepass \"a b\\\"c\"\nsave 3 3\ntimeout 30\n"
    );
    // The rewritten file loads back to the same values.
    let reloaded = load(&new).unwrap();
    for directive in DIRECTIVES {
        assert_eq!(
            reloaded.get(directive),
            config.get(directive),
            "{}",
            directive.name
        );
    }
    // Rewriting again changes nothing.
    assert_eq!(rewrite::rewrite_text(&reloaded, &new), new);
}

#[test]
fn rewrite_writes_the_file() {
    let dir = temp_dir("rewrite");
    let path = dir.join("r.conf");
    std::fs::write(&path, "# keep me\nhz 12\n").unwrap();
    let mut config = Config::from_args(&args(&[path.to_str().unwrap()])).unwrap();
    config.set_pairs(&[("hz", "13")], true).unwrap();
    config.rewrite().unwrap();
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "# keep me\nhz 13\n"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn annotated_default_config_yields_the_defaults() {
    let text = include_str!("../../conf/ferrokv.conf");
    let config = load(text).unwrap();
    let defaults = Config::default();
    let mut mentioned = 0;
    for directive in DIRECTIVES {
        assert_eq!(
            config.get(directive),
            defaults.get(directive),
            "{}",
            directive.name
        );
        let listed = text
            .lines()
            .any(|l| l.split_whitespace().next() == Some(directive.name));
        if directive.implemented {
            assert!(
                listed,
                "{} is implemented but not in conf/ferrokv.conf",
                directive.name
            );
            mentioned += 1;
        }
    }
    assert!(mentioned > 10);
    assert!(config.ignored.is_empty(), "{:?}", config.ignored);
}

#[test]
fn tokenizer_follows_redis_quoting() {
    let split = |line: &str| file::split_line(line);
    assert_eq!(
        split("rename-command  CONFIG \"\"").unwrap(),
        ["rename-command", "CONFIG", ""]
    );
    assert_eq!(
        split("requirepass \"a\\\"b\\n\\x41\" 'it\\'s'").unwrap(),
        ["requirepass", "a\"b\nA", "it's"]
    );
    assert_eq!(split("save\t900 1").unwrap(), ["save", "900", "1"]);
    assert_eq!(split("x \"open"), None);
    assert_eq!(split("x \"closed\"glued"), None);
    let err = load("hz \"10\"x\n").unwrap_err();
    assert!(
        err.ends_with("Unbalanced quotes in configuration line"),
        "{err}"
    );
}

#[test]
fn protected_dir_needs_permission_and_an_existing_directory() {
    let mut config = Config::default();
    let refused = config.set_pairs(&[("dir", "/")], true).unwrap_err();
    assert!(refused.ends_with("can't set protected config"), "{refused}");
    config
        .other
        .insert("enable-protected-configs", "local".into());
    assert!(config.set_pairs(&[("dir", "/")], false).is_err());
    config.set_pairs(&[("dir", "/")], true).unwrap();
    assert_eq!(config.dir, "/");
    assert_eq!(
        config.set_pairs(&[("dir", "/nonexistent-ferrokv")], true),
        Err("ERR CONFIG SET failed (possibly related to argument 'dir') - No such file or directory".into())
    );
    assert_eq!(config.dir, "/");
}

#[test]
fn password_env_vars_override_the_file_and_prefer_ferrokv_password() {
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    };
    let mut config = load("requirepass fromfile\n").unwrap();
    assert_eq!(config.apply_password_env(env(&[])), None);
    assert_eq!(config.requirepass.as_deref(), Some(&b"fromfile"[..]));

    // An empty variable (an unfilled dashboard placeholder) is no password.
    assert_eq!(
        config.apply_password_env(env(&[("REDIS_PASSWORD", "")])),
        None
    );
    assert_eq!(config.requirepass.as_deref(), Some(&b"fromfile"[..]));

    let used = config.apply_password_env(env(&[("REDIS_PASSWORD", "r")]));
    assert_eq!(used, Some("REDIS_PASSWORD"));
    assert_eq!(config.requirepass.as_deref(), Some(&b"r"[..]));

    let both = env(&[("REDIS_PASSWORD", "r"), ("FERROKV_PASSWORD", "f")]);
    assert_eq!(config.apply_password_env(both), Some("FERROKV_PASSWORD"));
    assert_eq!(config.requirepass.as_deref(), Some(&b"f"[..]));
}
