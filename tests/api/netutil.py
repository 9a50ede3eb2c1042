"""Network helpers for the API tests: free ports and a TCP relay that can be cut and restored."""

from __future__ import annotations

import contextlib
import socket
import threading


def free_port() -> int:
    """Return a TCP port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class TcpRelay:
    """Forward 127.0.0.1:<port> to a database; ``stop`` closes the port, ``start`` reopens it.

    A database "going away" and "coming back" at the same address, which is what /ready must
    notice, without touching the real server the other tests use.
    """

    def __init__(
        self,
        target_host: str,
        target_port: int,
        listen_host: str = "127.0.0.1",
        listen_port: int | None = None,
    ) -> None:
        self.target = (target_host, target_port)
        self.listen_host = listen_host
        self.port = listen_port or free_port()
        self._listener: socket.socket | None = None
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        """Listen on the relay's port and forward every connection."""
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.listen_host, self.port))
        listener.listen(16)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def close(self) -> None:
        """Stop for good (for ``contextlib.closing``)."""
        self.stop()

    def stop(self) -> None:
        """Close the port and every relayed connection: connections are refused from now on."""
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            self._relay(client)

    def _relay(self, client: socket.socket) -> None:
        """Connect ``client`` to the target and pump both ways (subclasses add faults here)."""
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            client.close()
            return
        upstream.settimeout(None)
        with self._lock:
            self._sockets += [client, upstream]
        for source, sink in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                self._forward(data, sink)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def _forward(self, data: bytes, sink: socket.socket) -> None:
        """Send one chunk on (subclasses delay or hold it)."""
        sink.sendall(data)
