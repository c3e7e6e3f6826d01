# syntax=docker/dockerfile:1
#
# sessiond container image. Build and run (README.md, "Running as a container"):
#
#   docker build -t sessiond .
#   docker run -d --name sessiond -v sessiond-data:/data sessiond
#
# Arguments after the image name are appended to the server's command line, so
# they override both the config file and the defaults set here:
#
#   docker run -d -p 6379:6379 -p 9121:9121 sessiond --requirepass "$PASSWORD"
#
# tests/dockerfile.rs checks this file against the repository and runs its
# ENTRYPOINT and HEALTHCHECK command lines against the cargo-built binary.

############################## build ##############################
# The official slim image already carries gcc and libc6-dev: the linker needs
# them, and so does build.rs, which compiles src/command/long_double.c with
# the cc crate. Edition 2024 needs Rust 1.85 or newer.
FROM rust:1.95.0-slim-bookworm AS build
WORKDIR /src
# Only what `cargo build` reads: the manifest lists the benches explicitly, so
# they must be present for it to parse even though they are not built.
COPY Cargo.toml Cargo.lock build.rs ./
COPY src ./src
COPY benches ./benches
# The registry and target directories are BuildKit cache mounts, so a rebuild
# after a source change recompiles only sessiond. The release profile keeps
# line tables for profiling; the image does not need them.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked \
    && install -m 0755 target/release/sessiond /usr/local/bin/sessiond \
    && strip --strip-debug /usr/local/bin/sessiond

############################## run ##############################
# Same Debian release as the build image, so the glibc the binary was linked
# against is the one it runs with. Nothing else is installed: sessiond needs
# only libc and libgcc_s, both part of the base image.
FROM debian:bookworm-slim
# A fixed, non-root uid/gid (10001), so volumes and Kubernetes'
# runAsUser/fsGroup can name it; /data is created owned by it before the
# VOLUME line, so a new volume starts with that ownership.
RUN groupadd --system --gid 10001 sessiond \
    && useradd --system --no-log-init --uid 10001 --gid sessiond \
        --home-dir /data --no-create-home --shell /usr/sbin/nologin sessiond \
    && mkdir -p /data \
    && chown sessiond:sessiond /data
COPY --from=build /usr/local/bin/sessiond /usr/local/bin/sessiond
# The documented example config, every directive at its default. The
# container-specific settings are on the command line below; a config mounted
# over this file is read the same way.
COPY conf/sessiond.conf /etc/sessiond/sessiond.conf
USER 10001:10001
WORKDIR /data
# The append-only files (manifest, base, incremental files).
VOLUME ["/data"]
# 6379: clients (RESP). 9121: Prometheus metrics at /metrics.
EXPOSE 6379 9121
# Exit 0 when the server answers PING on 127.0.0.1:6379 (inside the
# container, so protected mode never refuses it). With requirepass set, give
# the password: docker run --health-cmd 'sessiond ping --password ...', or the
# healthcheck "test" of a compose file. Kubernetes ignores HEALTHCHECK; its
# probes run the same command (README.md).
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
    CMD ["sessiond", "ping"]
# sessiond handles SIGTERM itself (finish in-flight commands, fsync the AOF,
# exit 0) and starts no child processes, so it can run as PID 1 without an
# init.
STOPSIGNAL SIGTERM
# --bind 0.0.0.0: reachable on the container's interfaces, so the metrics
# port can be scraped from outside the pod and published ports work. While no
# password is set, protected-mode (on by default) accepts clients only from
# loopback: a sidecar's app on 127.0.0.1 gets in, anyone else is refused with
# an error saying why. Set --requirepass to serve other containers (user
# lines alone do not lift protected mode, as in Redis), or --bind 127.0.0.1
# to listen on loopback only.
ENTRYPOINT ["sessiond", "/etc/sessiond/sessiond.conf", "--dir", "/data", "--bind", "0.0.0.0"]
