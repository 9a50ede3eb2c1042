"""A TCP proxy between the app and a database whose failure mode can be switched at runtime.

The relay of tests/api/netutil.py with faults added: ``pass`` forwards, ``latency`` delays every
chunk, ``drop`` resets connections (old and new), ``blackhole`` accepts and keeps connections
but forwards nothing (data waits, as TCP retransmits, and flows again on ``pass``), and
``refuse`` closes the port. The databases the other tests use are never touched.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections.abc import Iterator

from tests.api.netutil import TcpRelay

MODES = ("pass", "latency", "drop", "blackhole", "refuse")
_RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends RST instead of FIN


class FaultProxy(TcpRelay):
    """Forward 127.0.0.1:<port> to a database, failing the way ``set_mode`` says."""

    def __init__(self, target_host: str, target_port: int) -> None:
        super().__init__(target_host, target_port)
        self.mode = "pass"
        self.latency = 0.0
        self._flowing = threading.Event()
        self._flowing.set()

    def set_mode(self, mode: str, latency_ms: float = 0) -> None:
        """Switch to ``mode`` now; ``latency_ms`` is the delay per chunk in latency mode."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        self.latency = latency_ms / 1000 if mode == "latency" else 0.0
        self.mode = mode
        if mode == "blackhole":
            self._flowing.clear()
        else:
            self._flowing.set()
        if mode in ("drop", "refuse"):
            self._reset_all()
        if mode == "refuse" and self._listener is not None:
            listener, self._listener = self._listener, None
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)  # wakes the accept thread, which ends
            listener.close()  # connects are refused from now on
        elif mode != "refuse" and self._listener is None:
            self.start()

    def url(self, database_url: str, port: int) -> str:
        """Return ``database_url`` (which names ``port``) pointed at the proxy instead."""
        assert f":{port}/" in database_url, database_url
        return database_url.replace(f":{port}/", f":{self.port}/")

    def _reset_all(self) -> None:
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            _reset(sock)

    def _relay(self, client: socket.socket) -> None:
        if self.mode in ("drop", "refuse"):
            _reset(client)
            return
        super()._relay(client)

    def _forward(self, data: bytes, sink: socket.socket) -> None:
        self._flowing.wait()  # black hole: hold the chunk until the mode changes
        if self.mode in ("drop", "refuse"):
            raise OSError("dropped by the fault proxy")
        if self.latency:
            time.sleep(self.latency)
        sink.sendall(data)


def _reset(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)  # wakes the pump blocked in recv
    sock.close()


@contextlib.contextmanager
def fault_proxy(target_host: str, target_port: int) -> Iterator[FaultProxy]:
    """Yield a started proxy in pass mode; close it and every relayed connection at the end."""
    proxy = FaultProxy(target_host, target_port)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.set_mode("pass")  # release pumps held by a black hole
        proxy.stop()
