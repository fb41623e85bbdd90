# syntax=docker/dockerfile:1
# One image recipe for every gridloop service; the service is chosen at build time:
#
#   docker build --build-arg SERVICE=sla-monitor -t gridloop-sla-monitor .
#
# SERVICE is the directory under services/ (intake, dispatch, sla-monitor, scoring, notify,
# console); the
# workspace package is gridloop-${SERVICE} and its console script is gridloop-${SERVICE}.
# Only that package and its runtime dependencies enter the image: --no-dev leaves out the root
# dev group (pytest, ruff, mypy, testcontainers and the GPL-2.0 SecantusDB test stand-in).

ARG PYTHON_IMAGE=python:3.11-slim
# Pinned to the uv that wrote uv.lock; bump both together.
ARG UV_VERSION=0.13.9

FROM ghcr.io/astral-sh/uv:${UV_VERSION} AS uv

# ---------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS builder
ARG SERVICE
RUN test -n "${SERVICE}" \
    || { echo "build with --build-arg SERVICE=<intake|dispatch|sla-monitor|scoring|notify|console>" >&2; exit 1; }

COPY --from=uv /uv /uvx /bin/

# Bytecode compiled at build time (faster start); copy mode because the cache is a separate mount;
# the image's own Python only (the runtime stage has the same interpreter at the same path).
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv

WORKDIR /src

# Layer 1, third-party dependencies only: rebuilt only when the lock or a member's pyproject.toml
# changes. `--locked` checks uv.lock against every workspace member's metadata, so every member's
# pyproject.toml is mounted (add a line here when a member is added; uv fails loudly otherwise).
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=bind,source=uv.lock,target=uv.lock \
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \
    --mount=type=bind,source=libs/common/pyproject.toml,target=libs/common/pyproject.toml \
    --mount=type=bind,source=services/intake/pyproject.toml,target=services/intake/pyproject.toml \
    --mount=type=bind,source=services/dispatch/pyproject.toml,target=services/dispatch/pyproject.toml \
    --mount=type=bind,source=services/sla-monitor/pyproject.toml,target=services/sla-monitor/pyproject.toml \
    --mount=type=bind,source=services/scoring/pyproject.toml,target=services/scoring/pyproject.toml \
    --mount=type=bind,source=services/notify/pyproject.toml,target=services/notify/pyproject.toml \
    --mount=type=bind,source=services/console/pyproject.toml,target=services/console/pyproject.toml \
    uv sync --locked --no-editable --no-dev --no-install-workspace --package "gridloop-${SERVICE}"

# Layer 2, the workspace code: gridloop-common and the chosen service, installed as wheels
# (--no-editable) so the venv does not point back into /src and can be copied on its own.
COPY pyproject.toml uv.lock ./
COPY libs/ libs/
COPY services/ services/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-editable --no-dev --package "gridloop-${SERVICE}"

# Fail the build, not the deployment: the entry point exists and no dev-only package slipped in.
RUN test -x "/app/.venv/bin/gridloop-${SERVICE}" \
    && /app/.venv/bin/python -c "import importlib.util as u, sys; sys.exit(u.find_spec('secantus') is not None)"

# ---------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
ARG SERVICE

RUN groupadd --system --gid 10001 gridloop \
    && useradd --system --uid 10001 --gid gridloop --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin gridloop

# Only the virtual environment: no sources, no uv, no cache. Owned by root, so the service
# user can read and run it but not change it.
COPY --from=builder /app/.venv /app/.venv

ENV PATH="/app/.venv/bin:${PATH}" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    GRIDLOOP_COMMAND="gridloop-${SERVICE}"

LABEL org.opencontainers.image.title="gridloop-${SERVICE}"

WORKDIR /app
# Numeric, so orchestrators can verify "runAsNonRoot" without reading /etc/passwd.
USER 10001:10001

# No EXPOSE: the port is the service's HTTP_PORT (defaults 8001-8005, see docker-compose.yml).
# `exec` replaces the shell, so SIGTERM reaches the service itself and uvicorn's graceful
# shutdown drains the consumer (compose adds `init: true` as PID 1 to forward signals).
CMD ["/bin/sh", "-c", "exec \"${GRIDLOOP_COMMAND}\""]
