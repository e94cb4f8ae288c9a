//! `client-output-buffer-limit`: per client class, a hard limit on pending
//! output and a soft limit that may only be exceeded for a while. A client
//! over either is disconnected, so a consumer that stops reading cannot grow
//! the server's memory without bound.
//!
//! The limits live in atomics, copied from the configuration at start-up and
//! after every CONFIG SET, because every published message checks them.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use super::client::ClientKind;

/// The classes in the order the directive lists them.
const CLASSES: [&str; 3] = ["normal", "slave", "pubsub"];

#[derive(Default)]
struct ClassLimit {
    hard: AtomicU64,
    soft: AtomicU64,
    soft_secs: AtomicU64,
}

#[derive(Default)]
pub struct OutputLimits {
    classes: [ClassLimit; 3],
}

/// Tracks since when one client's output has been above its soft limit.
#[derive(Default)]
pub struct SoftTimer {
    /// Unix milliseconds when the soft limit was first exceeded; 0 = below it.
    since_ms: AtomicU64,
}

impl OutputLimits {
    /// Reads the canonical directive value (`normal 0 0 0 slave ... pubsub ...`).
    pub fn apply(&self, canonical: &str) {
        let words: Vec<&str> = canonical.split_whitespace().collect();
        for group in words.chunks(4) {
            let [class, hard, soft, secs] = group else {
                continue;
            };
            let Some(index) = class_index(class) else {
                continue;
            };
            let limit = &self.classes[index];
            let number = |s: &str| s.parse::<u64>().unwrap_or(0);
            limit.hard.store(number(hard), Relaxed);
            limit.soft.store(number(soft), Relaxed);
            limit.soft_secs.store(number(secs), Relaxed);
        }
    }

    /// True when `pending` bytes break `kind`'s limits: above the hard limit,
    /// or above the soft one for longer than its seconds. `timer` remembers
    /// when the soft limit was first passed and resets once below it.
    pub fn exceeded(
        &self,
        kind: ClientKind,
        pending: usize,
        timer: &SoftTimer,
        now_ms: u64,
    ) -> bool {
        let limit = &self.classes[class_of(kind)];
        let pending = pending as u64;
        let hard = limit.hard.load(Relaxed);
        if hard > 0 && pending >= hard {
            return true;
        }
        let soft = limit.soft.load(Relaxed);
        if soft == 0 || pending < soft {
            timer.since_ms.store(0, Relaxed);
            return false;
        }
        match timer.since_ms.load(Relaxed) {
            0 => {
                timer.since_ms.store(now_ms.max(1), Relaxed);
                false
            }
            since => now_ms.saturating_sub(since) > limit.soft_secs.load(Relaxed) * 1000,
        }
    }

    /// Whether `kind` has any limit at all (the common `normal 0 0 0` has none).
    pub fn is_limited(&self, kind: ClientKind) -> bool {
        let limit = &self.classes[class_of(kind)];
        limit.hard.load(Relaxed) > 0 || limit.soft.load(Relaxed) > 0
    }
}

fn class_of(kind: ClientKind) -> usize {
    match kind {
        ClientKind::Normal => 0,
        ClientKind::Replica | ClientKind::Master => 1,
        ClientKind::Pubsub => 2,
    }
}

fn class_index(name: &str) -> Option<usize> {
    match name.to_ascii_lowercase().as_str() {
        "replica" => Some(1),
        other => CLASSES.iter().position(|c| *c == other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(text: &str) -> OutputLimits {
        let limits = OutputLimits::default();
        limits.apply(text);
        limits
    }

    #[test]
    fn hard_limit_is_immediate() {
        let l = limits("normal 0 0 0 slave 0 0 0 pubsub 1000 0 0");
        let timer = SoftTimer::default();
        assert!(!l.exceeded(ClientKind::Pubsub, 999, &timer, 1));
        assert!(l.exceeded(ClientKind::Pubsub, 1000, &timer, 1));
        assert!(!l.exceeded(ClientKind::Normal, 1 << 40, &timer, 1));
        assert!(!l.is_limited(ClientKind::Normal));
        assert!(l.is_limited(ClientKind::Pubsub));
    }

    #[test]
    fn soft_limit_needs_its_seconds_and_resets_below() {
        let l = limits("normal 0 100 2 slave 0 0 0 pubsub 0 0 0");
        let timer = SoftTimer::default();
        assert!(!l.exceeded(ClientKind::Normal, 150, &timer, 10_000));
        assert!(!l.exceeded(ClientKind::Normal, 150, &timer, 12_000));
        assert!(l.exceeded(ClientKind::Normal, 150, &timer, 12_001));
        // Dropping below restarts the clock.
        assert!(!l.exceeded(ClientKind::Normal, 50, &timer, 12_002));
        assert!(!l.exceeded(ClientKind::Normal, 150, &timer, 13_000));
        assert!(!l.exceeded(ClientKind::Normal, 150, &timer, 14_000));
    }
}
