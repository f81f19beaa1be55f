# CloudVault container image: one binary, `cloudvault`, for every role.
#   cloudvault serve    S3 API on :9000, console JSON API + /healthz /readyz /metrics on :4000 (backend)
#   cloudvault console  the web console bundle on :8080, proxying /api to CLOUDVAULT_API_URL (frontend)
#
# Build:   docker build -t cloudvault:0.1.0 .      (or on OpenShift: see docs/deploy-openshift.md)
# Run:     docker run -p 9000:9000 -v cloudvault-data:/data cloudvault:0.1.0
#          (SQLite inside /data; set CLOUDVAULT_DATABASE_URL=mysql://... for several replicas)
#
# The image contains no secret: credentials, the database URL and signing keys come from the
# environment at run time (Kubernetes Secrets on OpenShift).
#
# OpenShift runs the container with an arbitrary UID and GID 0 (restricted-v2 SCC): the only
# directory the process writes, /data, is owned by 1001:0 and group-writable, and USER is numeric.

# ---- builder ------------------------------------------------------------------------------------
# Pinned to the toolchain of rust-toolchain.toml (1.96). The `rustup toolchain install` below reads
# that file, so the image and `cargo` on a workstation use the same compiler, components and targets.
FROM docker.io/library/rust:1.96-slim-trixie AS builder

WORKDIR /src

# Toolchain from rust-toolchain.toml (+ the wasm target explicitly, should the file ever drop it),
# then the wasm-bindgen CLI. Both are layers of their own, reused until the files above change.
# wasm-bindgen-cli must match the `wasm-bindgen` crate version in Cargo.lock exactly
# (tests/deploy checks this); `cargo install` without --locked, as wasm-bindgen documents.
COPY rust-toolchain.toml ./
RUN rustup toolchain install \
    && rustup target add wasm32-unknown-unknown \
    && rustc --version \
    && cargo install wasm-bindgen-cli --version 0.2.130 \
    && wasm-bindgen --version

COPY . .

# The server. --locked: the build uses exactly the committed Cargo.lock.
RUN cargo build --release --locked -p cloudvault-s3-api \
    && install -D -m 0755 target/release/cloudvault /out/usr/local/bin/cloudvault

# The console bundle: the Dioxus app compiled to wasm32 (size-optimized, as scripts/build-console
# does), bound by the wasm-bindgen CLI of the same version as the crate, next to index.html and
# style.css from console/assets. A build that produces no wasm fails here.
RUN set -eu; \
    CARGO_PROFILE_RELEASE_OPT_LEVEL=z CARGO_PROFILE_RELEASE_LTO=true CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 \
    CARGO_PROFILE_RELEASE_DEBUG=false CARGO_PROFILE_RELEASE_PANIC=abort \
        cargo build --release --locked --target wasm32-unknown-unknown -p cloudvault-console; \
    rm -rf console/dist; mkdir -p console/dist; \
    wasm-bindgen --target web --no-typescript --out-dir console/dist --out-name cloudvault_console \
        target/wasm32-unknown-unknown/release/cloudvault-console.wasm; \
    cp console/assets/index.html console/assets/style.css console/dist/; \
    mkdir -p /out/opt/cloudvault; \
    cp -r console/dist /out/opt/cloudvault/console; \
    ls -l /out/opt/cloudvault/console

# ---- runtime ------------------------------------------------------------------------------------
# Same Debian release as the builder (glibc match). ca-certificates for outgoing TLS.
FROM docker.io/library/debian:trixie-slim AS runtime

LABEL org.opencontainers.image.title="CloudVault" \
      org.opencontainers.image.description="S3-compatible object storage (server and web console)" \
      org.opencontainers.image.licenses="Apache-2.0" \
      io.k8s.display-name="CloudVault" \
      io.openshift.expose-services="9000:s3,4000:api,8080:console"

RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*

# Program files stay root-owned (the app cannot modify itself); /data, the one place the app writes,
# belongs to 1001 and group 0 with group permissions equal to the user's, so any UID that OpenShift
# assigns (always in group 0) can write it. /tmp is already world-writable (an emptyDir on OpenShift).
COPY --from=builder /out/ /
RUN mkdir -p /data \
    && chown -R 1001:0 /data \
    && chmod -R g=u /data \
    && /usr/local/bin/cloudvault --version

ENV CLOUDVAULT_DATA_DIR=/data \
    CLOUDVAULT_S3_ADDR=0.0.0.0:9000 \
    CLOUDVAULT_API_ADDR=0.0.0.0:4000 \
    CLOUDVAULT_CONSOLE_DIR=/opt/cloudvault/console \
    CLOUDVAULT_LOG_FORMAT=json

VOLUME ["/data"]
WORKDIR /data

# All above 1024: no capability is needed to bind them.
EXPOSE 9000 4000 8080

USER 1001

ENTRYPOINT ["/usr/local/bin/cloudvault"]
CMD ["serve"]
