"""Keeps internal addresses out of responses: a service's URL headers pointing inside.

A service builds absolute URLs from the ``Host`` the gateway sent it (its internal address),
e.g. FastAPI's trailing-slash redirect ``Location: http://127.0.0.1:8081/api/v1/me``. Such a
URL in ``Location``, ``Content-Location``, ``Link`` or ``Refresh`` is rewritten to the public
URL; one that names some other internal address (a private or loopback IP) is dropped.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

# An absolute ("http://host...") or scheme-relative ("//host...") URL: scheme, authority, rest.
_ABSOLUTE = re.compile(r"^(?:([a-zA-Z][a-zA-Z0-9+.-]*):)?//([^/?#]*)(.*)$", re.DOTALL)
_LINK_TARGET = re.compile(rb"<([^>]*)>")
_REFRESH_URL = re.compile(rb"(url\s*=\s*)(['\"]?)([^'\"]*)(['\"]?)", re.IGNORECASE)


class InternalAddresses:
    """Which URLs name an internal address, and what they become at the edge."""

    def __init__(self, upstream_urls: Iterable[str], public_url: str) -> None:
        self.public = public_url.rstrip("/")
        public = urlsplit(self.public)
        self._public_authority = (public.hostname or "", _port(public.scheme, public.port))
        self._upstreams: set[tuple[str, int]] = set()
        for url in upstream_urls:
            parts = urlsplit(url)
            if parts.hostname:
                self._upstreams.add((parts.hostname.lower(), _port(parts.scheme, parts.port)))

    def rewrite(self, name: bytes, value: bytes) -> bytes | None:
        """The header's value fit for the public (None: drop the header)."""
        if name == b"link":
            return self._rewrite_all(_LINK_TARGET, value, group=1)
        if name == b"refresh":
            return self._rewrite_all(_REFRESH_URL, value, group=3)
        return self._rewrite_url(value)

    def _rewrite_all(self, pattern: re.Pattern[bytes], value: bytes, *, group: int) -> bytes | None:
        dropped = False

        def one(found: re.Match[bytes]) -> bytes:
            nonlocal dropped
            url = self._rewrite_url(found.group(group))
            if url is None:
                dropped = True
                return found.group(0)
            start, end = found.span(group)
            base = found.start(0)
            whole = found.group(0)
            return whole[: start - base] + url + whole[end - base :]

        rewritten = pattern.sub(one, value)
        return None if dropped else rewritten

    def _rewrite_url(self, value: bytes) -> bytes | None:
        text = value.decode("latin-1").strip()
        found = _ABSOLUTE.match(text)
        if found is None:
            return value  # relative to the request: already public
        scheme, authority, rest = found.groups()
        try:
            parts = urlsplit(f"{scheme or 'http'}://{authority}")
            host, port = (parts.hostname or "").lower(), _port(scheme or "http", parts.port)
        except ValueError:
            return None
        if (host, port) == self._public_authority:
            return value
        if (host, port) in self._upstreams:
            path = rest if rest.startswith("/") or not rest else "/" + rest
            return (self.public + path).encode("latin-1")
        if _is_internal_host(host):
            return None
        return value


def _port(scheme: str | None, port: int | None) -> int:
    if port is not None:
        return port
    return 443 if (scheme or "").lower() == "https" else 80


def _is_internal_host(host: str) -> bool:
    if host in ("localhost", "") or host.endswith((".localhost", ".internal", ".local", ".svc")):
        return True
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        # A bare name without a dot is a name on the internal network (compose, Kubernetes).
        return "." not in host
    return ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_unspecified
