# robyn-server image. Build: docker build -t robyn-server .
FROM python:3.11-slim AS base

ENV PYTHONUNBUFFERED=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy

RUN pip install --no-cache-dir uv
WORKDIR /app

# Dependencies first (cached layer), then the package.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY robyn_server ./robyn_server
RUN uv sync --frozen --no-dev

RUN useradd --create-home --uid 10001 app
USER app

ENV ROBYN_HOST=0.0.0.0 ROBYN_PORT=8081
EXPOSE 8081
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8081/ok').status == 200 else 1)"

# Robyn needs SIGTERM converted (done by the app); exec form so the signal reaches Python.
CMD ["/app/.venv/bin/python", "-m", "robyn_server"]
