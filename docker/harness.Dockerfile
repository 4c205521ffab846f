# One image recipe for the two containers built from this repository:
#   target `app`       - the reference LangChain service:  python -m reference_app
#   target `simulator` - the simulated LLM provider:       python -m harness.simulators.provider
# Build context: the repository root (docker-compose.ha.yml sets it). Versions are pinned by
# scripts/constraints.txt, the same constraints the local virtualenv is installed with.
#
# Two ways to build (docs/docker.md):
#   * default: FROM the official python:3.11-slim-bookworm, packages from PyPI;
#   * offline (scripts/images.sh): --build-arg PYTHON_IMAGE=chaos-harness-base:local (Debian
#     bookworm's python3 3.11), with a wheelhouse built on the host in .image-wheels/: pip then
#     installs with --no-index from it, so the build needs no network.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
FROM ${PYTHON_IMAGE} AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_FIND_LINKS=/opt/wheels \
    PATH=/opt/venv/bin:$PATH
RUN python3 -m venv /opt/venv
WORKDIR /opt/chaos-harness
# README.md always matches, so the wheelhouse is optional (empty on the default path)
COPY README.md .image-wheel[s] /opt/wheels/
COPY pyproject.toml README.md ./
COPY scripts/constraints.txt scripts/constraints.txt
COPY harness harness
COPY reference_app reference_app
# offline when the wheelhouse is there
RUN if ls /opt/wheels/*.whl >/dev/null 2>&1; then printf '[install]\nno-index = true\n' > /opt/venv/pip.conf; \
    else rm -rf /opt/wheels; fi

FROM base AS simulator
RUN pip install -c scripts/constraints.txt . \
    && useradd --system --uid 10001 --no-create-home chaos
USER 10001
EXPOSE 8000 8001
CMD ["python", "-m", "harness.simulators.provider", "--help"]

FROM base AS app
RUN pip install -c scripts/constraints.txt ".[app]" \
    && useradd --system --uid 10001 --no-create-home chaos
COPY fixtures/corpus fixtures/corpus
USER 10001
EXPOSE 8000
ENV RAG_HOST=0.0.0.0 RAG_PORT=8000 \
    RAG_CORPUS=/opt/chaos-harness/fixtures/corpus/documents.jsonl
CMD ["python", "-m", "reference_app"]
