//! What the commands run under one [`Locked`](crate::db::Locked) leave for
//! the AOF, in the canonical, deterministic form Redis propagates.
//!
//! The gate (`cmd::call_held`) opens a [`Frame`] around every handler. When
//! the frame closes, a `write` command that changed something (a key went
//! through `Db::modified`) is recorded as it was sent, unless its handler
//! chose its own form with `Ctx::propagate_as` (relative TTLs made absolute,
//! SPOP as SREM, served blocking pops as their non-blocking form...) or none
//! at all. Keys deleted by expiry or eviction are recorded as DEL where that
//! happens. EXEC and scripts are not `write` commands: their frames only
//! nest the frames of the commands they run, so a transaction or a script
//! propagates its effects, wrapped in MULTI/EXEC as Redis 7 does.
//!
//! When the locks are released the records go to the log in one piece, so
//! two commands that share a key reach the file in the order they ran.

use std::cell::Cell;

use crate::cmd::Args;

/// Records of one lock holder. Everything is a no-op unless the AOF was on
/// when the locks were taken (`on`), so commands pay nothing otherwise.
#[derive(Default)]
pub struct Pending {
    on: bool,
    depth: u32,
    /// Set when a frame opened inside another (EXEC, scripts): the records
    /// are then one transaction.
    nested: bool,
    /// Keys changed so far (through `Db::modified`), for "did it write?".
    changes: Cell<u64>,
    /// The innermost open frame's command chose its own form.
    overridden: bool,
    overrides: Vec<(usize, Vec<u8>)>,
    /// Commands as RESP, with the database each runs in: `(db, end)` of each
    /// record in `buf`.
    buf: Vec<u8>,
    records: Vec<(usize, usize)>,
}

/// State saved when a handler starts, restored when it ends.
pub struct Frame {
    changes: u64,
    overrides_from: usize,
    overridden: bool,
}

impl Pending {
    pub fn new(on: bool) -> Self {
        Pending {
            on,
            ..Default::default()
        }
    }

    pub fn is_on(&self) -> bool {
        self.on
    }

    /// Counts a change to a key (called from `Db::modified_in`).
    #[inline]
    pub fn changed(&self) {
        self.changes.set(self.changes.get() + 1);
    }

    #[inline]
    pub fn begin(&mut self) -> Frame {
        let frame = Frame {
            changes: self.changes.get(),
            overrides_from: self.overrides.len(),
            overridden: self.overridden,
        };
        if self.on {
            self.nested |= self.depth > 0;
            self.depth += 1;
            self.overridden = false;
        }
        frame
    }

    /// Closes a handler's frame: records the command (`args` in database
    /// `db`) if it is a write that changed something, or what it chose
    /// instead.
    #[inline]
    pub fn end(&mut self, frame: Frame, write: bool, db: usize, args: &Args<'_>) {
        if !self.on {
            return;
        }
        self.depth -= 1;
        if std::mem::replace(&mut self.overridden, frame.overridden) {
            let chosen: Vec<_> = self.overrides.drain(frame.overrides_from..).collect();
            for (db, resp) in chosen {
                self.buf.extend_from_slice(&resp);
                self.records.push((db, self.buf.len()));
            }
        } else if write && self.changes.get() > frame.changes {
            self.push(db, args.iter());
        }
    }

    /// Records one command now (expired and evicted keys, served waiters).
    pub fn push<'a>(&mut self, db: usize, args: impl ExactSizeIterator<Item = &'a [u8]>) {
        if !self.on {
            return;
        }
        encode(&mut self.buf, args);
        self.records.push((db, self.buf.len()));
    }

    /// The running command propagates as `args` (call again for several
    /// commands; never for none, see [`Pending::suppress`]).
    pub fn propagate_as(&mut self, db: usize, args: &[&[u8]]) {
        if !self.on || self.depth == 0 {
            return self.push(db, args.iter().copied());
        }
        let mut resp = Vec::new();
        encode(&mut resp, args.iter().copied());
        self.overrides.push((db, resp));
        self.overridden = true;
    }

    /// The running command propagates nothing.
    pub fn suppress(&mut self) {
        self.overridden = self.on;
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Moves the records into `out`, selecting databases as needed
    /// (`current` is the database the log is in) and wrapping a transaction
    /// or script's effects in MULTI/EXEC.
    pub fn drain_into(&mut self, out: &mut Vec<u8>, current: &mut Option<usize>) {
        let wrap = self.nested && self.records.len() > 1;
        let mut start = 0;
        for (i, &(db, end)) in self.records.iter().enumerate() {
            if *current != Some(db) {
                let mut itoa = itoa::Buffer::new();
                encode(
                    out,
                    [&b"SELECT"[..], itoa.format(db).as_bytes()].into_iter(),
                );
                *current = Some(db);
            }
            if wrap && i == 0 {
                encode(out, [&b"MULTI"[..]].into_iter());
            }
            out.extend_from_slice(&self.buf[start..end]);
            start = end;
        }
        if wrap {
            encode(out, [&b"EXEC"[..]].into_iter());
        }
        self.records.clear();
        self.buf.clear();
        self.nested = false;
    }
}

/// Appends one command as a RESP multibulk.
pub fn encode<'a>(out: &mut Vec<u8>, args: impl ExactSizeIterator<Item = &'a [u8]>) {
    let mut itoa = itoa::Buffer::new();
    out.push(b'*');
    out.extend_from_slice(itoa.format(args.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    for arg in args {
        out.push(b'$');
        out.extend_from_slice(itoa.format(arg.len()).as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::args::OwnedArgs;

    fn text(p: &mut Pending, current: &mut Option<usize>) -> String {
        let mut out = Vec::new();
        p.drain_into(&mut out, current);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn writes_that_changed_something_are_recorded() {
        let mut p = Pending::new(true);
        let set: OwnedArgs = ["SET", "k", "v"].iter().collect();
        let f = p.begin();
        p.changed();
        p.end(f, true, 0, &set.view());
        let f = p.begin();
        p.end(f, true, 0, &set.view()); // no change: nothing
        let mut db = None;
        assert_eq!(
            text(&mut p, &mut db),
            "*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"
        );
        assert_eq!(db, Some(0));
    }

    #[test]
    fn overrides_replace_the_command_and_nesting_wraps() {
        let mut p = Pending::new(true);
        let exec: OwnedArgs = ["EXEC"].iter().collect();
        let incr: OwnedArgs = ["INCRBYFLOAT", "k", "1.5"].iter().collect();
        let outer = p.begin();
        for _ in 0..2 {
            let f = p.begin();
            p.changed();
            p.propagate_as(0, &[b"SET", b"k", b"1.5"]);
            p.end(f, true, 0, &incr.view());
        }
        p.end(outer, false, 0, &exec.view());
        let mut db = Some(0);
        let out = text(&mut p, &mut db);
        assert_eq!(out.matches("SET").count(), 2);
        assert!(out.starts_with("*1\r\n$5\r\nMULTI\r\n") && out.ends_with("$4\r\nEXEC\r\n"));
        assert!(!out.contains("INCRBYFLOAT"));
    }

    #[test]
    fn off_records_nothing() {
        let mut p = Pending::new(false);
        let set: OwnedArgs = ["SET", "k", "v"].iter().collect();
        let f = p.begin();
        p.changed();
        p.end(f, true, 0, &set.view());
        p.push(0, [&b"DEL"[..]].into_iter());
        assert!(p.is_empty());
    }
}
