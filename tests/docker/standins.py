"""Stand-ins for the base images our files name, built here because no registry can be reached.

Each stand-in is Debian bookworm (a root file system made with debootstrap and imported) plus
Debian's packages, and follows the documented contract of the official image it replaces (see
the Dockerfiles and entrypoints in standins/). They carry the host's CA bundle, because the
registries are reached through a TLS proxy that only the host's bundle trusts.

Names are test-only (``retail-test-standin/<image>:<hash>``), never an official one, and the
tag is the hash of everything that goes into the image, so a stand-in is built once and reused
until its inputs change. ``RETAIL_TEST_IMAGES=official`` uses the official images instead (on a
machine that can pull them, such as GitHub's runners).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent / "standins"
REPOSITORY = "retail-test-standin"
LABEL = "org.retail-etl.test=standin"
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
MIRROR = "http://deb.debian.org/debian"
SUITE = "bookworm"

# What the base system gets on top of debootstrap's minbase, as the Debian images have it:
# the same archive areas as the host, no services started by package scripts, no docs.
BASE_SETUP = f"""
cat >etc/apt/sources.list <<EOF
deb {MIRROR} {SUITE} main
deb {MIRROR} {SUITE}-updates main
deb http://deb.debian.org/debian-security {SUITE}-security main
EOF
printf '#!/bin/sh\\nexit 101\\n' >usr/sbin/policy-rc.d
chmod 755 usr/sbin/policy-rc.d
cat >etc/dpkg/dpkg.cfg.d/docker-slim <<EOF
path-exclude /usr/share/doc/*
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
EOF
printf 'APT::Install-Recommends "false";\\n' >etc/apt/apt.conf.d/90-no-recommends
rm -rf var/lib/apt/lists/* var/cache/apt/archives/*.deb usr/share/doc/* usr/share/man/*
"""


@dataclass(frozen=True)
class StandIn:
    """One base image our files name, and the Dockerfile of its stand-in."""

    variable: str  # the compose/build variable that names it
    official: str  # the tag our files default to
    dockerfile: str
    files: tuple[str, ...] = ()
    needs_ca: bool = True


STANDINS = {
    "python": StandIn(
        "PYTHON_IMAGE", "python:3.11-slim-bookworm", "python.Dockerfile", ("pip.conf",)
    ),
    "node": StandIn("NODE_IMAGE", "node:22-bookworm-slim", "node.Dockerfile"),
    "postgres": StandIn(
        "POSTGRES_IMAGE",
        "postgres:17-bookworm",
        "postgres.Dockerfile",
        ("postgres-entrypoint.sh", "file-env.sh"),
        needs_ca=False,
    ),
    "mysql": StandIn(
        "MYSQL_IMAGE",
        "mysql:8.4",
        "mysql.Dockerfile",
        ("mysql-entrypoint.sh", "file-env.sh", "mysql-standin.cnf"),
        needs_ca=False,
    ),
    "nginx": StandIn(
        "NGINX_IMAGE",
        "nginx:1.30-alpine",
        "nginx.Dockerfile",
        ("nginx-entrypoint.sh",),
        needs_ca=False,
    ),
}


def _digest(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()[:16]


def image_exists(tag: str) -> bool:
    """Tell whether the engine holds an image of this name."""
    result = subprocess.run(["docker", "image", "inspect", tag], capture_output=True)
    return result.returncode == 0


def _run(argv: list[str], **kwargs) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        tail = (result.stdout + result.stderr)[-4000:]
        raise RuntimeError(f"{' '.join(argv[:3])} failed ({result.returncode}):\n{tail}")


def _as_root(argv: list[str]) -> list[str]:
    return argv if os.geteuid() == 0 else ["sudo", "-n", *argv]


def base_tag() -> str:
    """Return the name of the Debian base image for the current recipe."""
    recipe = f"{MIRROR} {SUITE} minbase\n{BASE_SETUP}".encode()
    return f"{REPOSITORY}/debian:{SUITE}-{_digest(recipe)}"


def build_base(tag: str) -> None:
    """Make a Debian root file system with debootstrap and import it as ``tag``."""
    with tempfile.TemporaryDirectory(prefix="retail-standin-root-") as tmp:
        root = Path(tmp) / "root"
        _run(_as_root(["debootstrap", "--variant=minbase", SUITE, str(root), MIRROR]))
        _run(_as_root(["sh", "-ec", BASE_SETUP]), cwd=root)
        archive = _as_root(["tar", "-C", str(root), "-c", "."])
        with subprocess.Popen(archive, stdout=subprocess.PIPE) as tar:
            _run(["docker", "import", "--change", 'CMD ["bash"]', "-", tag], stdin=tar.stdout)
        if tar.returncode != 0:
            raise RuntimeError(f"tar of the debootstrap root failed ({tar.returncode})")
        _run(_as_root(["rm", "-rf", str(root)]))


def standin_tag(name: str, base: str) -> str:
    """Return the stand-in's name: its repository and the hash of all its inputs."""
    spec = STANDINS[name]
    parts = [base.encode(), (HERE / spec.dockerfile).read_bytes()]
    parts += [(HERE / f).read_bytes() for f in spec.files]
    if spec.needs_ca:
        parts.append(CA_BUNDLE.read_bytes())
    return f"{REPOSITORY}/{name}:{_digest(*parts)}"


def build_standin(name: str, base: str, tag: str) -> None:
    """Build one stand-in from its Dockerfile in a context of its own files."""
    spec = STANDINS[name]
    with tempfile.TemporaryDirectory(prefix=f"retail-standin-{name}-") as tmp:
        context = Path(tmp)
        for f in (spec.dockerfile, *spec.files):
            shutil.copy2(HERE / f, context / f)
        if spec.needs_ca:
            shutil.copy2(CA_BUNDLE, context / "ca-certificates.crt")
        _run(
            [
                "docker",
                "build",
                "--quiet",
                "--label",
                LABEL,
                "--build-arg",
                f"BASE={base}",
                "-f",
                str(context / spec.dockerfile),
                "-t",
                tag,
                str(context),
            ],
            # The classic builder: the engine has it built in, BuildKit needs the buildx plugin.
            env={**os.environ, "DOCKER_BUILDKIT": "0"},
        )


@dataclass
class StandInSet:
    """The images the compose files and Dockerfiles get, and what building them cost."""

    images: dict[str, str]  # variable -> image name
    built: dict[str, float]  # image name -> seconds spent building it in this session

    def env(self) -> dict[str, str]:
        """Return the variables that point our files at these images."""
        return dict(self.images)


def official_images() -> StandInSet:
    """Use the official images themselves (RETAIL_TEST_IMAGES=official)."""
    return StandInSet({s.variable: s.official for s in STANDINS.values()}, {})


def ensure_standins() -> StandInSet:
    """Build what is missing of the stand-ins (the base first) and return their names."""
    built: dict[str, float] = {}
    base = base_tag()
    if not image_exists(base):
        started = time.monotonic()
        build_base(base)
        built[base] = time.monotonic() - started
    images = {}
    for name, spec in STANDINS.items():
        tag = standin_tag(name, base)
        if not image_exists(tag):
            started = time.monotonic()
            build_standin(name, base, tag)
            built[tag] = time.monotonic() - started
        images[spec.variable] = tag
    return StandInSet(images, built)


def image_size_mb(tag: str) -> float:
    """Return an image's size on disk in MB."""
    out = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Size}}", tag],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return int(out.strip()) / 1e6
