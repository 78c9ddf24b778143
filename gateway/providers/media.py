"""Fetching a recording a provider made on a call, and nothing else.

The URL arrives in a webhook, so it is the caller's word until checked: the worker
must not be made to fetch from this machine, the private network or a cloud's
metadata address, nor hand Twilio's credentials to whoever named the URL. A fetch
therefore goes only to the voice provider's own media hosts (or ``RECORDING_HOSTS``),
over https, to public addresses; each redirect is checked the same way, and the
credentials go only to the host first asked. ``RECORDING_PRIVATE=on`` lets a listed
host be on a private or loopback address, for a provider's stand-in on the same
network (the tests' fakes); it never widens the list.

The address is checked as resolved just before the request, so a name that resolves
anew between the check and the connection could still slip through (DNS rebinding);
with the host list limited to the provider's own names, that is the provider's DNS.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import requests

from gateway.errors import PermanentProviderError, TransientProviderError

REDIRECTS = 3
LIMIT = 20 * 1024 * 1024


@dataclass(frozen=True)
class MediaHosts:
    """Where recordings may come from. An entry is a host (``api.twilio.com``), a
    domain with its subdomains (``.africastalking.com``) or a ``host:port``."""

    entries: tuple[str, ...]
    private_ok: bool = False

    @classmethod
    def of(cls, listed: str, defaults: tuple[str, ...], private_ok: bool) -> "MediaHosts":
        entries = tuple(e.strip().lower() for e in listed.split(",") if e.strip()) or defaults
        return cls(entries, private_ok)

    def check(self, url: str) -> str:
        """The URL's host, if a fetch may go there; PermanentProviderError if not."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if parts.scheme not in ("https", "http") or not host or parts.username or parts.password:
            raise PermanentProviderError("recording: not an http(s) URL")
        if parts.scheme == "http" and not self.private_ok:
            raise PermanentProviderError("recording: not https")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise PermanentProviderError("recording: bad port") from None
        if not any(self._matches(entry, host, port) for entry in self.entries):
            raise PermanentProviderError(f"recording: {host} is not the voice provider's media host")
        try:
            addresses = {info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)}
        except (socket.gaierror, UnicodeError):
            raise TransientProviderError(f"recording: cannot resolve {host}") from None
        for address in addresses:
            ip = ipaddress.ip_address(address.split("%")[0])
            if not ip.is_global and not self.private_ok:
                raise PermanentProviderError(f"recording: {host} is on a private address")
            if ip.is_link_local or ip.is_multicast or ip.is_unspecified:  # metadata services, never
                raise PermanentProviderError(f"recording: {host} is on a link-local address")
        return host

    @staticmethod
    def _matches(entry: str, host: str, port: int) -> bool:
        if entry.startswith("."):
            return host == entry[1:] or host.endswith(entry)
        name, _, wanted = entry.rpartition(":") if entry.count(":") == 1 else (entry, "", "")
        return host == name and (not wanted or wanted == str(port))


def host_of(url: str) -> str:
    """``host`` or ``host:port`` of a URL, as a ``MediaHosts`` entry."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port}" if parts.port else (parts.hostname or "")


def download(
    url: str, timeout: float, hosts: MediaHosts, auth: tuple[str, str] | None = None, limit: int = LIMIT
) -> bytes:
    """GET a provider's recording: 404 and 5xx (not ready yet) and network errors are
    transient, other 4xx and any refused URL permanent; no more than ``limit`` bytes."""
    first = None
    for _ in range(REDIRECTS + 1):
        host = hosts.check(url)
        first = first or host
        try:
            reply = requests.get(
                url, auth=auth if host == first else None, timeout=timeout, stream=True, allow_redirects=False
            )
        except requests.RequestException as exc:
            raise TransientProviderError(f"recording: {type(exc).__name__}") from None
        with reply:
            if reply.is_redirect:
                url = urljoin(url, reply.headers.get("Location", ""))
                continue
            if reply.status_code == 404 or reply.status_code >= 500:
                raise TransientProviderError(f"recording: HTTP {reply.status_code}")
            if reply.status_code >= 400:
                raise PermanentProviderError(f"recording: HTTP {reply.status_code}")
            data = reply.raw.read(limit + 1, decode_content=True)
        if len(data) > limit:
            raise PermanentProviderError("recording: larger than 20 MB")
        return data
    raise PermanentProviderError("recording: too many redirects")
