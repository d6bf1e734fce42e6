# syntax=docker/dockerfile:1
#
# One image for every process of the platform on Kubernetes (helm/orderbook-platform):
# the engine (`orderbook engine run`), the traders (`orderbook traders run`), the topic
# job (`orderbook topics apply`), Dagster's webserver, daemon and code-location gRPC
# server, and the pods the K8sRunLauncher starts for each run (PySpark: a Java 17 JRE
# and the Spark jars of orderbook_platform/stack/pom.xml).
#
#   docker build -f docker/platform.Dockerfile -t orderbook-platform:0.1.0 .
#
# Stages: `venv` (uv.lock, no dev tools) -> `core` (mypyc: compiles the engine core,
# needs a C compiler) and `jars` (Maven) -> `runtime` (no compiler, no Maven, no uv).
# The runtime's base must be the one `core` compiled against: the extensions' file
# names and engine/.core-build carry the interpreter's ABI.

ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm

FROM ghcr.io/astral-sh/uv:0.13.9 AS uv

# ---------------------------------------------------------------- the virtualenv
FROM ${PYTHON_IMAGE} AS venv
COPY --from=uv /uv /usr/local/bin/uv
ENV UV_PROJECT_ENVIRONMENT=/app/.venv \
    UV_PYTHON_DOWNLOADS=never \
    UV_LINK_MODE=copy \
    UV_COMPILE_BYTECODE=1
WORKDIR /app
# Dependencies first: this layer is rebuilt only when the lock changes.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY orderbook_platform/ orderbook_platform/
COPY engine/ engine/
COPY traders/ traders/
COPY dagster_defs/ dagster_defs/
COPY workspace.yaml ./
RUN uv sync --frozen --no-dev

# ---------------------------------------------------------------- the compiled engine core
FROM venv AS core
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
# mypy (which ships mypyc) and setuptools are dev dependencies; this stage's venv is
# thrown away, only the extensions and their build stamp are copied on.
RUN uv sync --frozen \
 && .venv/bin/python engine/build_core.py --force \
 && .venv/bin/python -c "import engine.native as n; assert n.build_is_current(), n.mode"

# ---------------------------------------------------------------- the JVM jars (Maven)
FROM venv AS jars
RUN mkdir -p /usr/share/man/man1 \
 && apt-get update \
 && apt-get install -y --no-install-recommends openjdk-17-jdk-headless maven \
 && rm -rf /var/lib/apt/lists/*
# Exactly what `make install` does on a workstation: mvn dependency:copy-dependencies
# over orderbook_platform/stack/pom.xml, one folder per classpath.
RUN OB__STACK__JARS_DIR=/opt/orderbook/jars .venv/bin/orderbook stack fetch

# ---------------------------------------------------------------- runtime
FROM ${PYTHON_IMAGE} AS runtime
# A JRE for PySpark (Spark 4 needs Java 17+).
RUN mkdir -p /usr/share/man/man1 \
 && apt-get update \
 && apt-get install -y --no-install-recommends openjdk-17-jre-headless \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --uid 10001 --user-group --create-home --home-dir /home/orderbook orderbook \
 && mkdir -p /opt/dagster/dagster_home \
 && chown orderbook:orderbook /opt/dagster/dagster_home
COPY --from=venv /app /app
COPY --from=core /app/engine/*.so /app/engine/.core-build /app/engine/
# Only the Spark classpath: the broker and S3 server run as their own images on k8s.
COPY --from=jars /opt/orderbook/jars/spark /opt/orderbook/jars/spark
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    OB__STACK__JARS_DIR=/opt/orderbook/jars \
    OB__STACK__STATE_DIR=/tmp/orderbook \
    DAGSTER_HOME=/opt/dagster/dagster_home
WORKDIR /app
USER 10001
CMD ["orderbook", "--help"]
