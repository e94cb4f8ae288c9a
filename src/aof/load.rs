//! Replaying the AOF at start-up: every file the manifest names, in order,
//! each command run through the gate's `call` by a client of its own.
//!
//! A command cut short at the end of the last file (a torn write) is what
//! `aof-load-truncated` decides about: `yes` truncates the file to the last
//! whole command and carries on, as Redis does; `no` stops start-up. So is a
//! MULTI without its EXEC there. Anything else that is not a whole RESP
//! command is corruption and stops start-up with the file and offset.

use std::path::Path;
use std::sync::Arc;

use crate::cmd::{self, args::OwnedArgs};
use crate::protocol::{Limits, Parsed, Reply, parse_request};
use crate::server::{Client, Server, client::Running};

use super::manifest::Manifest;

/// Loads every file; returns their total size.
pub fn load_all(server: &Arc<Server>, dir: &Path, manifest: &Manifest) -> Result<u64, String> {
    let truncated_ok = server.config.read().value("aof-load-truncated").as_deref() != Some("no");
    let addr = "0.0.0.0:0".parse().expect("address");
    let handle = server.clients.register(addr, addr);
    let mut client = Client::new(handle, true);
    client.running = Running::Exec; // blocking commands act as their plain form
    let files: Vec<_> = manifest.replay_order().collect();
    let mut total = 0;
    let mut result = Ok(());
    for (i, entry) in files.iter().enumerate() {
        let path = dir.join(&entry.name);
        match load_file(
            server,
            &mut client,
            &path,
            i + 1 == files.len(),
            truncated_ok,
        ) {
            Ok(size) => total += size,
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    server.clients.unregister(client.id);
    result.map(|()| total)
}

/// Replays one file; returns its (possibly truncated) size.
fn load_file(
    server: &Server,
    client: &mut Client,
    path: &Path,
    last: bool,
    truncated_ok: bool,
) -> Result<u64, String> {
    let data = std::fs::read(path)
        .map_err(|e| format!("Can't open the append-only file {}: {e}", path.display()))?;
    if data.starts_with(b"REDIS") {
        return Err(format!(
            "The AOF file {} starts with an RDB preamble, which ferrokv does not read: \
             rewrite it with 'aof-use-rdb-preamble no' first",
            path.display()
        ));
    }
    let mut spans = Vec::new();
    let mut scratch = Vec::new();
    let limits = Limits {
        max_bulk: usize::MAX / 2,
        unauthenticated: false,
    };
    let mut out = Reply::new(false);
    let mut pos = 0;
    // Commands of an open MULTI, run together at its EXEC.
    let mut multi: Option<(usize, Vec<OwnedArgs>)> = None;
    let mut commands = 0u64;
    let truncated_at = loop {
        if pos == data.len() {
            break multi.as_ref().map(|&(start, _)| start);
        }
        if data[pos] != b'*' {
            return Err(bad_format(path, pos));
        }
        let consumed = match parse_request(&data[pos..], &mut spans, &mut scratch, limits) {
            Ok(Parsed::Incomplete { .. }) => {
                break Some(multi.as_ref().map_or(pos, |&(start, _)| start));
            }
            Ok(Parsed::Multibulk { consumed }) => consumed,
            Ok(Parsed::Empty { consumed }) => {
                pos += consumed;
                continue;
            }
            _ => return Err(bad_format(path, pos)),
        };
        let args = cmd::Args::new(&data[pos..], &spans);
        let start = pos;
        pos += consumed;
        commands += 1;
        if args.is(0, "multi") {
            multi = Some((start, Vec::new()));
            continue;
        }
        if args.is(0, "exec") {
            let Some((_, queued)) = multi.take() else {
                return Err(bad_format(path, start));
            };
            for args in &queued {
                run(server, client, &mut out, &args.view(), path)?;
            }
            continue;
        }
        match multi.as_mut() {
            Some((_, queued)) => queued.push(args.to_owned()),
            None => run(server, client, &mut out, &args, path)?,
        }
    };
    let Some(valid) = truncated_at else {
        tracing::info!("Loaded {commands} commands from {}", path.display());
        return Ok(data.len() as u64);
    };
    if !last || !truncated_ok {
        return Err(format!(
            "Unexpected end of file reading the append only file {}. You can: \
             1) Make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>. \
             2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server.",
            path.display()
        ));
    }
    tracing::warn!(
        "!!! Warning: short read while loading the AOF file {}!!! AOF loaded anyway because \
         aof-load-truncated is enabled; truncating it to {valid} bytes",
        path.display()
    );
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| format!("Can't open {} to truncate it: {e}", path.display()))?;
    file.set_len(valid as u64)
        .and_then(|()| file.sync_all())
        .map_err(|e| format!("Can't truncate {}: {e}", path.display()))?;
    Ok(valid as u64)
}

fn bad_format(path: &Path, offset: usize) -> String {
    format!(
        "Bad file format reading the append only file {} at offset {offset}: make a backup of \
         your AOF file, then use ./redis-check-aof --fix <filename.manifest>",
        path.display()
    )
}

fn run(
    server: &Server,
    client: &mut Client,
    out: &mut Reply,
    args: &cmd::Args<'_>,
    path: &Path,
) -> Result<(), String> {
    let name = args.get(0);
    let Some((id, spec)) = server.commands.lookup(name, args.get_opt(1)) else {
        return Err(format!(
            "Unknown command '{}' reading the append only file {}",
            String::from_utf8_lossy(name),
            path.display()
        ));
    };
    if !spec.arity_ok(args.len()) || spec.handler.is_none() {
        return Err(format!(
            "Wrong arguments for '{}' reading the append only file {}",
            String::from_utf8_lossy(name),
            path.display()
        ));
    }
    out.buf.clear();
    cmd::call(server, client, out, args, id, spec);
    Ok(())
}
