# Stand-in for mysql:8.4: Debian's MariaDB 10.11 with the official image's layout (user mysql
# uid 999, datadir /var/lib/mysql, socket /var/run/mysqld/mysqld.sock, port 3306, `mysql` and
# `mysqladmin` on PATH) and an entrypoint written from its documentation (see
# mysql-entrypoint.sh). MariaDB is not MySQL 8.4: SQL and auth plugins differ in places.
ARG BASE
FROM ${BASE}
RUN groupadd --system --gid 999 mysql \
    && useradd --system --uid 999 --gid mysql --home-dir /var/lib/mysql --shell /bin/bash mysql \
    && apt-get update -q \
    && apt-get install -y -q --no-install-recommends mariadb-server mariadb-client \
    && rm -rf /var/lib/apt/lists/* /var/lib/mysql \
    && mkdir -p /var/lib/mysql /var/run/mysqld /docker-entrypoint-initdb.d \
    && chown mysql:mysql /var/lib/mysql /var/run/mysqld && chmod 1777 /var/run/mysqld
COPY mysql-standin.cnf /etc/mysql/mariadb.conf.d/99-standin.cnf
COPY file-env.sh /usr/local/lib/standin/file-env.sh
COPY mysql-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
ENV LANG=C.UTF-8
VOLUME /var/lib/mysql
ENTRYPOINT ["docker-entrypoint.sh"]
EXPOSE 3306
CMD ["mysqld"]
