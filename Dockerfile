# syntax=docker/dockerfile:1
# mcpfleet: every server in one image; the entrypoint is `mcpfleet serve`.
#
#   docker build -t registry.example.org/platform/mcpfleet:0.1.0 .
#   docker run --rm -p 8080:8080 --read-only --tmpfs /tmp registry.example.org/platform/mcpfleet:0.1.0 \
#       math --host 0.0.0.0 --insecure-no-auth
#
# Stages: `wheels` builds the extras' wheels into /wheels and the project's into /dist (compilers
# live only there),
# `node` installs the ui server's Node packages, the final stage installs the wheels into a venv
# and runs as UID 10001 with a read-only root: HOME, TMPDIR and caches point at /tmp (an emptyDir
# in Kubernetes), the docs index at /var/lib/mcpfleet (a volume).

# The bases are build args so the same recipe also builds on local bases where no registry is
# reachable (scripts/build-image.sh: debootstrap bookworm + Node 22, tagged localhost/...). Any base
# for PYTHON_IMAGE needs `python` 3.11 with venv and apt; NODE_IMAGE needs /usr/local/bin/node + npm.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG NODE_IMAGE=node:22-bookworm-slim
# A current pip in both venvs: Debian bookworm's 23.0 does not normalise extra names (PEP 685), so
# justext's `lxml[html_clean]` silently lost lxml_html_clean and the web worker failed to start.
ARG PIP_VERSION=26.3

# --- Python wheels ------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS wheels
ARG PIP_VERSION
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# pip from a venv: the same on the upstream image and on a Debian base (whose system pip is
# externally managed). Dependencies first, from pyproject.toml alone (every extra but `test`), so
# a source or README change rebuilds only the project's own wheel.
COPY pyproject.toml ./
RUN python -m venv /opt/build \
    && /opt/build/bin/pip install --no-cache-dir "pip==${PIP_VERSION}" \
    && python -c 'import tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; extras = p["optional-dependencies"]; print("\n".join(p["dependencies"] + [d for k, ds in extras.items() if k != "test" for d in ds if not d.startswith("mcpfleet")]))' >/tmp/requirements.txt \
    && /opt/build/bin/pip wheel --no-cache-dir --wheel-dir /wheels "pip==${PIP_VERSION}" -r /tmp/requirements.txt \
    && cp /tmp/requirements.txt /wheels/requirements.txt
COPY README.md setup.py ./
COPY mcpfleet ./mcpfleet
RUN /opt/build/bin/pip wheel --no-cache-dir --no-deps --wheel-dir /dist .

# --- Node packages of the ui server -----------------------------------------------------------
FROM ${NODE_IMAGE} AS node
WORKDIR /opt/ui-node
COPY mcpfleet/servers/ui/node/ ./
RUN bash ./install.sh /opt/ui-node \
    && npm cache clean --force

# --- runtime ----------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
ARG PIP_VERSION
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
# Dependencies, then the project (its wheel alone changes with the source); installing
# `mcpfleet[all]` with --no-index fails the build if pyproject.toml needs a wheel that is not there.
COPY --from=wheels /wheels /tmp/wheels
RUN python -m venv /opt/mcpfleet/venv \
    && /opt/mcpfleet/venv/bin/pip install --no-cache-dir --no-index --find-links /tmp/wheels "pip==${PIP_VERSION}" \
    && /opt/mcpfleet/venv/bin/pip install --no-cache-dir --no-index --find-links /tmp/wheels -r /tmp/wheels/requirements.txt \
    && rm -rf /tmp/wheels
COPY --from=wheels /dist /tmp/dist
RUN /opt/mcpfleet/venv/bin/pip install --no-cache-dir --no-index --find-links /tmp/dist "mcpfleet[all]" \
    && rm -rf /tmp/dist
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
