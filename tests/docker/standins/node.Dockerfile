# Stand-in for node:22-bookworm-slim: Debian's Node.js and npm (older majors: Node 18, npm 9)
# and the image's `node` user (uid 1000). Left out: corepack, yarn, Node 22 itself.
ARG BASE
FROM ${BASE}
RUN apt-get update -q \
    && apt-get install -y -q --no-install-recommends nodejs npm \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 1000 node \
    && useradd --uid 1000 --gid node --shell /bin/bash --create-home node
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt \
    NPM_CONFIG_CAFILE=/etc/ssl/certs/ca-certificates.crt \
    NPM_CONFIG_UPDATE_NOTIFIER=false
CMD ["node"]
