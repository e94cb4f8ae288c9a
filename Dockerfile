# ferrokv container image.
#
#   docker build -t ferrokv .
#   docker run -d --name ferrokv -p 6379:6379 -v ferrokv-data:/data \
#     -e FERROKV_PASSWORD=change-me ferrokv
#
# Two stages: a Rust build stage whose dependency layer is rebuilt only when
# Cargo.toml or Cargo.lock change, then a small Debian runtime with the binary,
# the shipped configs and a non-root user. tests/deploy.rs checks this file.

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=trixie

############################## build stage #####################################
FROM rust:${RUST_VERSION}-slim-${DEBIAN_RELEASE} AS build
WORKDIR /src

# 1. Dependencies only: build the locked dependency graph against placeholder
#    sources, so editing ferrokv's code reuses this layer. Every [[bench]] in
#    Cargo.toml needs a placeholder file for the manifest to load.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src benches \
 && echo 'fn main() {}' > src/main.rs \
 && touch src/lib.rs \
 && echo 'fn main() {}' > benches/codec.rs \
 && echo 'fn main() {}' > benches/keyspace.rs
RUN cargo build --release --locked --bin ferrokv

# 2. The real sources. COPY keeps the files' old timestamps, which can be older
#    than the placeholder build: touch them so cargo rebuilds ferrokv itself.
COPY src ./src
RUN touch src/main.rs src/lib.rs \
 && cargo build --release --locked --bin ferrokv \
 && install -m 0755 target/release/ferrokv /usr/local/bin/ferrokv

############################## runtime stage ###################################
FROM debian:${DEBIAN_RELEASE}-slim

# A fixed, unprivileged uid/gid owns /data, the only writable directory.
RUN groupadd --system --gid 10001 ferrokv \
 && useradd --system --uid 10001 --gid ferrokv --home-dir /data \
      --shell /usr/sbin/nologin ferrokv \
 && mkdir -p /data /etc/ferrokv \
 && chown ferrokv:ferrokv /data

COPY --from=build /usr/local/bin/ferrokv /usr/local/bin/ferrokv
COPY conf/ferrokv.conf conf/render-cache.conf /etc/ferrokv/

USER ferrokv:ferrokv
WORKDIR /data
VOLUME ["/data"]
EXPOSE 6379

# SIGTERM makes ferrokv stop accepting, finish replies and exit 0 (saving
# first once persistence is on).
STOPSIGNAL SIGTERM

# The binary is its own probe (the image has no redis-cli): exit 0 on PONG.
# It authenticates with FERROKV_PASSWORD / REDIS_PASSWORD like the server.
HEALTHCHECK --interval=10s --timeout=10s --start-period=30s --retries=3 \
  CMD ["ferrokv", "--ping", "127.0.0.1:6379"]

# The password comes from the environment (FERROKV_PASSWORD or
# REDIS_PASSWORD), never from the image. Extra arguments after the image
# name replace the config path, e.g. `/etc/ferrokv/ferrokv.conf --bind 0.0.0.0`.
ENTRYPOINT ["ferrokv"]
CMD ["/etc/ferrokv/render-cache.conf"]
