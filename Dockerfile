# syntax=docker/dockerfile:1
# mcpfleet: every server in one image; the entrypoint is `mcpfleet serve`.
#
#   docker build -t registry.example.org/platform/mcpfleet:0.1.0 .
#   docker run --rm -p 8080:8080 --read-only --tmpfs /tmp registry.example.org/platform/mcpfleet:0.1.0 \
#       math --host 0.0.0.0 --insecure-no-auth
#
# Stages: `wheels` builds the project and its extras into /wheels (compilers live only there),
# `node` installs the ui server's Node packages, the final stage installs the wheels into a venv
# and runs as UID 10001 with a read-only root: HOME, TMPDIR and caches point at /tmp (an emptyDir
# in Kubernetes), the docs index at /var/lib/mcpfleet (a volume).

# The bases are build args so the same recipe also builds on local bases where no registry is
# reachable (scripts/build-image.sh: debootstrap bookworm + Node 22, tagged localhost/...). Any base
# for PYTHON_IMAGE needs `python` 3.11 with venv and apt; NODE_IMAGE needs /usr/local/bin/node + npm.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG NODE_IMAGE=node:22-bookworm-slim

# --- Python wheels ------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS wheels
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY mcpfleet ./mcpfleet
COPY common ./common
COPY servers ./servers
COPY evals ./evals
# pip from a venv: the same on the upstream image and on a Debian base (whose system pip is
# externally managed).
RUN python -m venv /opt/build \
    && /opt/build/bin/pip wheel --no-cache-dir --wheel-dir /wheels ".[all]"

# --- Node packages of the ui server -----------------------------------------------------------
FROM ${NODE_IMAGE} AS node
WORKDIR /opt/ui-node
COPY servers/ui/node/ ./
RUN bash ./install.sh /opt/ui-node \
    && npm cache clean --force

# --- runtime ----------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="mcpfleet" \
      org.opencontainers.image.description="MCP servers for self-hosted LLMs" \
      org.opencontainers.image.licenses="Apache-2.0"
# SWI-Prolog for the prolog server; ca-certificates for outbound HTTPS. No compilers here.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends swi-prolog-nox ca-certificates tini \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 mcpfleet \
    && useradd --system --uid 10001 --gid 10001 --home-dir /tmp --no-create-home --shell /usr/sbin/nologin mcpfleet \
    && install -d -o 10001 -g 10001 -m 0750 /var/lib/mcpfleet
# Node runtime (binary only) and the ui server's node_modules.
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY --from=node /opt/ui-node /opt/mcpfleet/ui-node
COPY --from=wheels /wheels /tmp/wheels
RUN python -m venv /opt/mcpfleet/venv \
    && /opt/mcpfleet/venv/bin/pip install --no-cache-dir --no-index --find-links /tmp/wheels "mcpfleet[all]" \
    && rm -rf /tmp/wheels
ENV PATH="/opt/mcpfleet/venv/bin:${PATH}" \
    HOME=/tmp \
    TMPDIR=/tmp \
    XDG_CACHE_HOME=/tmp/.cache \
    XDG_DATA_HOME=/var/lib/mcpfleet \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MCPFLEET_SERVERS__UI__NODE_MODULES=/opt/mcpfleet/ui-node/node_modules
USER 10001:10001
WORKDIR /tmp
EXPOSE 8080
HEALTHCHECK NONE
ENTRYPOINT ["/usr/bin/tini", "--", "mcpfleet", "serve"]
CMD ["all", "--host", "0.0.0.0", "--port", "8080"]
