//! Keyspace notifications (`notify-keyspace-events`).
//!
//! Commands record events while they hold their shard locks: a handler calls
//! [`Db::notify`](crate::db::Db::notify) with a class and an event name, and
//! the keyspace itself records `expired` (lazy and active expiry), `new` (a
//! key added) and `keymiss` (a read of a missing key). Recording is one AND
//! against the flags [`Locked`](crate::db::Locked) loaded when the locks were
//! taken, so nothing is allocated while notifications are off (the default).
//!
//! Whoever holds the locks then publishes the list with [`publish`], still
//! under the locks, so two commands on one key publish in the order they ran:
//! the gate after each handler (EXEC's and scripts' commands too, through
//! `cmd::call_held`), the gate again after serving blocked clients, and the
//! cron after each active-expiry step. For each event Redis sends the event
//! name on `__keyspace@<db>__:<key>` (class `K`), then the key on
//! `__keyevent@<db>__:<event>` (class `E`).

use std::sync::atomic::Ordering::Relaxed;

use super::Server;
use crate::db::bytes::Bytes24;

// Class bits, one per letter of `notify-keyspace-events`.
pub const KEYSPACE: u32 = 1 << 0; // K
pub const KEYEVENT: u32 = 1 << 1; // E
pub const GENERIC: u32 = 1 << 2; // g
pub const STRING: u32 = 1 << 3; // $
pub const LIST: u32 = 1 << 4; // l
pub const SET: u32 = 1 << 5; // s
pub const HASH: u32 = 1 << 6; // h
pub const ZSET: u32 = 1 << 7; // z
pub const EXPIRED: u32 = 1 << 8; // x
pub const EVICTED: u32 = 1 << 9; // e
pub const STREAM: u32 = 1 << 10; // t
pub const KEY_MISS: u32 = 1 << 11; // m
pub const MODULE: u32 = 1 << 12; // d
pub const NEW: u32 = 1 << 13; // n

/// The letters of the classes `A` stands for (not `n` nor `m`).
const ALL: u32 = GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;

const LETTERS: [(char, u32); 14] = [
    ('K', KEYSPACE),
    ('E', KEYEVENT),
    ('g', GENERIC),
    ('$', STRING),
    ('l', LIST),
    ('s', SET),
    ('h', HASH),
    ('z', ZSET),
    ('x', EXPIRED),
    ('e', EVICTED),
    ('t', STREAM),
    ('m', KEY_MISS),
    ('d', MODULE),
    ('n', NEW),
];

/// The class bits of a `notify-keyspace-events` value (the config layer has
/// already validated the letters). Without `K` or `E` nothing is ever
/// published, so that reads as 0: commands then record nothing at all.
pub fn flags(value: &str) -> u32 {
    let mut bits = 0;
    for c in value.chars() {
        bits |= match c {
            'A' => ALL,
            c => LETTERS
                .iter()
                .find(|(letter, _)| *letter == c)
                .map_or(0, |&(_, bit)| bit),
        };
    }
    if bits & (KEYSPACE | KEYEVENT) == 0 {
        0
    } else {
        bits
    }
}

/// One recorded event: its name and the key it happened to.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub name: &'static str,
    pub db: usize,
    pub key: Bytes24,
}

impl Event {
    pub fn new(name: &'static str, db: usize, key: &[u8]) -> Self {
        Event {
            name,
            db,
            key: Bytes24::new(key),
        }
    }
}

/// Publishes recorded events in order, each on the keyspace channel and then
/// on the keyevent channel, as the `K` and `E` classes ask.
pub fn publish(server: &Server, events: Vec<Event>) {
    let flags = server.keyspace.notify_flags.load(Relaxed);
    let mut channel = Vec::new();
    for event in events {
        if flags & KEYSPACE != 0 {
            channel.clear();
            channel.extend_from_slice(format!("__keyspace@{}__:", event.db).as_bytes());
            channel.extend_from_slice(&event.key);
            deliver(server, &channel, event.name.as_bytes());
        }
        if flags & KEYEVENT != 0 {
            let channel = format!("__keyevent@{}__:{}", event.db, event.name);
            deliver(server, channel.as_bytes(), &event.key);
        }
    }
}

/// Publishes an `evicted` event at once, for eviction, which removes keys
/// outside any command's event list. Costs one atomic load when off.
pub fn evicted(server: &Server, db: usize, key: &[u8]) {
    if server.keyspace.notify_flags.load(Relaxed) & EVICTED != 0 {
        publish(server, vec![Event::new("evicted", db, key)]);
    }
}

/// Hands one message to pub/sub (and, in unit tests, to [`capture`]).
fn deliver(server: &Server, channel: &[u8], message: &[u8]) {
    #[cfg(test)]
    capture::record(channel, message);
    server.pubsub.publish(channel, message);
}

/// In unit tests: what [`deliver`] was given on this thread, so tests can
/// check the exact messages without a subscriber.
#[cfg(test)]
pub(crate) mod capture {
    use std::cell::RefCell;

    thread_local! {
        static SENT: RefCell<Vec<(String, String)>> = const { RefCell::new(Vec::new()) };
    }

    pub fn record(channel: &[u8], message: &[u8]) {
        SENT.with(|sent| {
            sent.borrow_mut().push((
                String::from_utf8_lossy(channel).into_owned(),
                String::from_utf8_lossy(message).into_owned(),
            ))
        });
    }

    /// The messages delivered since the last call, oldest first.
    pub fn take() -> Vec<(String, String)> {
        SENT.with(|sent| std::mem::take(&mut *sent.borrow_mut()))
    }
}

#[cfg(test)]
mod tests;
