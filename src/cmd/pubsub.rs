//! Pub/Sub commands: (P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, PUBLISH, SPUBLISH and
//! the PUBSUB introspection container. The registry and delivery live in
//! [`crate::server::pubsub`].

use super::spec::{Channels, CommandSpec, Keys, flag::*, key1, keys_all};
use super::{Args, CmdError, CmdResult, Ctx, reply_help};
use crate::server::pubsub::Kind;

const SUBSCRIBING: u32 = PUBSUB | NOSCRIPT | LOADING | STALE;
const INTROSPECTION: u32 = PUBSUB | LOADING | STALE;

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("subscribe", -2, SUBSCRIBING, Keys::None, subscribe)
        .doc(
            "pubsub",
            "2.0.0",
            "Listens for messages published to channels.",
        )
        .channels(Channels::All),
    CommandSpec::new("unsubscribe", -1, SUBSCRIBING, Keys::None, unsubscribe).doc(
        "pubsub",
        "2.0.0",
        "Stops listening to messages posted to channels.",
    ),
    CommandSpec::new("psubscribe", -2, SUBSCRIBING, Keys::None, psubscribe)
        .doc(
            "pubsub",
            "2.0.0",
            "Listens for messages published to channels that match one or more patterns.",
        )
        .channels(Channels::Patterns),
    CommandSpec::new("punsubscribe", -1, SUBSCRIBING, Keys::None, punsubscribe).doc(
        "pubsub",
        "2.0.0",
        "Stops listening to messages published to channels that match one or more patterns.",
    ),
    CommandSpec::new("ssubscribe", -2, SUBSCRIBING, keys_all(1), ssubscribe)
        .doc(
            "pubsub",
            "7.0.0",
            "Listens for messages published to shard channels.",
        )
        .channels(Channels::All),
    CommandSpec::new("sunsubscribe", -1, SUBSCRIBING, keys_all(1), sunsubscribe).doc(
        "pubsub",
        "7.0.0",
        "Stops listening to messages posted to shard channels.",
    ),
    CommandSpec::new("publish", 3, INTROSPECTION | FAST, Keys::None, publish)
        .doc("pubsub", "2.0.0", "Posts a message to a channel.")
        .channels(Channels::First),
    CommandSpec::new("spublish", 3, INTROSPECTION | FAST, key1(), spublish)
        .doc("pubsub", "7.0.0", "Post a message to a shard channel")
        .channels(Channels::First),
    CommandSpec::container("pubsub", -2, PUBSUB_SUBCOMMANDS).doc(
        "pubsub",
        "2.8.0",
        "A container for Pub/Sub commands.",
    ),
];

static PUBSUB_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("channels", -2, INTROSPECTION, Keys::None, channels).doc(
        "pubsub",
        "2.8.0",
        "Returns the active channels.",
    ),
    CommandSpec::new("numsub", -2, INTROSPECTION, Keys::None, numsub).doc(
        "pubsub",
        "2.8.0",
        "Returns a count of subscribers to channels.",
    ),
    CommandSpec::new("numpat", 2, INTROSPECTION, Keys::None, numpat).doc(
        "pubsub",
        "2.8.0",
        "Returns a count of unique pattern subscriptions.",
    ),
    CommandSpec::new(
        "shardchannels",
        -2,
        INTROSPECTION,
        Keys::None,
        shardchannels,
    )
    .doc("pubsub", "7.0.0", "Returns the active shard channels."),
    CommandSpec::new("shardnumsub", -2, INTROSPECTION, Keys::None, shardnumsub).doc(
        "pubsub",
        "7.0.0",
        "Returns the count of subscribers of shard channels.",
    ),
    CommandSpec::new("help", 2, LOADING | STALE, Keys::None, help).doc(
        "pubsub",
        "6.2.0",
        "Returns helpful text about the different subcommands.",
    ),
];

/// Commands a RESP2 client may still send while it has subscriptions.
const ALLOWED_WHILE_SUBSCRIBED: &[&str] = &[
    "subscribe",
    "psubscribe",
    "ssubscribe",
    "unsubscribe",
    "punsubscribe",
    "sunsubscribe",
    "ping",
    "quit",
    "reset",
];

/// The gate's check for RESP2 subscribers: None when `spec` may run,
/// otherwise Redis's refusal naming the command (`pubsub|numsub`).
pub fn refusal_while_subscribed(spec: &CommandSpec, full_name: &str) -> Option<String> {
    (!ALLOWED_WHILE_SUBSCRIBED.contains(&spec.name)).then(|| {
        format!(
            "ERR Can't execute '{full_name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
        )
    })
}

fn subscribe(ctx: &mut Ctx, args: &Args) -> CmdResult {
    subscribe_each(ctx, args, Kind::Channel)
}

fn psubscribe(ctx: &mut Ctx, args: &Args) -> CmdResult {
    subscribe_each(ctx, args, Kind::Pattern)
}

fn ssubscribe(ctx: &mut Ctx, args: &Args) -> CmdResult {
    subscribe_each(ctx, args, Kind::Shard)
}

fn unsubscribe(ctx: &mut Ctx, args: &Args) -> CmdResult {
    unsubscribe_each(ctx, args, Kind::Channel)
}

fn punsubscribe(ctx: &mut Ctx, args: &Args) -> CmdResult {
    unsubscribe_each(ctx, args, Kind::Pattern)
}

fn sunsubscribe(ctx: &mut Ctx, args: &Args) -> CmdResult {
    unsubscribe_each(ctx, args, Kind::Shard)
}

/// One confirmation per name, repeated names included, each with the count
/// after it.
fn subscribe_each(ctx: &mut Ctx, args: &Args, kind: Kind) -> CmdResult {
    let client = &mut *ctx.client;
    for name in args.iter().skip(1) {
        ctx.server
            .pubsub
            .subscribe(&mut client.pubsub, &client.handle, kind, name);
        confirm(
            ctx.out,
            kind.subscribe_word(),
            Some(name),
            client.pubsub.count(kind),
        );
    }
    Ok(())
}

/// Without names: every subscription of the kind, or one confirmation with a
/// null name when there is none.
fn unsubscribe_each(ctx: &mut Ctx, args: &Args, kind: Kind) -> CmdResult {
    let client = &mut *ctx.client;
    let names: Vec<Vec<u8>> = if args.len() > 1 {
        args.iter().skip(1).map(<[u8]>::to_vec).collect()
    } else {
        client.pubsub.names(kind)
    };
    if names.is_empty() {
        confirm(
            ctx.out,
            kind.unsubscribe_word(),
            None,
            client.pubsub.count(kind),
        );
    }
    for name in &names {
        ctx.server
            .pubsub
            .unsubscribe(&mut client.pubsub, &client.handle, kind, name);
        confirm(
            ctx.out,
            kind.unsubscribe_word(),
            Some(name),
            client.pubsub.count(kind),
        );
    }
    Ok(())
}

fn confirm(out: &mut crate::protocol::Reply, word: &[u8], name: Option<&[u8]>, count: usize) {
    out.push(3);
    out.bulk(word);
    match name {
        Some(name) => out.bulk(name),
        None => out.null(),
    }
    out.int(count as i64);
}

fn publish(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let receivers = ctx.server.pubsub.publish(args.get(1), args.get(2));
    reply_receivers(ctx, receivers);
    Ok(())
}

fn spublish(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let receivers = ctx.server.pubsub.publish_shard(args.get(1), args.get(2));
    reply_receivers(ctx, receivers);
    Ok(())
}

/// A publisher subscribed to its own channel (RESP3) gets the message before
/// the count, as Redis writes it; inside EXEC it lands among the results.
fn reply_receivers(ctx: &mut Ctx, receivers: usize) {
    let at = ctx.out.len();
    ctx.client.pubsub.splice_pending(&mut ctx.out.buf, at);
    ctx.out.int(receivers as i64);
}

fn channels(ctx: &mut Ctx, args: &Args) -> CmdResult {
    list_names(ctx, args, Kind::Channel)
}

fn shardchannels(ctx: &mut Ctx, args: &Args) -> CmdResult {
    list_names(ctx, args, Kind::Shard)
}

fn list_names(ctx: &mut Ctx, args: &Args, kind: Kind) -> CmdResult {
    if args.len() > 3 {
        return Err(CmdError::msg(format!(
            "ERR unknown subcommand or wrong number of arguments for '{:.128}'. Try PUBSUB HELP.",
            String::from_utf8_lossy(args.get(1))
        )));
    }
    let names = ctx.server.pubsub.names(kind, args.get_opt(2));
    ctx.out.array(names.len());
    for name in &names {
        ctx.out.bulk(name);
    }
    Ok(())
}

fn numsub(ctx: &mut Ctx, args: &Args) -> CmdResult {
    count_subscribers(ctx, args, Kind::Channel)
}

fn shardnumsub(ctx: &mut Ctx, args: &Args) -> CmdResult {
    count_subscribers(ctx, args, Kind::Shard)
}

/// A flat name, count, name, count... array in both protocols, as Redis 7.0.
fn count_subscribers(ctx: &mut Ctx, args: &Args, kind: Kind) -> CmdResult {
    ctx.out.array((args.len() - 2) * 2);
    for name in args.iter().skip(2) {
        ctx.out.bulk(name);
        ctx.out
            .int(ctx.server.pubsub.subscribers(kind, name) as i64);
    }
    Ok(())
}

fn numpat(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    ctx.out.int(ctx.server.pubsub.len(Kind::Pattern) as i64);
    Ok(())
}

fn help(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    reply_help(
        ctx.out,
        "PUBSUB",
        &[
            "CHANNELS [<pattern>]",
            "    Return the currently active channels matching a <pattern> (default: '*').",
            "NUMPAT",
            "    Return number of subscriptions to patterns.",
            "NUMSUB [<channel> ...]",
            "    Return the number of subscribers for the specified channels, excluding",
            "    pattern subscriptions(default: no channels).",
            "SHARDCHANNELS [<pattern>]",
            "    Return the currently active shard level channels matching a <pattern> (default: '*').",
            "SHARDNUMSUB [<shardchannel> ...]",
            "    Return the number of subscribers for the specified shard level channel(s)",
        ],
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::testkit::TestClient;

    #[test]
    fn specs_match_redis() {
        let expected = [
            (
                "subscribe",
                -2,
                "pubsub noscript loading stale",
                (0, 0, 0),
                "pubsub slow",
            ),
            (
                "unsubscribe",
                -1,
                "pubsub noscript loading stale",
                (0, 0, 0),
                "pubsub slow",
            ),
            (
                "psubscribe",
                -2,
                "pubsub noscript loading stale",
                (0, 0, 0),
                "pubsub slow",
            ),
            (
                "punsubscribe",
                -1,
                "pubsub noscript loading stale",
                (0, 0, 0),
                "pubsub slow",
            ),
            (
                "ssubscribe",
                -2,
                "pubsub noscript loading stale",
                (1, -1, 1),
                "pubsub slow",
            ),
            (
                "sunsubscribe",
                -1,
                "pubsub noscript loading stale",
                (1, -1, 1),
                "pubsub slow",
            ),
            (
                "publish",
                3,
                "pubsub loading stale fast",
                (0, 0, 0),
                "pubsub fast",
            ),
            (
                "spublish",
                3,
                "pubsub loading stale fast",
                (1, 1, 1),
                "pubsub fast",
            ),
        ];
        let handled = super::COMMANDS.iter().filter(|s| s.handler.is_some());
        crate::cmd::spec::assert_specs_match_redis(handled, &expected);
        let subs = [
            (
                "channels",
                -2,
                "pubsub loading stale",
                (0, 0, 0),
                "pubsub slow",
            ),
            (
                "numsub",
                -2,
                "pubsub loading stale",
                (0, 0, 0),
                "pubsub slow",
            ),
            (
                "numpat",
                2,
                "pubsub loading stale",
                (0, 0, 0),
                "pubsub slow",
            ),
            (
                "shardchannels",
                -2,
                "pubsub loading stale",
                (0, 0, 0),
                "pubsub slow",
            ),
            (
                "shardnumsub",
                -2,
                "pubsub loading stale",
                (0, 0, 0),
                "pubsub slow",
            ),
            ("help", 2, "loading stale", (0, 0, 0), "slow"),
        ];
        crate::cmd::spec::assert_specs_match_redis(super::PUBSUB_SUBCOMMANDS, &subs);
    }

    #[test]
    fn subscribe_counts_and_restricts_resp2() {
        let mut a = TestClient::new();
        assert_eq!(
            a.run(&["UNSUBSCRIBE"]),
            "*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n"
        );
        assert_eq!(
            a.run(&["SUBSCRIBE", "c", "c"]),
            "*3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n*3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n"
        );
        assert_eq!(
            a.run(&["SSUBSCRIBE", "s"]),
            "*3\r\n$10\r\nssubscribe\r\n$1\r\ns\r\n:1\r\n"
        );
        assert_eq!(
            a.run(&["PUBSUB", "NUMSUB", "c"]),
            "-ERR Can't execute 'pubsub|numsub': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n"
        );
        let mut b = TestClient::on(a.server.clone());
        assert_eq!(b.run(&["PUBLISH", "c", "m"]), ":1\r\n");
        assert_eq!(
            b.run(&["PUBSUB", "NUMSUB", "c", "x"]),
            "*4\r\n$1\r\nc\r\n:1\r\n$1\r\nx\r\n:0\r\n"
        );
        assert_eq!(b.run(&["PUBSUB", "SHARDCHANNELS"]), "*1\r\n$1\r\ns\r\n");
        assert_eq!(a.run(&["RESET"]), "+RESET\r\n");
        assert_eq!(b.run(&["PUBLISH", "c", "m"]), ":0\r\n");
        assert_eq!(b.run(&["PUBSUB", "SHARDCHANNELS"]), "*0\r\n");
    }

    #[test]
    fn resp3_publisher_sees_its_own_message_first() {
        let mut a = TestClient::new();
        a.run(&["HELLO", "3"]);
        a.run(&["SUBSCRIBE", "c"]);
        assert_eq!(
            a.run(&["PUBLISH", "c", "m"]),
            ">3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\nm\r\n:1\r\n"
        );
        assert_eq!(a.run(&["GET", "k"]), "_\r\n");
    }
}
