# syntax=docker/dockerfile:1
# One image recipe for the two containers built from this repository:
#   target `app`       - the reference LangChain service:  python -m reference_app
#   target `simulator` - the simulated LLM provider:       python -m harness.simulators.provider
# Build context: the repository root (docker-compose.ha.yml sets it). Versions are pinned by
# scripts/constraints.txt, the same constraints the local virtualenv is installed with.
FROM python:3.11-slim-bookworm AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /opt/chaos-harness
COPY pyproject.toml README.md ./
COPY scripts/constraints.txt scripts/constraints.txt
COPY harness harness
COPY reference_app reference_app

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
