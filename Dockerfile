# syntax=docker/dockerfile:1
# flowmesh: one engine node. `docker build -t flowmesh .`; running it alone, in compose.yaml's 3-member cluster
# and on Kubernetes (deploy/k8s/): docs/DEPLOYMENT.md. deploy/deploy_static_test.ts checks this file against
# the node's settings (server/ops/config_settings.ts) and deno.json's `serve` task.

# Deno's official image (Debian): /tini as PID 1, the unprivileged user `deno` (uid 1993).
FROM denoland/deno:debian-2.9.6

WORKDIR /app

# DENO_DIR: the dependency cache, baked in below, so the node starts with no network.
# ENGINE_HTTP_HOST 0.0.0.0: reachable through a published port. A cluster member sets it to the address the
# other members reach it at (its host name, its pod IP): the node advertises its --host to them.
# ENGINE_DATA_DIR: the embedded store and the files root (`<data-dir>/files`); mount a volume there for a
# single node that keeps its data in SQLite.
ENV DENO_DIR=/deno-dir \
    DENO_NO_UPDATE_CHECK=1 \
    ENGINE_HTTP_HOST=0.0.0.0 \
    ENGINE_DATA_DIR=/var/lib/flowmesh

RUN mkdir -p /var/lib/flowmesh && chown deno:deno /var/lib/flowmesh /deno-dir

# The code stays root's (read-only to the node); .dockerignore keeps tests, docs and data out.
COPY . .

USER deno

# Every module and npm package of both entry points (dynamic imports included), exactly as deno.lock pins them.
RUN deno install --frozen --entrypoint server/main.ts deploy/healthcheck.ts

# HTTP (ENGINE_HTTP_PORT, default 8080) and the cluster transport (ENGINE_CLUSTER_PORT: none by default;
# compose.yaml and deploy/k8s use 7400).
EXPOSE 8080 7400

# SIGTERM: the node hands its shards to the other members, then exits 0 (at most 10 s when no member takes
# them); give `docker stop` at least 30 s (compose.yaml's stop_grace_period).
STOPSIGNAL SIGTERM

HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD ["deno", "run", "--cached-only", "--allow-net", "--allow-env", "--allow-read", "deploy/healthcheck.ts"]

# `deno task serve` (deno.json), from the baked cache only; arguments after the image name add flags.
ENTRYPOINT ["/tini", "--", "deno", "run", "--cached-only", "--allow-net", "--allow-read", "--allow-write", "--allow-env", "--allow-sys", "server/main.ts"]
CMD []
