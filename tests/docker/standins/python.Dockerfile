# Stand-in for python:3.11-slim-bookworm: Debian's Python 3.11 in a virtual environment at
# /usr/local, so `python` and `pip` are on PATH and pip installs as root, as in the official
# image. Left out: a Python built from source, the exact patch release, setuptools/wheel.
ARG BASE
FROM ${BASE}
RUN apt-get update -q \
    && apt-get install -y -q --no-install-recommends python3 python3-venv \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv /usr/local \
    && /usr/local/bin/python -m pip --version
# Last, so no package install regenerates it: the host's bundle trusts the registries' proxy.
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY pip.conf /etc/pip.conf
ENV LANG=C.UTF-8 \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
CMD ["python3"]
