# syntax=docker/dockerfile:1
# Multi-stage: build a wheel with the build tools, run it on a slim image as
# a non-root user. Configured only by the environment variables of
# docs/configuration.md (DATABASE_URL, REDIS_URL, REPPU_SECRET, ...).

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY core core
COPY hub hub
COPY channels channels
COPY planning planning
COPY scheduling scheduling
COPY decisions decisions
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --system --uid 10001 --create-home --home-dir /var/lib/reppu reppu
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER reppu
WORKDIR /var/lib/reppu
ENV REPPU_DATA_DIR=/var/lib/reppu/data \
    PYTHONUNBUFFERED=1
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/health').status == 200 else 1)"
CMD ["reppu", "serve", "--host", "0.0.0.0", "--port", "8000"]
