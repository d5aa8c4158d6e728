# syntax=docker/dockerfile:1
# The image of any one of the five programs, chosen by the build argument SERVICE:
#   identity, catalog, application, tracking (folder <service>-service) or gateway (folder gateway,
#   so it also needs SERVICE_DIR=gateway). The build context is the repository root, because every
#   service is a member of the uv workspace and needs the root pyproject.toml, uv.lock and shared/:
#   docker build --build-arg SERVICE=catalog -t mpp-digital/catalog .
#   docker build --build-arg SERVICE=gateway --build-arg SERVICE_DIR=gateway -t mpp-digital/gateway .

# ---- builder: resolve the locked dependencies into /app/.venv --------------------------------
FROM python:3.11-slim AS builder
ARG SERVICE
ARG SERVICE_DIR=${SERVICE}-service
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /uvx /bin/

# Fail at once, with the reason, rather than build an image of nothing.
RUN case "${SERVICE}" in \
      identity|catalog|application|tracking|gateway) ;; \
      *) echo "SERVICE must be identity, catalog, application, tracking or gateway, not '${SERVICE}'" >&2; exit 1 ;; \
    esac

# Bytecode compiled once here, not at every container start; copy (not hardlink) out of the
# cache mount; the image's own interpreter, never a downloaded one, so that the venv still works
# in the runtime stage, which has the same interpreter at the same path.
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_PROJECT_ENVIRONMENT=/app/.venv

WORKDIR /app

# Third-party dependencies first, in their own layer: it is rebuilt only when a pyproject or the
# lock changes. uv needs every workspace member's pyproject.toml to read the workspace.
COPY pyproject.toml uv.lock ./
COPY shared/pyproject.toml shared/
COPY identity-service/pyproject.toml identity-service/
COPY catalog-service/pyproject.toml catalog-service/
COPY application-service/pyproject.toml application-service/
COPY tracking-service/pyproject.toml tracking-service/
COPY gateway/pyproject.toml gateway/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-workspace --package mpp-${SERVICE}

# Then the code: only shared/ and this service's folder (its src/, migrations/ and alembic.ini
# where it has a database, identity's demo/ data; .dockerignore keeps its tests out). Workspace
# members are installed editable, so the runtime stage keeps these exact paths; main.py finds
# migrations/ at parents[2] of itself.
COPY shared/src shared/src
COPY ${SERVICE_DIR} ${SERVICE_DIR}
RUN test -f "${SERVICE_DIR}/src/${SERVICE}/__main__.py" \
    || { echo "${SERVICE_DIR}/src/${SERVICE} is not there: is SERVICE_DIR right?" >&2; exit 1; }
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --package mpp-${SERVICE} \
 && python -m compileall -q shared/src ${SERVICE_DIR}

# ---- runtime: the interpreter, the venv and the sources, nothing else ------------------------
FROM python:3.11-slim AS runtime
ARG SERVICE
ARG SERVICE_DIR=${SERVICE}-service

# A fixed uid, so volumes and Kubernetes' runAsNonRoot/runAsUser can rely on it.
RUN groupadd --system --gid 10001 mpp \
 && useradd --system --uid 10001 --gid mpp --no-create-home --home-dir /nonexistent \
    --shell /usr/sbin/nologin mpp

WORKDIR /app
# Owned by root and read-only for the service user: the process cannot rewrite its own code.
COPY --from=builder /app/.venv /app/.venv
COPY --from=builder /app/shared /app/shared
COPY --from=builder /app/${SERVICE_DIR} /app/${SERVICE_DIR}

# MPP_SERVICE names the package mpp_shared.container runs, on 0.0.0.0 unless MPP_<SERVICE>_HOST
# says otherwise, and whose port the healthcheck asks.
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MPP_SERVICE=${SERVICE}

USER 10001:10001
# The ports (8080 gateway, 8081-8084 the services) are named by docker-compose.yml and the
# Kubernetes manifests; one recipe cannot EXPOSE the right one without a sixth argument.

# /healthz answers once the lifespan has run (migrations applied, NATS connected). The slim image
# has no curl: the entry point asks it with urllib and exits 1 on a refusal or a non-2xx status.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-m", "mpp_shared.container", "--healthcheck"]

# uvicorn drains in-flight requests and the lifespan stops the workers on SIGTERM.
STOPSIGNAL SIGTERM
CMD ["python", "-m", "mpp_shared.container"]
