//! Users from configuration: `user <name> <rules...>` lines in redis.conf and
//! the `aclfile` (ACL LOAD / ACL SAVE), in the format ACL LIST prints.

use std::collections::BTreeMap;

use super::user::User;
use crate::cmd::CommandTable;

/// Applies one `user name rules...` (without the `user` word). The default
/// user is reset first, as Redis does; another name defined twice is an
/// error. Errors are (rule, reason).
pub fn apply_user_line(
    users: &mut BTreeMap<String, User>,
    line: &[String],
    table: &CommandTable,
    all_channels: bool,
) -> Result<(), (String, String)> {
    let name = &line[0];
    if name.contains([' ', '\0']) {
        return Err((
            name.clone(),
            "Usernames can't contain spaces or null characters".into(),
        ));
    }
    let mut user = if name == "default" {
        let mut u = users
            .remove("default")
            .unwrap_or_else(|| User::default_user(table));
        let _ = u.apply(b"reset", table, all_channels);
        u
    } else {
        if users.contains_key(name) {
            return Err((
                name.clone(),
                "Duplicate user found. A user can only be defined once in config files".into(),
            ));
        }
        User::new(name, table, all_channels)
    };
    for rule in &line[1..] {
        user.apply(rule.as_bytes(), table, all_channels)
            .map_err(|why| (rule.clone(), why.to_string()))?;
    }
    users.insert(name.clone(), user);
    Ok(())
}

/// Reads an ACL file over the current users: every user is replaced by the
/// file's, except that `default` keeps its settings when the file does not
/// define it. Errors come back as Redis words them; nothing changes then.
pub fn load(
    path: &str,
    current: BTreeMap<String, User>,
    table: &CommandTable,
    all_channels: bool,
) -> Result<BTreeMap<String, User>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "Error loading ACLs, opening file '{path}': {}",
            crate::config::file::strerror(&e)
        )
    })?;
    parse(path, &text, current, table, all_channels)
}

fn parse(
    path: &str,
    text: &str,
    current: BTreeMap<String, User>,
    table: &CommandTable,
    all_channels: bool,
) -> Result<BTreeMap<String, User>, String> {
    let mut users = BTreeMap::new();
    let mut errors = String::new();
    let mut seen = std::collections::HashSet::new();
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = raw.trim_matches(|c| matches!(c, ' ' | '\t' | '\r' | '\n'));
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let words: Vec<String> = line
            .split(' ')
            .filter(|w| !w.is_empty())
            .map(String::from)
            .collect();
        if words.len() < 2 || words[0] != "user" {
            errors.push_str(&format!(
                "{path}:{line_no} should start with user keyword followed by the username. "
            ));
            continue;
        }
        if !seen.insert(words[1].clone()) {
            errors.push_str(&format!(
                "WARNING: Duplicate user '{}' found on line {line_no}. ",
                words[1]
            ));
            continue;
        }
        // Every user, default included, starts fresh, as in Redis.
        let mut user = User::new(&words[1], table, all_channels);
        for rule in &words[2..] {
            if let Err(why) = user.apply(rule.as_bytes(), table, all_channels) {
                // Redis names the rule only for unknown commands and categories.
                if why == super::user::UNKNOWN_COMMAND {
                    errors.push_str(&format!(
                        "{path}:{line_no}: Error in applying operation '{rule}': {why}. "
                    ));
                } else {
                    errors.push_str(&format!("{path}:{line_no}: {why}. "));
                }
                break;
            }
        }
        users.insert(words[1].clone(), user);
    }
    if !errors.is_empty() {
        return Err(format!(
            "{errors}WARNING: ACL errors detected, no change to the previously active ACL rules was performed"
        ));
    }
    if !users.contains_key("default") {
        let default = current
            .get("default")
            .cloned()
            .unwrap_or_else(|| User::default_user(table));
        users.insert("default".into(), default);
    }
    Ok(users)
}

/// ACL SAVE: every user's ACL LIST line, written to a temporary file that
/// then replaces the ACL file, so a crash never leaves half a file.
pub fn save(
    path: &str,
    users: &[std::sync::Arc<User>],
    table: &CommandTable,
) -> Result<(), String> {
    let mut text = String::new();
    for user in users {
        text.push_str(&user.describe(table));
        text.push('\n');
    }
    let tmp = format!("{path}.tmp-{}", std::process::id());
    std::fs::write(&tmp, text).map_err(|e| {
        format!(
            "Opening temp ACL file for ACL SAVE: {}",
            crate::config::file::strerror(&e)
        )
    })?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!(
            "Renaming ACL file for ACL SAVE: {}",
            crate::config::file::strerror(&e)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_round_trips_list_lines() {
        let table = CommandTable::new(&[]).unwrap();
        let text = "user alice on #0123456789012345678901234567890123456789012345678901234567890123 ~cache:* resetchannels &news -@all +get\n\n# comment\nuser default on nopass ~* &* +@all\n";
        let users = parse("f", text, BTreeMap::new(), &table, false).unwrap();
        let lines: Vec<String> = users.values().map(|u| u.describe(&table)).collect();
        assert_eq!(
            lines.join("\n") + "\n",
            text.replace("\n# comment", "").replace("\n\n", "\n")
        );
        let err = parse(
            "f",
            "bogus x\nuser bob +nosuch\n",
            BTreeMap::new(),
            &table,
            false,
        )
        .unwrap_err();
        assert!(
            err.starts_with("f:1 should start with user keyword"),
            "{err}"
        );
        assert!(
            err.contains("f:2: Error in applying operation '+nosuch': Unknown command or category name in ACL. "),
            "{err}"
        );
    }
}
