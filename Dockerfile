# Roster in a container: a multi-stage build, a small non-root final image.
#
#   docker build -t roster .
#   docker run -p 8080:8080 -v roster-data:/data -e ROSTER_ADMIN_TOKEN=change-me roster
#
# The build needs only the Rust and Debian images and crates.io.

FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY crates ./crates
RUN cargo build --release --locked -p roster \
    && strip target/release/roster

FROM debian:bookworm-slim
# CA certificates for TLS to PostgreSQL; nothing else is needed at run time.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin roster \
    && mkdir /data && chown roster:roster /data
COPY --from=build /src/target/release/roster /usr/local/bin/roster
USER roster
WORKDIR /data
ENV ROSTER_LISTEN=0.0.0.0:8080 \
    ROSTER_DATA_DIR=/data \
    ROSTER_LOG_FORMAT=json
VOLUME /data
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s \
    CMD ["roster", "healthcheck"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["roster"]
CMD ["serve"]
