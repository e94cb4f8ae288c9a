//! Wire-level behaviour over real TCP: pipelining, inline commands, binary
//! safety, protocol errors (exact text, then close), partial writes, large
//! values and memory safety against lying length headers. Where redis-server
//! is installed, every fixed transcript is also checked against it, so the
//! expected bytes below are Redis's own.
//!
//! Also a property test of the request decoder: it never panics, never
//! consumes more than it was given, and decodes a stream identically however
//! the stream is cut into reads.

mod common;

use std::io::Write;
use std::time::{Duration, Instant};

use common::{Conn, ServerProcess, encode_command, escape, frame_end};
use ferrokv::protocol::parse::{Limits, Parsed, Span, parse_request};
use proptest::prelude::*;

/// One fixed exchange: bytes sent in one write, bytes expected back, and
/// whether the server must close the connection afterwards.
struct Transcript {
    name: &'static str,
    input: Vec<u8>,
    expected: &'static [u8],
    closes: bool,
}

fn t(name: &'static str, input: &[u8], expected: &'static [u8], closes: bool) -> Transcript {
    Transcript {
        name,
        input: input.to_vec(),
        expected,
        closes,
    }
}

/// Number of complete replies in `bytes`.
fn count_replies(bytes: &[u8]) -> usize {
    let (mut pos, mut n) = (0, 0);
    while let Some(Ok(end)) = frame_end(bytes, pos) {
        pos = end;
        n += 1;
    }
    n
}

/// Plays a transcript against a server; what came back, with `<closed>`
/// appended when the server closed the connection.
fn play(port: u16, transcript: &Transcript) -> Vec<u8> {
    let mut conn = Conn::connect(port);
    conn.set_timeout(Duration::from_secs(5));
    conn.send_raw(&transcript.input);
    if transcript.closes {
        let mut got = conn
            .read_to_close()
            .unwrap_or_else(|partial| [partial.as_slice(), b"<still open>"].concat());
        got.extend_from_slice(b"<closed>");
        return got;
    }
    let mut got = Vec::new();
    for _ in 0..count_replies(transcript.expected) {
        match conn.read_reply() {
            Ok(reply) => got.extend_from_slice(&reply),
            Err(e) => {
                got.extend_from_slice(format!("<{e:?}>").as_bytes());
                break;
            }
        }
    }
    got
}

/// Checks every transcript against ferrokv and, when present, redis-server.
fn check_transcripts(transcripts: &[Transcript]) {
    let ours = ServerProcess::ferrokv(&[]);
    let reference = ServerProcess::redis();
    let mut failures = Vec::new();
    for transcript in transcripts {
        let mut expected = transcript.expected.to_vec();
        if transcript.closes {
            expected.extend_from_slice(b"<closed>");
        }
        let servers = [("ferrokv", Some(&ours)), ("redis", reference.as_ref())];
        for (who, server) in servers {
            let Some(server) = server else { continue };
            let got = play(server.port, transcript);
            if got != expected {
                failures.push(format!(
                    "{} on {who}:\n    expected \"{}\"\n    got      \"{}\"",
                    transcript.name,
                    escape(&expected),
                    escape(&got)
                ));
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn protocol_errors_answer_then_close() {
    let too_long_count = [b"PING\r\n*".as_slice(), &[b'1'; 70_000]].concat();
    let too_long_bulk = [b"PING\r\n*1\r\n$".as_slice(), &[b'1'; 70_000]].concat();
    let too_long_inline = [b"PING\r\n".as_slice(), &[b'a'; 70_000]].concat();
    check_transcripts(&[
        t(
            "non-numeric multibulk count",
            b"PING\r\n*x\r\n",
            b"+PONG\r\n-ERR Protocol error: invalid multibulk length\r\n",
            true,
        ),
        t(
            "multibulk count over 2^31",
            b"*1\r\n$4\r\nPING\r\n*3000000000\r\n",
            b"+PONG\r\n-ERR Protocol error: invalid multibulk length\r\n",
            true,
        ),
        t(
            "negative bulk length",
            b"PING\r\n*1\r\n$-5\r\n",
            b"+PONG\r\n-ERR Protocol error: invalid bulk length\r\n",
            true,
        ),
        t(
            "bulk over proto-max-bulk-len",
            b"PING\r\n*1\r\n$600000000\r\n",
            b"+PONG\r\n-ERR Protocol error: invalid bulk length\r\n",
            true,
        ),
        t(
            "simple string inside a multibulk",
            b"PING\r\n*1\r\n+foo\r\n",
            b"+PONG\r\n-ERR Protocol error: expected '$', got '+'\r\n",
            true,
        ),
        t(
            "unterminated double quote",
            b"PING\r\nSET \"a\r\n",
            b"+PONG\r\n-ERR Protocol error: unbalanced quotes in request\r\n",
            true,
        ),
        t(
            "closing quote followed by a letter",
            b"PING \"a\"b\r\n",
            b"-ERR Protocol error: unbalanced quotes in request\r\n",
            true,
        ),
        t(
            "unterminated single quote",
            b"PING 'a\r\n",
            b"-ERR Protocol error: unbalanced quotes in request\r\n",
            true,
        ),
        Transcript {
            name: "inline request over 64 KiB",
            input: too_long_inline,
            expected: b"+PONG\r\n-ERR Protocol error: too big inline request\r\n",
            closes: true,
        },
        Transcript {
            name: "multibulk count line over 64 KiB",
            input: too_long_count,
            expected: b"+PONG\r\n-ERR Protocol error: too big mbulk count string\r\n",
            closes: true,
        },
        Transcript {
            name: "bulk length line over 64 KiB",
            input: too_long_bulk,
            expected: b"+PONG\r\n-ERR Protocol error: too big bulk count string\r\n",
            closes: true,
        },
    ]);
}

#[test]
fn inline_and_edge_framing_match_redis() {
    check_transcripts(&[
        t("inline PING with CRLF", b"PING\r\n", b"+PONG\r\n", false),
        t("inline PING with bare LF", b"PING\n", b"+PONG\r\n", false),
        t(
            "inline quoted arguments",
            b"ECHO \"a b\\x41\\n\"\r\nECHO 'it\\'s'\r\n",
            b"$5\r\na bA\n\r\n$4\r\nit's\r\n",
            false,
        ),
        t(
            "inline arity error",
            b"ECHO \"a\" 'b'\r\n",
            b"-ERR wrong number of arguments for 'echo' command\r\n",
            false,
        ),
        t(
            "empty multibulk and blank lines are skipped",
            b"*0\r\nPING\r\n*-1\r\n\r\n  \r\nPING\r\n",
            b"+PONG\r\n+PONG\r\n",
            false,
        ),
        t(
            "mixed multibulk and inline in one write",
            b"*1\r\n$4\r\nping\r\nPING x\r\n*2\r\n$4\r\nECHO\r\n$0\r\n\r\n",
            b"+PONG\r\n$1\r\nx\r\n$0\r\n\r\n",
            false,
        ),
        t(
            "binary-safe key and value",
            b"*3\r\n$3\r\nSET\r\n$4\r\nk\0\r\n\r\n$5\r\n\r\n\0v\n\r\n*2\r\n$3\r\nGET\r\n$4\r\nk\0\r\n\r\n",
            b"+OK\r\n$5\r\n\r\n\0v\n\r\n",
            false,
        ),
    ]);
}

/// Runs `check` against ferrokv and, when installed, redis-server, so the
/// expectations are known to be Redis's.
fn on_both(check: impl Fn(&ServerProcess)) {
    check(&ServerProcess::ferrokv(&[]));
    if let Some(reference) = ServerProcess::redis() {
        check(&reference);
    }
}

#[test]
fn ten_thousand_pipelined_commands_reply_in_order() {
    on_both(pipeline_in_order);
}

fn pipeline_in_order(server: &ServerProcess) {
    const N: usize = 10_000;
    let mut conn = server.connect();
    let mut batch = Vec::new();
    for i in 0..N {
        batch.extend_from_slice(&encode_command(&["ECHO", &i.to_string()]));
    }
    // Write from another thread: the replies flow back while we still send,
    // and a single thread could deadlock on full socket buffers.
    let mut writer = conn.stream.try_clone().expect("clone stream");
    let sender = std::thread::spawn(move || writer.write_all(&batch));
    for i in 0..N {
        let reply = conn
            .read_reply()
            .unwrap_or_else(|e| panic!("reply {i}: {e:?}"));
        let expected = format!("${}\r\n{i}\r\n", i.to_string().len());
        assert_eq!(reply, expected.as_bytes(), "reply {i} out of order");
    }
    sender.join().unwrap().expect("write pipeline");
}

#[test]
fn request_split_into_single_bytes_works() {
    on_both(single_byte_writes);
}

fn single_byte_writes(server: &ServerProcess) {
    let mut conn = server.connect();
    let mut stream = Vec::new();
    stream.extend_from_slice(&encode_command(&["SET", "split", "a\r\nb"]));
    stream.extend_from_slice(b"GET split\r\n");
    stream.extend_from_slice(&encode_command(&["GET", "split"]));
    for byte in &stream {
        conn.send_raw(std::slice::from_ref(byte));
    }
    assert_eq!(conn.read_reply().unwrap(), b"+OK\r\n");
    assert_eq!(conn.read_reply().unwrap(), b"$4\r\na\r\nb\r\n");
    assert_eq!(conn.read_reply().unwrap(), b"$4\r\na\r\nb\r\n");
}

#[test]
fn ten_megabyte_value_round_trips() {
    on_both(big_value_round_trip);
}

fn big_value_round_trip(server: &ServerProcess) {
    let mut conn = server.connect();
    let value: Vec<u8> = (0..10 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    let writer_conn = conn.stream.try_clone().expect("clone stream");
    let request = encode_command(&[b"SET".as_slice(), b"big", &value]);
    let sender = std::thread::spawn(move || (&writer_conn).write_all(&request));
    assert_eq!(conn.read_reply().unwrap(), b"+OK\r\n");
    sender.join().unwrap().expect("write");
    let reply = conn.cmd(&["GET", "big"]);
    let header = format!("${}\r\n", value.len());
    assert!(reply.starts_with(header.as_bytes()));
    assert!(
        reply[header.len()..reply.len() - 2] == value[..],
        "value corrupted"
    );
}

#[test]
fn announced_huge_bulk_does_not_allocate() {
    let server = ServerProcess::ferrokv(&[]);
    let (before, data_before) = (server.rss_kib(), server.data_kib());
    {
        let mut conn = server.connect();
        conn.send_raw(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$400000000\r\n");
        conn.send_raw(&vec![b'x'; 1024 * 1024]);
        // Make sure the server has read the header before we hang up.
        std::thread::sleep(Duration::from_millis(200));
    }
    let mut conn = server.connect();
    assert_eq!(conn.cmd(&["PING"]), b"+PONG\r\n");
    let (after, data_after) = (server.rss_kib(), server.data_kib());
    // 400 MB were announced; only about 1 MB arrived. Allow generous slack.
    assert!(
        after < before + 64 * 1024,
        "RSS grew from {before} KiB to {after} KiB"
    );
    // Untouched reserved pages do not show in RSS, but do in VmData.
    assert!(
        data_after < data_before + 200 * 1024,
        "VmData grew from {data_before} KiB to {data_after} KiB"
    );
    assert_eq!(conn.cmd(&["GET", "k"]), b"$-1\r\n");
}

#[test]
fn server_survives_many_short_connections() {
    let server = ServerProcess::ferrokv(&[]);
    let deadline = Instant::now() + Duration::from_secs(20);
    for i in 0..200 {
        assert!(Instant::now() < deadline, "too slow at connection {i}");
        let mut conn = server.connect();
        assert_eq!(conn.cmd(&["PING"]), b"+PONG\r\n");
    }
}

/// One decoded request: its arguments.
type Request = Vec<Vec<u8>>;

/// Decodes every complete request in `buf` the way a connection does,
/// returning the argument lists and the bytes consumed.
fn decode_all(buf: &[u8]) -> Result<(Vec<Request>, usize), String> {
    let (mut spans, mut scratch) = (Vec::<Span>::new(), Vec::new());
    let mut requests = Vec::new();
    let mut pos = 0;
    while pos < buf.len() {
        let rest = &buf[pos..];
        let parsed = parse_request(rest, &mut spans, &mut scratch, Limits::default())
            .map_err(|e| e.to_string())?;
        let (consumed, source) = match parsed {
            Parsed::Incomplete { .. } => break,
            Parsed::Empty { consumed } => {
                assert!(consumed > 0 && consumed <= rest.len());
                pos += consumed;
                continue;
            }
            Parsed::Multibulk { consumed } => (consumed, rest),
            Parsed::Inline { consumed } => (consumed, scratch.as_slice()),
        };
        assert!(
            consumed > 0 && consumed <= rest.len(),
            "consumed {consumed}"
        );
        let args = spans.iter().map(|s| {
            assert!(
                s.start <= s.end && s.end <= source.len(),
                "span out of bounds"
            );
            source[s.start..s.end].to_vec()
        });
        requests.push(args.collect());
        pos += consumed;
    }
    Ok((requests, pos))
}

/// Feeds `stream` to the decoder in chunks cut at `cuts`, as reads would
/// deliver it, keeping unconsumed bytes for the next round.
fn decode_in_chunks(stream: &[u8], cuts: &[usize]) -> Result<Vec<Request>, String> {
    let mut buffer = Vec::new();
    let mut requests = Vec::new();
    let mut last = 0;
    let mut bounds: Vec<usize> = cuts.iter().map(|&c| c.min(stream.len())).collect();
    bounds.sort_unstable();
    bounds.push(stream.len());
    for cut in bounds {
        buffer.extend_from_slice(&stream[last..cut.max(last)]);
        last = cut.max(last);
        let (decoded, consumed) = decode_all(&buffer)?;
        requests.extend(decoded);
        buffer.drain(..consumed);
    }
    Ok(requests)
}

/// A request as multibulk (any bytes) or inline (plain words only).
fn request_strategy() -> impl Strategy<Value = (Vec<Vec<u8>>, bool)> {
    prop_oneof![
        (
            prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 1..8),
            Just(false)
        ),
        (
            prop::collection::vec("[a-zA-Z0-9_:.-]{1,12}", 1..6)
                .prop_map(|words| words.into_iter().map(String::into_bytes).collect()),
            Just(true)
        ),
    ]
}

fn encode_inline(args: &[Vec<u8>]) -> Vec<u8> {
    let mut line = args.join(&b' ');
    line.extend_from_slice(b"\r\n");
    line
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn decoder_never_panics_on_random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode_all(&bytes);
    }

    #[test]
    fn decoder_never_panics_on_damaged_requests(
        requests in prop::collection::vec(request_strategy(), 1..6),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut stream: Vec<u8> = requests.iter().flat_map(|(args, inline)| {
            if *inline { encode_inline(args) } else { encode_command(args) }
        }).collect();
        for (index, byte) in flips {
            let at = index.index(stream.len());
            stream[at] = byte;
        }
        let _ = decode_all(&stream);
        let _ = decode_in_chunks(&stream, &[1, stream.len() / 2]);
    }

    #[test]
    fn valid_requests_decode_the_same_however_split(
        requests in prop::collection::vec(request_strategy(), 1..10),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
    ) {
        let stream: Vec<u8> = requests.iter().flat_map(|(args, inline)| {
            if *inline { encode_inline(args) } else { encode_command(args) }
        }).collect();
        let expected: Vec<Request> = requests.into_iter().map(|(args, _)| args).collect();
        let (whole, consumed) = decode_all(&stream).unwrap();
        prop_assert_eq!(consumed, stream.len());
        prop_assert_eq!(&whole, &expected);
        let cuts: Vec<usize> = cuts.iter().map(|i| i.index(stream.len() + 1)).collect();
        prop_assert_eq!(decode_in_chunks(&stream, &cuts).unwrap(), expected);
    }
}
