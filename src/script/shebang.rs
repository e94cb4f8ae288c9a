//! Redis 7.0's EVAL shebang: a first line `#!lua [flags=f1,f2...]` declares
//! the script's flags; a script without one runs in compatibility mode.

/// `no-writes`: the script may not call write commands (EVAL_RO may run it).
pub const NO_WRITES: u8 = 1;
/// `allow-oom`: `denyoom` commands run even when over `maxmemory`.
pub const ALLOW_OOM: u8 = 2;
/// `allow-stale`, `no-cluster`, `allow-cross-slot-keys`: accepted; they only
/// matter on replicas and in cluster mode.
const ACCEPTED: u8 = 4;

/// Parses the shebang of `body`: None without one, else the flags and the
/// length of the shebang line (the body compiles from its newline on, so
/// error line numbers count it). The error is Redis's reply text.
pub fn parse(body: &[u8]) -> Result<Option<(u8, usize)>, String> {
    if !body.starts_with(b"#!") {
        return Ok(None);
    }
    let Some(end) = body.iter().position(|&b| b == b'\n') else {
        return Err("ERR Invalid script shebang".into());
    };
    let mut parts = body[..end]
        .split(|b| b.is_ascii_whitespace())
        .filter(|p| !p.is_empty());
    let engine = parts.next().unwrap_or(b"#!");
    if engine != b"#!lua" {
        return Err(format!(
            "ERR Unexpected engine in script shebang: {}",
            String::from_utf8_lossy(engine)
        ));
    }
    let mut flags = 0;
    for part in parts {
        let Some(list) = part.strip_prefix(b"flags=") else {
            return Err(format!(
                "ERR Unknown lua shebang option: {}",
                String::from_utf8_lossy(part)
            ));
        };
        if list.is_empty() {
            continue;
        }
        for flag in list.split(|&b| b == b',') {
            flags |= match flag {
                b"no-writes" => NO_WRITES,
                b"allow-oom" => ALLOW_OOM,
                b"allow-stale" | b"no-cluster" | b"allow-cross-slot-keys" => ACCEPTED,
                _ => {
                    return Err(format!(
                        "ERR Unexpected flag in script shebang: {}",
                        String::from_utf8_lossy(flag)
                    ));
                }
            };
        }
    }
    Ok(Some((flags & (NO_WRITES | ALLOW_OOM), end)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shebangs() {
        assert_eq!(parse(b"return 1"), Ok(None));
        assert_eq!(parse(b"#!lua\nreturn 1"), Ok(Some((0, 5))));
        assert_eq!(
            parse(b"#!lua  flags=no-writes,allow-oom \r\nx"),
            Ok(Some((NO_WRITES | ALLOW_OOM, 34)))
        );
        assert_eq!(
            parse(b"#!lua flags=no-writes flags=\nx")
                .unwrap()
                .unwrap()
                .0,
            NO_WRITES
        );
        assert_eq!(parse(b"#!lua flags=no-cluster\nx").unwrap().unwrap().0, 0);
        assert_eq!(parse(b"#!lua"), Err("ERR Invalid script shebang".into()));
        assert_eq!(
            parse(b"#!js\nx"),
            Err("ERR Unexpected engine in script shebang: #!js".into())
        );
        assert_eq!(
            parse(b"#!lua flags=no-writes,\nx"),
            Err("ERR Unexpected flag in script shebang: ".into())
        );
        assert_eq!(
            parse(b"#!lua name=x\nx"),
            Err("ERR Unknown lua shebang option: name=x".into())
        );
    }
}
