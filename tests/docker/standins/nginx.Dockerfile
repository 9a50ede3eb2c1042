# Stand-in for nginx:1.30-alpine: Debian's nginx 1.22 and wget, the logs on stdout/stderr and
# the official image's entrypoint contract (see nginx-entrypoint.sh). nginx 1.22 lacks what
# came after it, such as the upstream "resolve" parameter (1.27.3).
ARG BASE
FROM ${BASE}
RUN apt-get update -q \
    && apt-get install -y -q --no-install-recommends nginx wget \
    && rm -rf /var/lib/apt/lists/* /etc/nginx/sites-enabled/* \
    && ln -sf /dev/stdout /var/log/nginx/access.log \
    && ln -sf /dev/stderr /var/log/nginx/error.log \
    && mkdir -p /docker-entrypoint.d
COPY nginx-entrypoint.sh /docker-entrypoint.sh
ENTRYPOINT ["/docker-entrypoint.sh"]
EXPOSE 80
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]
