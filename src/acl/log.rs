//! The ACL log: denied commands, keys, channels and failed AUTHs, newest
//! first. Like Redis, an entry repeating a recent one (same reason, context,
//! object and user within 60 s) bumps that entry's count and moves it to the
//! front instead of adding a line.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::protocol::Reply;

/// Entries this close in time are grouped.
const GROUPING_WINDOW: Duration = Duration::from_secs(60);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    Command,
    Key,
    Channel,
    Auth,
}

impl Reason {
    fn name(self) -> &'static str {
        match self {
            Reason::Command => "command",
            Reason::Key => "key",
            Reason::Channel => "channel",
            Reason::Auth => "auth",
        }
    }
}

/// Where the denied command was: `toplevel`, `multi` or `lua`.
pub type Context = &'static str;

#[derive(Clone, Debug)]
pub struct Entry {
    pub count: u64,
    pub reason: Reason,
    pub context: Context,
    pub object: Vec<u8>,
    pub username: String,
    pub created: Instant,
    pub client_info: String,
}

#[derive(Default)]
pub struct AclLog {
    /// Newest first.
    entries: VecDeque<Entry>,
}

impl AclLog {
    /// Adds an entry, or groups it with a recent equal one; keeps at most
    /// `max_len` entries (`acllog-max-len`).
    pub fn add(&mut self, entry: Entry, max_len: usize) {
        let similar = self.entries.iter().position(|e| {
            e.reason == entry.reason
                && e.context == entry.context
                && e.object == entry.object
                && e.username == entry.username
                && entry.created.duration_since(e.created) <= GROUPING_WINDOW
        });
        let entry = match similar.and_then(|i| self.entries.remove(i)) {
            Some(mut old) => {
                old.count += 1;
                old.created = entry.created;
                old.client_info = entry.client_info;
                old
            }
            None => entry,
        };
        self.entries.push_front(entry);
        self.entries.truncate(max_len);
    }

    pub fn reset(&mut self) {
        self.entries.clear();
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// `ACL LOG [count]`: the newest `count` entries as maps.
    pub fn reply(&self, out: &mut Reply, count: usize) {
        let shown = count.min(self.entries.len());
        out.array(shown);
        let now = Instant::now();
        for e in self.entries.iter().take(shown) {
            out.map(7);
            out.bulk(b"count");
            out.int(e.count as i64);
            out.bulk(b"reason");
            out.bulk(e.reason.name().as_bytes());
            out.bulk(b"context");
            out.bulk(e.context.as_bytes());
            out.bulk(b"object");
            out.bulk(&e.object);
            out.bulk(b"username");
            out.bulk(e.username.as_bytes());
            out.bulk(b"age-seconds");
            out.double(now.duration_since(e.created).as_secs_f64());
            out.bulk(b"client-info");
            out.bulk(e.client_info.trim_end().as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(object: &str) -> Entry {
        Entry {
            count: 1,
            reason: Reason::Key,
            context: "toplevel",
            object: object.as_bytes().to_vec(),
            username: "u".into(),
            created: Instant::now(),
            client_info: String::new(),
        }
    }

    #[test]
    fn groups_repeats_and_keeps_newest_first() {
        let mut log = AclLog::default();
        log.add(entry("a"), 10);
        log.add(entry("b"), 10);
        log.add(entry("a"), 10);
        assert_eq!(log.len(), 2);
        assert_eq!(log.entries[0].object, b"a");
        assert_eq!(log.entries[0].count, 2);
        log.add(entry("c"), 2);
        assert_eq!(log.len(), 2);
        assert_eq!(log.entries[1].object, b"a");
    }
}
