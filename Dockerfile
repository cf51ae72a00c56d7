# Baton: one image holding baton-api, baton-worker and baton-scheduler (and the `baton`
# command); docker-compose.yml picks the binary per service. Workers run reports, so the
# image has git (to export a report's commit) and python3 (for .py report scripts);
# examples/reports is the source of the example reports repository that
# docker-compose.yml's reports-init service makes.

FROM rust:1-bookworm AS builder
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --workspace --bins --locked \
    && mkdir -p /out \
    && cp target/release/baton-api target/release/baton-worker target/release/baton-scheduler \
        target/release/baton /out/

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates tini git python3 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /srv/baton --shell /usr/sbin/nologin baton \
    && mkdir -p /var/lib/baton/reports-repo /var/lib/baton/artefacts \
    && chown -R baton:baton /var/lib/baton
COPY --from=builder /out/baton-api /out/baton-worker /out/baton-scheduler /out/baton /usr/local/bin/
COPY examples/ /srv/baton/examples/
WORKDIR /srv/baton
USER baton
ENV BATON_DEFINITIONS=/srv/baton/examples/definitions \
    BATON_ARTEFACTS=/var/lib/baton/artefacts \
    BATON_LISTEN=0.0.0.0:8080 \
    RUST_LOG=info
EXPOSE 8080
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["baton-api"]
