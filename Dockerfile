# netsec container image (docs/deploy.md).
#
#   docker build -t netsec .                      (podman: add --format docker,
#   docker run -d -p 8080:8080 -v netsec:/var/lib/netsec netsec    to keep HEALTHCHECK)
#
# Three stages:
#   assets   Debian's nodejs + npm fetch Swagger UI from the committed lockfile
#            (scripts/fetch-assets.sh); only its node_modules leave the stage.
#   build    compiles with the project's own script (scripts/build.sh), runs the
#            unit tests and fuzz-corpus replays (RUN_TESTS=1, the default) and
#            installs into /opt/netsec with the bundled data.
#   runtime  debian:bookworm-slim with the shared libraries netsec links and
#            nothing else: no compiler, no node, no curl.
#
# Base images are Debian 12 by tag, which follows Debian's point releases and
# security updates.  For a reproducible build pin them by digest, e.g.
#   --build-arg DEBIAN=debian:bookworm@sha256:<digest>
#   --build-arg DEBIAN_SLIM=debian:bookworm-slim@sha256:<digest>
# (digest: `docker buildx imagetools inspect debian:bookworm`).  No digest is
# pinned here because the machine this was written on cannot reach a registry
# to read the current one.
ARG DEBIAN=debian:bookworm
ARG DEBIAN_SLIM=debian:bookworm-slim

# ---- assets: Swagger UI from npm, pinned by third_party/swagger-ui/package-lock.json
FROM ${DEBIAN} AS assets
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates nodejs npm \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY scripts/fetch-assets.sh scripts/
COPY third_party/swagger-ui/package.json third_party/swagger-ui/package-lock.json \
     third_party/swagger-ui/.npmrc third_party/swagger-ui/
RUN scripts/fetch-assets.sh

# ---- build: compile, test, install into /opt/netsec
FROM ${DEBIAN} AS build
# RUN_TESTS=1 runs the unit tests and fuzz-corpus replays (ctest -L 'unit|fuzz')
# before installing; 0 skips them (and cmocka).  The integration, browser and
# sanitizer suites run in CI (.ci/run), not here.
ARG RUN_TESTS=1
ENV DEBIAN_FRONTEND=noninteractive
# gcc brings OpenMP (libgomp); libomp-dev is clang's and not needed here.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      gcc libc6-dev make cmake pkg-config \
      libyaml-dev libsqlite3-dev libmicrohttpd-dev libmongoc-dev libbson-dev \
      libcurl4-openssl-dev \
      $(if [ "$RUN_TESTS" = 1 ]; then echo libcmocka-dev; fi) \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
COPY --from=assets /src/third_party/swagger-ui/node_modules third_party/swagger-ui/node_modules
# The project's tested flags (RelWithDebInfo: -O2 -g); the installed binary is
# stripped.  NETSEC_DATA_DIR is compiled in as the installed data folder.
RUN scripts/build.sh build \
      -DCMAKE_INSTALL_PREFIX=/opt/netsec \
      -DNETSEC_DATA_DIR=/opt/netsec/share/netsec/data \
      -DNETSEC_TESTS=$(if [ "$RUN_TESTS" = 1 ]; then echo ON; else echo OFF; fi) \
 && if [ "$RUN_TESTS" = 1 ]; then \
      ctest --test-dir build -L 'unit|fuzz' -j"$(nproc)" --output-on-failure; \
    fi \
 && cmake --install build --strip

# ---- runtime
FROM ${DEBIAN_SLIM} AS runtime
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libyaml-0-2 libsqlite3-0 libmicrohttpd12 libmongoc-1.0-0 libbson-1.0-0 \
      libcurl4 libgomp1 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 netsec \
 && useradd --system --uid 10001 --gid netsec --home-dir /var/lib/netsec \
      --no-create-home --shell /usr/sbin/nologin netsec \
 && install -d -o netsec -g netsec -m 0750 /var/lib/netsec
# Only the tool, its data (share/netsec/data) and the licences of what it
# embeds (share/doc/netsec): the libraries and headers stay in the build stage.
COPY --from=build /opt/netsec/bin/netsec /opt/netsec/bin/netsec
COPY --from=build /opt/netsec/share /opt/netsec/share
# Fail the build here, not at start-up, if a shared library is missing.
RUN ! ldd /opt/netsec/bin/netsec | grep 'not found' \
 && /opt/netsec/bin/netsec --help >/dev/null

# Everything a run writes lives in the volume: the store, the model registry,
# the per-run artifacts and the MLflow runs.  Override any of them with -e.
ENV PATH=/opt/netsec/bin:$PATH \
    NETSEC_DATA_DIR=/opt/netsec/share/netsec/data \
    NETSEC_STORE=sqlite:/var/lib/netsec/netsec.db \
    NETSEC_REGISTRY=/var/lib/netsec/models \
    NETSEC_ARTIFACTS=/var/lib/netsec/artifacts \
    MLFLOW_TRACKING_URI=file:///var/lib/netsec/mlruns \
    NETSEC_HOST=0.0.0.0 \
    NETSEC_PORT=8080
WORKDIR /var/lib/netsec
VOLUME ["/var/lib/netsec"]
USER 10001:10001
EXPOSE 8080
# GET /healthz without curl: bash's /dev/tcp, HTTP/1.0 so the server closes the
# connection after the answer.  The start period covers the first training of
# `netsec run` (the server listens only once a model exists: about 10 s for
# the bundled dataset on 2 cores).
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
  CMD ["/bin/bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${NETSEC_PORT:-8080} && printf 'GET /healthz HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && read -r -t 5 _ code _ <&3 && [ \"$code\" = 200 ]"]
# The main job: ingest the bundled dataset, train if the registry has no model,
# serve on 8080.  Any other command: `docker run IMAGE serve`, `... IMAGE train`.
ENTRYPOINT ["netsec"]
CMD ["run"]
