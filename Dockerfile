# peek-server in a container (docs/deploy.md, "Container").
#   docker build -t peek-server .
#   docker run -d -p 127.0.0.1:3000:3000 -v peek-data:/data peek-server
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
# --locked: build exactly the dependency versions of Cargo.lock, as CI does.
RUN cargo build --release --locked -p server --bin peek-server

FROM debian:bookworm-slim
RUN useradd --system --home-dir /data --shell /usr/sbin/nologin peek \
    && mkdir -p /data && chown peek:peek /data
COPY --from=build /src/target/release/peek-server /usr/local/bin/peek-server
USER peek
ENV DATA_DIR=/data PORT=3000 RUST_LOG=info
VOLUME /data
EXPOSE 3000
# Start-up migrates and backs up every user before it listens: give a large
# data directory time before failed checks count.
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
    CMD ["peek-server", "healthcheck"]
ENTRYPOINT ["peek-server"]
CMD ["serve", "--listen", "0.0.0.0:3000"]
