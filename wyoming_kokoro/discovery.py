"""Zeroconf (mDNS) announcement of ``_wyoming._tcp`` so Home Assistant finds the server."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

from .config import DiscoverySettings

_LOGGER = logging.getLogger(__name__)

SERVICE_TYPE = "_wyoming._tcp.local."
_MDNS_GROUP = "224.0.0.251"


class ZeroconfUnavailableError(RuntimeError):
    """The zeroconf package is missing, or the URI cannot be announced."""


def local_address() -> str:
    """The address other hosts reach us on (a UDP connect sends no packet)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect((_MDNS_GROUP, 5353))
        return str(probe.getsockname()[0])


def announce_target(uri: str) -> tuple[str, int]:
    """Host and port to announce for a ``tcp://`` URI; 0.0.0.0 means this host's address."""
    parsed = urlparse(uri)
    if parsed.scheme != "tcp" or parsed.port is None:
        raise ZeroconfUnavailableError(f"zeroconf needs a tcp://HOST:PORT uri, not {uri}")
    host = parsed.hostname or ""
    if host in ("", "0.0.0.0", "::"):
        host = local_address()
    return host, parsed.port


def address_target(address: str) -> tuple[str, int]:
    """Host and port of a ``HOST:PORT`` setting (a balancer's); a name is resolved to IPv4."""
    host, _, port = address.rpartition(":")
    try:
        return socket.gethostbyname(host), int(port)
    except OSError as err:
        raise ZeroconfUnavailableError(
            f"zeroconf_address: cannot resolve {host!r}: {err}"
        ) from None


class ZeroconfAnnouncer:
    """Registers the service on start and withdraws it on close.

    ``address`` (``HOST:PORT``) is announced instead of ``uri``: replicas behind a load
    balancer announce the balancer, so Home Assistant finds one service, not each replica;
    they all send the same records, so the name is not probed for uniqueness.
    """

    def __init__(
        self,
        name: str,
        uri: str,
        zeroconf_factory: Callable[[], Any] | None = None,
        address: str | None = None,
    ) -> None:
        try:
            from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf
        except ImportError:
            raise ZeroconfUnavailableError(
                "zeroconf is not installed: pip install 'wyoming-kokoro[zeroconf]'"
            ) from None
        host, port = address_target(address) if address else announce_target(uri)
        self.info = AsyncServiceInfo(
            SERVICE_TYPE,
            f"{name}.{SERVICE_TYPE}",
            addresses=[socket.inet_aton(host)],
            port=port,
            # Announcing a balancer, every replica sends the same records (RFC 6762's
            # cooperating responders): the host name is the service's, not this machine's.
            server=f"{name}.local." if address else f"{socket.gethostname()}.local.",
        )
        self._cooperating = address is not None
        self._factory = zeroconf_factory or AsyncZeroconf
        self._zeroconf: Any = None

    @classmethod
    def from_settings(cls, settings: DiscoverySettings) -> ZeroconfAnnouncer:
        """The server's announcement: ``zeroconf`` names it (it must be set)."""
        if settings.zeroconf is None:
            raise ValueError("zeroconf is off: nothing to announce")
        return cls(settings.zeroconf, settings.uri, address=settings.zeroconf_address)

    async def start(self) -> None:
        from zeroconf import NonUniqueNameException

        self._zeroconf = self._factory()
        try:
            await self._zeroconf.async_register_service(
                self.info, cooperating_responders=self._cooperating
            )
        except NonUniqueNameException:
            await self._zeroconf.async_close()
            self._zeroconf = None
            raise ZeroconfUnavailableError(
                f"zeroconf: {self.info.name} is already announced on this network; choose "
                "another name (--zeroconf NAME), or let replicas announce their balancer "
                "(--zeroconf-address HOST:PORT)"
            ) from None
        _LOGGER.info("Zeroconf: announced %s on port %s", self.info.name, self.info.port)

    async def close(self) -> None:
        if self._zeroconf is not None:
            await self._zeroconf.async_unregister_service(self.info)
            await self._zeroconf.async_close()
            self._zeroconf = None
