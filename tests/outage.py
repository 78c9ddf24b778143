"""Real outages for tests: a TCP proxy in front of a real PostgreSQL or Redis
server. ``cut()`` drops every connection and refuses new ones, as a crashed or
restarting server would; ``restore()`` lets connections through again. The
gateway under test is pointed at the proxy; nothing in it is mocked."""

from __future__ import annotations

import socket
import threading
from urllib.parse import urlsplit, urlunsplit


class Outage:
    def __init__(self, target: str | tuple[str, int]):
        self.target = target  # a unix socket path, or (host, port)
        self.port = 0
        self.listener: socket.socket | None = None
        self.connections: list[socket.socket] = []
        self.lock = threading.Lock()
        self.restore()

    @classmethod
    def for_url(cls, url: str) -> tuple[Outage, str]:
        """A proxy for a database or Redis URL, and the URL that goes through it."""
        parts = urlsplit(url)
        if parts.scheme == "unix":
            proxy = cls(parts.path)
            return proxy, f"redis://127.0.0.1:{proxy.port}/0"
        proxy = cls((parts.hostname, parts.port or (6379 if parts.scheme == "redis" else 5432)))
        netloc = parts.netloc.rsplit("@", 1)
        host = f"127.0.0.1:{proxy.port}"
        return proxy, urlunsplit(parts._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) == 2 else host))

    def restore(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        with self.lock:
            if self.listener is not None:
                self.listener.close()
                self.listener = None
            for connection in self.connections:
                try:
                    connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                connection.close()
            self.connections.clear()

    stop = cut

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            try:
                if isinstance(self.target, str):
                    upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                else:
                    upstream = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                upstream.connect(self.target)
            except OSError:
                client.close()
                continue
            with self.lock:
                if self.listener is not listener:  # cut meanwhile
                    client.close()
                    upstream.close()
                    return
                self.connections += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
