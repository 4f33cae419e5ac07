# The application image: one image for the worker, the setup job and the codec server, so all
# three run exactly the same code and data converter.

FROM python:3.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# A virtualenv is the unit copied into the runtime stage: build tooling and sources stay behind.
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src
# Only what the package build reads, named one by one so a local .env or a database folder can
# never end up in a layer even if .dockerignore misses it.
COPY pyproject.toml README.md ./
COPY cases/ cases/
COPY workflows/ workflows/
COPY activities/ activities/
COPY outbox/ outbox/
COPY runtime/ runtime/
COPY starter/ starter/
COPY reports/ reports/
COPY codec_server/ codec_server/
COPY devstack/ devstack/
COPY worker.py ./
RUN pip install .
# The Worker Versioning build id, hashed from the installed workflow sources and written beside
# them: the image has no .git, and every container of it must name the same build.
RUN cd / && python -m runtime.deployment.build --write


FROM python:3.11-slim

# Unbuffered output so `docker compose logs` shows structured log lines as they happen.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN groupadd --system --gid 10001 aftersales \
 && useradd --system --uid 10001 --gid aftersales --no-create-home --shell /usr/sbin/nologin aftersales

COPY --from=build /opt/venv /opt/venv
# Deployment helpers run by the compose setup job; they import the installed packages.
COPY deploy/ /app/deploy/

# Root-owned and read-only for the service user: nothing at run time should write beside the code.
WORKDIR /app
USER aftersales

# A worker has no port of its own; what it needs to do any work is the Temporal frontend, so that
# is what the check probes. The compose file gives the codec server its own check.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, socket; h, _, p = (os.environ.get('TEMPORAL_ADDRESS') or 'localhost:7233').rpartition(':'); socket.create_connection((h.strip('[]'), int(p)), timeout=3).close()"]

ENTRYPOINT ["aftersales"]
CMD ["worker"]
