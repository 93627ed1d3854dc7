"""Zeroconf announcement, with a fake zeroconf instance (no multicast leaves this test)."""

from __future__ import annotations

import re
import socket
import uuid
from typing import Any

import pytest

from wyoming_kokoro.config import ConfigError, default_zeroconf_name, load_settings
from wyoming_kokoro.discovery import (
    SERVICE_TYPE,
    ZeroconfAnnouncer,
    ZeroconfUnavailableError,
    address_target,
    announce_target,
)


class FakeZeroconf:
    """Stands in for zeroconf.asyncio.AsyncZeroconf: records what would be announced."""

    def __init__(self) -> None:
        self.registered: list[Any] = []
        self.cooperating: list[bool] = []
        self.unregistered: list[Any] = []
        self.closed = False

    async def async_register_service(self, info: Any, cooperating_responders: bool) -> None:
        self.registered.append(info)
        self.cooperating.append(cooperating_responders)

    async def async_unregister_service(self, info: Any) -> None:
        self.unregistered.append(info)

    async def async_close(self) -> None:
        self.closed = True


async def test_announces_wyoming_service_and_withdraws_it() -> None:
    fake = FakeZeroconf()
    announcer = ZeroconfAnnouncer("kitchen", "tcp://127.0.0.1:10300", zeroconf_factory=lambda: fake)
    await announcer.start()
    [info] = fake.registered
    assert info.type == SERVICE_TYPE == "_wyoming._tcp.local."
    assert info.name == "kitchen._wyoming._tcp.local."
    assert info.port == 10300
    assert info.addresses == [socket.inet_aton("127.0.0.1")]
    assert fake.cooperating == [False] and info.server == f"{socket.gethostname()}.local."
    await announcer.close()
    assert fake.unregistered == [info] and fake.closed


def test_targets() -> None:
    assert announce_target("tcp://192.0.2.7:10200") == ("192.0.2.7", 10200)
    host, port = announce_target("tcp://0.0.0.0:10200")
    assert port == 10200 and host != "0.0.0.0"
    socket.inet_aton(host)  # a real IPv4 address of this machine
    for uri in ("unix:///tmp/kokoro.sock", "stdio://", "tcp://localhost"):
        with pytest.raises(ZeroconfUnavailableError):
            announce_target(uri)


@pytest.mark.parametrize(
    ("argv", "env", "expected"),
    [
        ([], {}, None),
        (["--zeroconf"], {}, f"kokoro-{uuid.getnode():012x}"),
        (["--zeroconf", "attic"], {}, "attic"),
        ([], {"KOKORO_ZEROCONF": "true"}, f"kokoro-{uuid.getnode():012x}"),
        ([], {"KOKORO_ZEROCONF": "off"}, None),
        ([], {"KOKORO_ZEROCONF": "porch"}, "porch"),
    ],
)
def test_zeroconf_setting(argv: list[str], env: dict[str, str], expected: str | None) -> None:
    assert load_settings(argv, env).settings.zeroconf == expected


def test_the_default_name_is_this_machines_own() -> None:
    """Derived from the MAC address (as the wyoming library does): two servers on one LAN
    announce two names."""
    name = default_zeroconf_name()
    assert re.fullmatch(r"kokoro-[0-9a-f]{12}", name)
    assert int(name.removeprefix("kokoro-"), 16) == uuid.getnode()


async def test_replicas_announce_the_balancers_address() -> None:
    fake = FakeZeroconf()
    announcer = ZeroconfAnnouncer(
        "kokoro", "tcp://0.0.0.0:10200", zeroconf_factory=lambda: fake, address="192.0.2.9:10300"
    )
    await announcer.start()
    [info] = fake.registered
    assert info.port == 10300 and info.addresses == [socket.inet_aton("192.0.2.9")]
    assert info.name == "kokoro._wyoming._tcp.local."
    # Every replica announces the same records: no uniqueness probe (the second replica's
    # would fail), and the host name is the service's, not the replica's.
    assert fake.cooperating == [True] and info.server == "kokoro.local."
    await announcer.close()


def test_a_balancer_name_is_resolved() -> None:
    assert address_target("localhost:10300") == ("127.0.0.1", 10300)
    with pytest.raises(ZeroconfUnavailableError, match="cannot resolve"):
        address_target("no-such-host.invalid:10300")


@pytest.mark.parametrize(
    ("argv", "env", "expected"),
    [
        ([], {}, None),
        (["--zeroconf-address", "192.0.2.9:10300"], {}, "192.0.2.9:10300"),
        ([], {"KOKORO_ZEROCONF_ADDRESS": "haproxy.lan:10200"}, "haproxy.lan:10200"),
        ([], {"KOKORO_ZEROCONF_ADDRESS": "off"}, None),
    ],
)
def test_zeroconf_address_setting(
    argv: list[str], env: dict[str, str], expected: str | None
) -> None:
    assert load_settings(argv, env).settings.zeroconf_address == expected


@pytest.mark.parametrize("bad", ["192.0.2.9", ":10200", "host:port", "host:0", "host:70000"])
def test_a_zeroconf_address_needs_host_and_port(bad: str) -> None:
    with pytest.raises(ConfigError, match="KOKORO_ZEROCONF_ADDRESS: expected HOST:PORT"):
        load_settings([], {"KOKORO_ZEROCONF_ADDRESS": bad})


async def test_a_name_taken_on_the_network_is_a_clear_start_up_error() -> None:
    from zeroconf import NonUniqueNameException

    class TakenZeroconf(FakeZeroconf):
        async def async_register_service(self, info: Any, cooperating_responders: bool) -> None:
            raise NonUniqueNameException

    fake = TakenZeroconf()
    announcer = ZeroconfAnnouncer("attic", "tcp://127.0.0.1:10300", zeroconf_factory=lambda: fake)
    with pytest.raises(ZeroconfUnavailableError, match="already announced.*--zeroconf-address"):
        await announcer.start()
    assert fake.closed
    await announcer.close()  # nothing left to withdraw
