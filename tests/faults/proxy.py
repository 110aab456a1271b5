"""A TCP proxy on loopback that can cut its upstream off: the server "goes away" and comes back with its
data, which a restarted moto_server would not have.

While cut, every connection is reset: open ones at once, new ones as soon as they are accepted (a
reset, like a crashed server or a load balancer with no healthy target; accepting first lets the test
count the attempts that hit the outage).
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from types import TracebackType

HOST = "127.0.0.1"
_LINGER_RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends RST instead of FIN


def _reset(sock: socket.socket) -> None:
    """Abort a connection: the peer gets a reset, and a thread blocked reading it wakes up (close alone
    would not wake it on Linux)."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
        sock.shutdown(socket.SHUT_RD)
    sock.close()


class CuttableProxy:
    def __init__(self, upstream_host: str, upstream_port: int, host: str = HOST):
        self.upstream = (upstream_host, upstream_port)
        self._listener = socket.create_server((host, 0))
        self.port: int = self._listener.getsockname()[1]
        self.endpoint = f"http://{host}:{self.port}"
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._cut = False
        self.refused = 0  # connections reset because they arrived during a cut
        self.cuts: list[tuple[float, float]] = []  # (start, end) monotonic times of each cut
        self._thread = threading.Thread(target=self._accept_loop, name="cuttable-proxy", daemon=True)
        self._thread.start()

    # -- control --------------------------------------------------------------------------------

    def cut(self) -> None:
        with self._lock:
            self._cut = True
            self.cuts.append((time.monotonic(), float("nan")))
            sockets, self._open = list(self._open), set()
        for sock in sockets:
            _reset(sock)

    def restore(self) -> None:
        with self._lock:
            self._cut = False
            start, _ = self.cuts[-1]
            self.cuts[-1] = (start, time.monotonic())

    def outage(self, seconds: float) -> None:
        """Cut, wait ``seconds``, restore (blocking)."""
        self.cut()
        try:
            time.sleep(seconds)
        finally:
            self.restore()

    def close(self) -> None:
        self._listener.close()
        with self._lock:
            sockets, self._open = list(self._open), set()
        for sock in sockets:
            _reset(sock)

    def __enter__(self) -> CuttableProxy:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- forwarding -----------------------------------------------------------------------------

    def _accept_loop(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            with self._lock:
                cut = self._cut
                self.refused += cut
            if cut:
                _reset(client)
                continue
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                _reset(client)
                continue
            upstream.settimeout(None)
            with self._lock:
                self._open.update((client, upstream))
            pumps = [
                threading.Thread(target=self._pump, args=(a, b), daemon=True)
                for a, b in ((client, upstream), (upstream, client))
            ]
            for pump in pumps:
                pump.start()
            threading.Thread(target=self._close_after, args=(pumps, client, upstream), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
            dst.shutdown(socket.SHUT_WR)  # pass the half-close on
        except OSError:
            pass  # reset by a cut or by either end

    def _close_after(self, pumps: list[threading.Thread], *sockets: socket.socket) -> None:
        for pump in pumps:
            pump.join()
        with self._lock:
            self._open.difference_update(sockets)
        for sock in sockets:
            sock.close()
