"""A stand-in for Docker's embedded DNS (127.0.0.11) inside a test's network namespace.

nginx.conf resolves the replicas at run time through 127.0.0.11, as every Compose and Swarm
network provides. In a namespace of netns.py there is no Docker: this server answers A queries
from the namespace's /etc/hosts, read afresh on every query, so a test that rewrites the hosts
file (``NetNamespace.write_hosts``) changes the answers as a scale up or down changes Docker's.
Every address of a name is returned, as Docker returns every replica's; an unknown name is
NXDOMAIN. Built on dnslib (parsing and packing the messages).

Run it as ``python dnsstub.py [--listen 127.0.0.11] [--ttl 0]``; it prints "ready" once bound.
"""

from __future__ import annotations

import argparse
import socket
import sys
from pathlib import Path

from dnslib import QTYPE, RCODE, RR, A, DNSRecord

DOCKER_DNS = "127.0.0.11"
HOSTS = Path("/etc/hosts")


def addresses(name: str, hosts: Path = HOSTS) -> list[str]:
    """Every IPv4 address the hosts file gives ``name``, in file order."""
    found = []
    for line in hosts.read_text().splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) >= 2 and name in fields[1:] and ":" not in fields[0]:
            found.append(fields[0])
    return found


def answer(query: bytes, ttl: int, hosts: Path = HOSTS) -> bytes:
    """The reply to one DNS query packet."""
    request = DNSRecord.parse(query)
    reply = request.reply()
    name = str(request.q.qname).rstrip(".")
    found = addresses(name, hosts)
    if not found:
        reply.header.rcode = RCODE.NXDOMAIN
    elif request.q.qtype in (QTYPE.A, QTYPE.ANY):
        for address in found:
            reply.add_answer(RR(request.q.qname, QTYPE.A, rdata=A(address), ttl=ttl))
    return reply.pack()


def serve(listen: str, ttl: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server:
        server.bind((listen, 53))
        print("ready", flush=True)
        while True:
            query, client = server.recvfrom(4096)
            try:
                server.sendto(answer(query, ttl), client)
            except Exception as error:  # a malformed packet must not stop the stand-in
                print(f"bad query from {client}: {error}", file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", default=DOCKER_DNS)
    parser.add_argument("--ttl", type=int, default=0, help="Docker's DNS answers with TTL 0")
    args = parser.parse_args()
    serve(args.listen, args.ttl)


if __name__ == "__main__":
    main()
