# syntax=docker/dockerfile:1
#
# sessiond container image.
#
#   docker build -t sessiond:0.1.0 .
#   docker run --rm --read-only -p 50051:50051 -p 9464:9464 sessiond:0.1.0
#
# Every setting comes from the environment at run time (SESSIOND_*, see
# sessiond/config.py); nothing is baked in here. tests/image/ builds this file
# with podman and plays the Helm chart's pods from it.

ARG PYTHON_IMAGE=python:3.11-slim

# --- build: sessiond (+ sessiond_client) and every dependency, in a venv --------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# .dockerignore lets in only what the wheel is built from.
COPY . .
# The venv holds no pip of its own: the base image's pip installs into it.
RUN python -m venv --without-pip /opt/sessiond \
 && pip --python /opt/sessiond/bin/python install --constraint constraints.txt ".[fast]"

# --- runtime: the venv copied over, tini, a user, nothing else ------------------
FROM ${PYTHON_IMAGE}
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/sessiond/bin:$PATH
# tini is PID 1: it passes SIGTERM on to sessiond and reaps orphans. The kernel
# drops a signal PID 1 has no handler for, so sessiond as PID 1 would ignore
# SIGTERM until its own handler is set (e.g. while it waits for Redis at start).
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 sessiond \
 && useradd --system --uid 10001 --gid 10001 --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin sessiond
# COPY --from, not a RUN --mount of the build stage: podman/buildah before 4.4
# see an empty mount when that stage comes from the layer cache.
COPY --from=build /opt/sessiond /opt/sessiond
USER 10001:10001
# /tmp is the only writable path (an emptyDir in the chart; the root is read-only).
WORKDIR /tmp
# gRPC (with health + reflection) and Prometheus /metrics.
EXPOSE 50051 9464
ENTRYPOINT ["tini", "--", "sessiond"]
CMD ["serve"]
