# leadpulse: a multi-stage build. The runtime image is distroless (glibc,
# OpenSSL, CA certificates; no shell) and runs as a non-root user.
#
#   docker build -t leadpulse .
#   docker run --rm leadpulse --help

FROM rust:1.95-bookworm AS build
# librdkafka is built from source by rdkafka-sys: it needs a C toolchain,
# make and the OpenSSL headers (for TLS and SASL/SCRAM).
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential pkg-config libssl-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Everything Cargo.toml names: the workspace crates, the benches it
# declares, and the files the sources include (tests/it/packaging/image.rs
# rebuilds this context without Docker and checks that it builds).
COPY Cargo.toml Cargo.lock ./
COPY crates crates
COPY proto proto
COPY examples examples
COPY benches benches
COPY src src
RUN cargo build --release --locked --bin leadpulse \
 && strip target/release/leadpulse

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/leadpulse /usr/local/bin/leadpulse
COPY --from=build /src/examples/model.toml /etc/leadpulse/model.toml
COPY --from=build /src/examples/routing.toml /etc/leadpulse/routing.toml
COPY deploy/leadpulse.toml /etc/leadpulse/leadpulse.toml
# The admin endpoint listens on all interfaces inside the container only.
ENV LEADPULSE_ADMIN__LISTEN=0.0.0.0:9898 \
    LEADPULSE_MODEL__PATH=/etc/leadpulse/model.toml \
    LEADPULSE_ROUTING__PATH=/etc/leadpulse/routing.toml \
    LEADPULSE_LOG__FORMAT=json
EXPOSE 9898
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/leadpulse"]
CMD ["run", "--config", "/etc/leadpulse/leadpulse.toml"]
