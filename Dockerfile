# The code location image for the cluster profile (deploy/cluster): the code server, and every run pod, which the
# K8sRunLauncher starts from the same image. Build from the repository root:
#
#   docker build -t <registry>/strategy-report:<unique tag> .
#
# Debian bookworm with CPython 3.11 (the official Python image's Debian variant).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DAGSTER_HOME=/opt/dagster/dagster_home

# What the PDF needs from Debian: the Chinese fonts (fonts-noto-cjk), HarfBuzz's subsetter (libharfbuzz-subset0,
# so WeasyPrint subsets the CJK fonts in a fraction of a second) and Pango, which WeasyPrint lays text out with.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        fonts-noto-cjk \
        libharfbuzz-subset0 \
        libpango-1.0-0 \
        libpangoft2-1.0-0 \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/strategy-report

# The pinned dependencies first, so a code change does not reinstall them.
COPY requirements.lock ./
RUN pip install -r requirements.lock

# The project, installed in place like `make` does (its paths are relative to the project folder).
COPY pyproject.toml workspace.yaml ./
COPY pipeline/ pipeline/
COPY templates/ templates/
COPY sources/ sources/
RUN pip install --no-deps --no-build-isolation -e . \
    && useradd --system --uid 10001 --home-dir /opt/strategy-report app \
    && mkdir -p "$DAGSTER_HOME" reports \
    && chown app "$DAGSTER_HOME" reports

USER app
EXPOSE 4000

# The chart overrides this with the same command (codeServerArgs in deploy/cluster/values.yaml).
CMD ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", "4000", "-m", "pipeline.definitions"]
