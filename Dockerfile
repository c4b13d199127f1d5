# syntax=docker/dockerfile:1
#
# sessiond container image.
#
#   docker build -t sessiond:0.1.0 .
#   docker run --rm -p 50051:50051 -p 9464:9464 sessiond:0.1.0
#
# Every setting comes from the environment at run time (SESSIOND_*, see
# sessiond/config.py); nothing is baked in here.

ARG PYTHON_IMAGE=python:3.11-slim

# --- build: wheels for sessiond (+ sessiond_client) and every dependency ------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# .dockerignore lets in only what the wheel is built from.
COPY . .
RUN pip wheel --wheel-dir /wheels --constraint constraints.txt ".[fast]"

# --- runtime: the wheels installed, nothing else -------------------------------
FROM ${PYTHON_IMAGE}
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN groupadd --system --gid 10001 sessiond \
 && useradd --system --uid 10001 --gid 10001 --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin sessiond
# The wheels are bind-mounted from the build stage, so they never land in a layer.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-index --find-links=/wheels "sessiond[fast]"
USER 10001:10001
WORKDIR /tmp
# gRPC (with health + reflection) and Prometheus /metrics.
EXPOSE 50051 9464
ENTRYPOINT ["sessiond"]
CMD ["serve"]
