//! Request decoding and reply encoding micro-benchmarks.
//!
//! The decoder comparison is the recorded reason the request decoder is
//! hand-written: ours against the `redis_protocol` crate's RESP2 decoder, both
//! its zero-copy range decoder and its owned-frame decoder, on the same bytes.
//! Run: `cargo bench --bench codec`.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ferrokv::protocol::Reply;
use ferrokv::protocol::parse::{Limits, Parsed, Span, parse_request};

fn multibulk(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// The three request shapes: a GET, a SET with a 32-byte value, and 16
/// pipelined GET/SET commands in one buffer.
fn workloads() -> Vec<(&'static str, Vec<u8>)> {
    let get = multibulk(&[b"GET", b"key:000000012345"]);
    let set = multibulk(&[b"SET", b"key:000000012345", &[b'v'; 32]]);
    let pipeline: Vec<u8> = (0..8)
        .flat_map(|_| [get.clone(), set.clone()])
        .flatten()
        .collect();
    vec![("get", get), ("set_32b", set), ("pipeline_16", pipeline)]
}

/// Decodes every request in `buf` with our parser; returns the argument count.
fn ours(buf: &[u8], spans: &mut Vec<Span>, scratch: &mut Vec<u8>) -> usize {
    let (mut pos, mut args) = (0, 0);
    while pos < buf.len() {
        match parse_request(&buf[pos..], spans, scratch, Limits::default()) {
            Ok(Parsed::Multibulk { consumed }) | Ok(Parsed::Inline { consumed }) => {
                args += spans.len();
                pos += consumed;
            }
            Ok(Parsed::Empty { consumed }) => pos += consumed,
            _ => break,
        }
    }
    args
}

/// Decodes every frame in `buf` with redis_protocol's zero-copy decoder.
fn theirs_range(buf: &[u8]) -> usize {
    let (mut pos, mut frames) = (0, 0);
    while let Ok(Some((frame, consumed))) = redis_protocol::resp2::decode::decode_range(&buf[pos..])
    {
        black_box(&frame);
        frames += 1;
        pos += consumed;
    }
    frames
}

/// Decodes every frame in `buf` into owned frames (what a server would then
/// turn into arguments).
fn theirs_owned(buf: &[u8]) -> usize {
    let (mut pos, mut frames) = (0, 0);
    while let Ok(Some((frame, consumed))) = redis_protocol::resp2::decode::decode(&buf[pos..]) {
        black_box(&frame);
        frames += 1;
        pos += consumed;
    }
    frames
}

fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode");
    for (name, buf) in workloads() {
        group.throughput(Throughput::Bytes(buf.len() as u64));
        let (mut spans, mut scratch) = (Vec::new(), Vec::new());
        group.bench_with_input(BenchmarkId::new("ferrokv", name), &buf, |b, buf| {
            b.iter(|| ours(black_box(buf), &mut spans, &mut scratch))
        });
        group.bench_with_input(
            BenchmarkId::new("redis_protocol_range", name),
            &buf,
            |b, buf| b.iter(|| theirs_range(black_box(buf))),
        );
        group.bench_with_input(
            BenchmarkId::new("redis_protocol_owned", name),
            &buf,
            |b, buf| b.iter(|| theirs_owned(black_box(buf))),
        );
    }
    group.finish();
}

fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode");
    let value = [b'v'; 32];
    let mut out = Reply::new(false);
    group.bench_function("bulk_32b", |b| {
        b.iter(|| {
            out.buf.clear();
            out.bulk(black_box(&value));
            out.len()
        })
    });
    group.bench_function("array_16_bulks", |b| {
        b.iter(|| {
            out.buf.clear();
            out.array(16);
            for _ in 0..16 {
                out.bulk(black_box(&value));
            }
            out.len()
        })
    });
    group.finish();
}

criterion_group!(benches, decode, encode);
criterion_main!(benches);
