//! SLOWLOG and LATENCY: readers of what the gate records in
//! [`crate::server::stats`].

use crate::cmd::reply_help;

use std::sync::atomic::Ordering::Relaxed;

use super::super::spec::{CommandSpec, Keys};
use super::super::{Args, CmdError, CmdResult, Ctx};
use super::{ADMIN_SUB, ALL_NODES_SPECIAL, LATENCY_SUB, NONDETERMINISTIC};
use crate::cmd::spec::flag::{LOADING, STALE};
use crate::server::stats::LatencyMonitor;

pub static SLOWLOG_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("len", 2, ADMIN_SUB, Keys::None, slowlog_len)
        .doc(
            "server",
            "2.2.12",
            "Returns the number of entries in the slow log.",
        )
        .tips(&[
            "request_policy:all_nodes",
            "response_policy:agg_sum",
            NONDETERMINISTIC,
        ]),
    CommandSpec::new("help", 2, LOADING | STALE, Keys::None, slowlog_help).doc(
        "server",
        "6.2.0",
        "Shows helpful text about the different subcommands.",
    ),
    CommandSpec::new("get", -2, ADMIN_SUB, Keys::None, slowlog_get)
        .doc("server", "2.2.12", "Returns the slow log's entries.")
        .complexity("O(N) where N is the number of entries returned")
        .tips(&["request_policy:all_nodes", NONDETERMINISTIC]),
    CommandSpec::new("reset", 2, ADMIN_SUB, Keys::None, slowlog_reset)
        .doc("server", "2.2.12", "Clears all entries from the slow log.")
        .complexity("O(N) where N is the number of entries in the slowlog")
        .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"]),
];

pub static LATENCY_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("doctor", 2, LATENCY_SUB, Keys::None, latency_doctor)
        .doc(
            "server",
            "2.8.13",
            "Returns a human-readable latency analysis report.",
        )
        .tips(ALL_NODES_SPECIAL),
    CommandSpec::new("reset", -2, LATENCY_SUB, Keys::None, latency_reset)
        .doc(
            "server",
            "2.8.13",
            "Resets the latency data for one or more events.",
        )
        .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"]),
    CommandSpec::new("help", 2, LOADING | STALE, Keys::None, latency_help).doc(
        "server",
        "2.8.13",
        "Returns helpful text about the different subcommands.",
    ),
    CommandSpec::new("latest", 2, LATENCY_SUB, Keys::None, latency_latest)
        .doc(
            "server",
            "2.8.13",
            "Returns the latest latency samples for all events.",
        )
        .tips(ALL_NODES_SPECIAL),
    CommandSpec::new("history", 3, LATENCY_SUB, Keys::None, latency_history)
        .doc(
            "server",
            "2.8.13",
            "Returns timestamp-latency samples for an event.",
        )
        .tips(ALL_NODES_SPECIAL),
    CommandSpec::new("graph", 3, LATENCY_SUB, Keys::None, latency_graph)
        .doc("server", "2.8.13", "Returns a latency graph for an event.")
        .tips(ALL_NODES_SPECIAL),
    CommandSpec::new("histogram", -2, LATENCY_SUB, Keys::None, latency_histogram)
        .doc(
            "server",
            "7.0.0",
            "Returns the cumulative distribution of latencies of a subset or all commands.",
        )
        .complexity(
            "O(N) where N is the number of commands with latency information being retrieved.",
        )
        .tips(ALL_NODES_SPECIAL),
];

fn slowlog_len(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    let n = ctx.server.stats.slowlog.lock().entries.len();
    ctx.out.int(n as i64);
    Ok(())
}

fn slowlog_reset(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    ctx.server.stats.slowlog.lock().entries.clear();
    ctx.out.ok();
    Ok(())
}

fn slowlog_get(ctx: &mut Ctx, args: &Args) -> CmdResult {
    const BAD_COUNT: CmdError = CmdError::Msg("ERR count should be greater than or equal to -1");
    let count = match args.len() {
        2 => 10,
        3 => match args.int(2) {
            Ok(-1) => usize::MAX,
            Ok(n) if n >= 0 => n as usize,
            _ => return Err(BAD_COUNT),
        },
        _ => {
            return Err(CmdError::msg(format!(
                "ERR unknown subcommand or wrong number of arguments for '{:.128}'. Try SLOWLOG HELP.",
                args.str(1)
            )));
        }
    };
    let log = ctx.server.stats.slowlog.lock();
    let shown = count.min(log.entries.len());
    let out = &mut *ctx.out;
    out.array(shown);
    for e in log.entries.iter().take(shown) {
        out.array(6);
        out.int(e.id as i64);
        out.int(e.unix_secs as i64);
        out.int(e.usec as i64);
        out.array(e.args.len());
        for a in &e.args {
            out.bulk(a);
        }
        out.bulk(e.client_addr.as_bytes());
        out.bulk(&e.client_name);
    }
    Ok(())
}

fn slowlog_help(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    reply_help(
        ctx.out,
        "SLOWLOG",
        &[
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
        ],
    );
    Ok(())
}

fn latency_latest(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    let monitor = ctx.server.stats.latency.lock();
    let out = &mut *ctx.out;
    out.array(monitor.events.len());
    for (name, event) in &monitor.events {
        let (when, last) = event.samples.back().copied().unwrap_or((0, 0));
        out.array(4);
        out.bulk(name.as_bytes());
        out.int(when as i64);
        out.int(last as i64);
        out.int(event.max_ms as i64);
    }
    Ok(())
}

fn latency_history(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let monitor = ctx.server.stats.latency.lock();
    let samples = std::str::from_utf8(args.get(2))
        .ok()
        .and_then(|name| monitor.events.get(name))
        .map(|e| e.samples.iter().copied().collect::<Vec<_>>())
        .unwrap_or_default();
    ctx.out.array(samples.len());
    for (when, ms) in samples {
        ctx.out.array(2);
        ctx.out.int(when as i64);
        ctx.out.int(ms as i64);
    }
    Ok(())
}

/// Resets the named events, or all of them; replies how many were reset.
fn latency_reset(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let mut monitor = ctx.server.stats.latency.lock();
    let reset = if args.len() == 2 {
        let n = monitor.events.len();
        monitor.events.clear();
        n
    } else {
        args.iter()
            .skip(2)
            .filter(|name| {
                std::str::from_utf8(name).is_ok_and(|name| monitor.events.remove(name).is_some())
            })
            .count()
    };
    ctx.out.int(reset as i64);
    Ok(())
}

/// Per command: calls and the cumulative latency distribution. Commands never
/// called are left out; a container name stands for its subcommands.
fn latency_histogram(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let server = ctx.server;
    let commands = &server.commands;
    let candidates: Vec<usize> = if args.len() == 2 {
        (0..commands.ids()).collect()
    } else {
        let mut ids = Vec::new();
        for name in args.iter().skip(2) {
            if let Some(id) = super::command::find(server, name) {
                ids.push(id);
                ids.extend(commands.subcommand_ids(id));
            }
        }
        ids
    };
    let mut seen = std::collections::HashSet::new();
    let shown: Vec<(usize, u64)> = candidates
        .into_iter()
        .filter(|&id| seen.insert(id))
        .map(|id| (id, server.stats.commands[id].calls.load(Relaxed)))
        .filter(|&(_, calls)| calls > 0)
        .collect();
    let out = &mut *ctx.out;
    out.map(shown.len());
    for (id, calls) in shown {
        out.bulk(commands.full_name(id).as_bytes());
        out.map(2);
        out.bulk(b"calls");
        out.int(calls as i64);
        out.bulk(b"histogram_usec");
        let buckets = server.stats.commands[id].latency.cumulative();
        out.map(buckets.len());
        for (label, count) in buckets {
            out.int(label as i64);
            out.int(count as i64);
        }
    }
    Ok(())
}

/// Rows of the ASCII graph: each sample is a column as tall as its share of
/// the highest sample.
const GRAPH_ROWS: u64 = 4;

fn latency_graph(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let name = args.str(2);
    let monitor = ctx.server.stats.latency.lock();
    let event = monitor
        .events
        .get(name.as_ref())
        .filter(|e| !e.samples.is_empty())
        .ok_or_else(|| {
            CmdError::msg(format!(
                "ERR No samples available for event '{:.128}'",
                name
            ))
        })?;
    let text = render_graph(&name, event, crate::cmd::now_ms() / 1000);
    drop(monitor);
    ctx.out.verbatim(text.as_bytes());
    Ok(())
}

/// A header, a bar per sample (newest on the right) and each bar's age.
fn render_graph(name: &str, event: &crate::server::stats::LatencyEvent, now_secs: u64) -> String {
    let high = event.samples.iter().map(|s| s.1).max().unwrap_or(0);
    let low = event.samples.iter().map(|s| s.1).min().unwrap_or(0);
    let mut text = format!(
        "{name} - high {high} ms, low {low} ms (all time high {} ms)\n{}\n",
        event.max_ms,
        "-".repeat(80)
    );
    // Only the newest samples that fit the 80-column width.
    let skip = event.samples.len().saturating_sub(80);
    let samples: Vec<(u64, u64)> = event.samples.iter().skip(skip).copied().collect();
    for row in (1..=GRAPH_ROWS).rev() {
        let line: String = samples
            .iter()
            .map(|&(_, ms)| {
                let height = (ms * GRAPH_ROWS).div_ceil(high.max(1));
                if height >= row { '#' } else { ' ' }
            })
            .collect();
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text.push('\n');
    let ages: Vec<String> = samples
        .iter()
        .map(|&(when, _)| format_age(now_secs.saturating_sub(when)))
        .collect();
    // Ages are written vertically, one character per row, under their bar.
    let depth = ages.iter().map(|a| a.len()).max().unwrap_or(0);
    for i in 0..depth {
        let line: String = ages
            .iter()
            .map(|a| a.as_bytes().get(i).map_or(' ', |&b| b as char))
            .collect();
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

/// `12s`, `3m`, `2h`, `1d`, as Redis labels sample ages.
fn format_age(secs: u64) -> String {
    match secs {
        0..=59 => format!("{secs}s"),
        60..=3599 => format!("{}m", secs / 60),
        3600..=86399 => format!("{}h", secs / 3600),
        _ => format!("{}d", secs / 86400),
    }
}

fn latency_doctor(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    let threshold = ctx.server.config.read().latency_monitor_threshold;
    let monitor = ctx.server.stats.latency.lock();
    let report = doctor_report(&monitor, threshold, crate::cmd::now_ms() / 1000);
    drop(monitor);
    ctx.out.verbatim(report.as_bytes());
    Ok(())
}

/// The LATENCY DOCTOR text: Redis's opening lines, then per event the spike
/// count, average, mean deviation, period and worst case.
fn doctor_report(monitor: &LatencyMonitor, threshold_ms: u64, now_secs: u64) -> String {
    if monitor.events.is_empty() {
        return if threshold_ms == 0 {
            "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we weren't in a deep space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n".to_string()
        } else {
            "Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sleep tonight.\n".to_string()
        };
    }
    let mut report = String::from(
        "Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n",
    );
    for (i, (name, e)) in monitor.events.iter().enumerate() {
        let n = e.samples.len().max(1) as f64;
        let avg = e.samples.iter().map(|s| s.1 as f64).sum::<f64>() / n;
        let deviation = e
            .samples
            .iter()
            .map(|s| (s.1 as f64 - avg).abs())
            .sum::<f64>()
            / n;
        let first = e.samples.front().map_or(now_secs, |s| s.0);
        let period = now_secs.saturating_sub(first) as f64 / n;
        report.push_str(&format!(
            "{}. {name}: {} latency spikes (average {}ms, mean deviation {}ms, period {period:.2} sec). Worst all time event {}ms.\n",
            i + 1,
            e.samples.len(),
            avg as u64,
            deviation as u64,
            e.max_ms
        ));
    }
    report.push_str("\nI have a few advices for you:\n\n- Check your Slow Log to understand what are the commands you are running which are too slow to execute. Please check https://redis.io/commands/slowlog for more information.\n");
    report
}

fn latency_help(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    reply_help(
        ctx.out,
        "LATENCY",
        &[
            "DOCTOR",
            "    Return a human readable latency analysis report.",
            "GRAPH <event>",
            "    Return an ASCII latency graph for the <event> class.",
            "HISTORY <event>",
            "    Return time-latency samples for the <event> class.",
            "LATEST",
            "    Return the latest latency samples for all events.",
            "RESET [<event> ...]",
            "    Reset latency data of one or more <event> classes.",
            "    (default: reset all data for all event classes)",
            "HISTOGRAM [COMMAND ...]",
            "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
            "    If no commands are specified then all histograms are replied.",
        ],
    );
    Ok(())
}
