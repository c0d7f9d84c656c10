"""The PowerDNS driver against a real PowerDNS Authoritative server (tests/support/powerdns.py),
built by bootstrap from the settings as the bot builds it; each PTR is checked with a DNS query."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from bot import bootstrap
from bot.config import Settings
from services.drivers.forward import ForwardResolver, parse_resolver
from services.drivers.inventory import InventoryDns
from services.drivers.powerdns import PowerDns, holding_zone, reverse_name
from services.ports import DnsDriver, DnsError, NoReverseZone
from tests.support.powerdns import PowerDnsServer
from tests.support.processes import free_port

V4_ZONE = "2.0.192.in-addr.arpa."
V4_WIDE = "0.192.in-addr.arpa."
V6_ZONE = "8.b.d.0.1.0.0.2.ip6.arpa."  # 2001:db8::/32
FORWARD = "example.test."


def settings_for(server: PowerDnsServer, **changes: str) -> Settings:
    values = {
        "dns_driver": "powerdns",
        "powerdns_api_url": server.api_url,
        "powerdns_api_key": server.api_key,
        "dns_resolver": server.resolver,
        **changes,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def zones(powerdns: PowerDnsServer) -> PowerDnsServer:
    """An IPv4 /24 inside a /16, an IPv6 /32 and a forward zone naming mail.example.test."""
    powerdns.create_zone(V4_WIDE)
    powerdns.create_zone(V4_ZONE)
    powerdns.create_zone(V6_ZONE)
    powerdns.create_zone(
        FORWARD,
        {
            ("mail.example.test.", "A"): ["192.0.2.10"],
            ("mail.example.test.", "AAAA"): ["2001:db8::10"],
            ("www.example.test.", "CNAME"): ["mail.example.test."],
        },
    )
    return powerdns


@pytest.fixture
def driver(zones: PowerDnsServer) -> DnsDriver:
    return bootstrap.dns_driver(settings_for(zones))


def ptr_rrsets(server: PowerDnsServer, zone: str) -> dict[str, list[str]]:
    found = server.api("GET", f"/zones/{zone}")
    return {
        r["name"]: [record["content"] for record in r["records"]]
        for r in found["rrsets"]
        if r["type"] == "PTR"
    }


def test_bootstrap_picks_powerdns_by_setting(powerdns: PowerDnsServer) -> None:
    assert isinstance(bootstrap.dns_driver(settings_for(powerdns)), PowerDns)
    default = Settings(_env_file=None)  # type: ignore[call-arg]
    assert isinstance(bootstrap.dns_driver(default), InventoryDns)


def test_powerdns_needs_its_url_and_key() -> None:
    with pytest.raises(ValueError, match="POWERDNS_API_URL"):
        bootstrap.dns_driver(Settings(_env_file=None, dns_driver="powerdns"))  # type: ignore[call-arg]


async def test_sets_the_ptr_in_the_longest_zone_and_dns_answers_it(
    driver: DnsDriver, zones: PowerDnsServer
) -> None:
    assert await driver.ptr("192.0.2.10") == ""
    await driver.set_ptr("192.0.2.10", "Mail.Example.test")
    await driver.set_ptr("192.0.3.5", "other.example.test.")

    assert await zones.query("10.2.0.192.in-addr.arpa.", "PTR") == ["mail.example.test."]
    assert await zones.query("5.3.0.192.in-addr.arpa.", "PTR") == ["other.example.test."]
    assert ptr_rrsets(zones, V4_ZONE) == {"10.2.0.192.in-addr.arpa.": ["mail.example.test."]}
    assert ptr_rrsets(zones, V4_WIDE) == {"5.3.0.192.in-addr.arpa.": ["other.example.test."]}
    assert await driver.ptr("192.0.2.10") == "mail.example.test"


async def test_replaces_every_record_of_the_rrset(driver: DnsDriver, zones: PowerDnsServer) -> None:
    name = "10.2.0.192.in-addr.arpa."
    zones.api(
        "PATCH",
        f"/zones/{V4_ZONE}",
        {
            "rrsets": [
                {
                    "name": name,
                    "type": "PTR",
                    "ttl": 300,
                    "changetype": "REPLACE",
                    "records": [
                        {"content": "old1.example.test.", "disabled": False},
                        {"content": "old2.example.test.", "disabled": False},
                    ],
                }
            ]
        },
    )
    assert len(await zones.query(name, "PTR")) == 2

    await driver.set_ptr("192.0.2.10", "mail.example.test")

    assert await zones.query(name, "PTR") == ["mail.example.test."]


async def test_ipv6_ptr_in_ip6_arpa(driver: DnsDriver, zones: PowerDnsServer) -> None:
    await driver.set_ptr("2001:db8::10", "mail.example.test")

    name = reverse_name("2001:db8::10")
    assert name.endswith("." + V6_ZONE)
    assert await zones.query(name, "PTR") == ["mail.example.test."]
    assert await driver.ptr("2001:0db8:0000::0010") == "mail.example.test"


async def test_an_address_no_zone_holds(driver: DnsDriver, zones: PowerDnsServer) -> None:
    with pytest.raises(NoReverseZone):
        await driver.ptr("198.51.100.7")
    with pytest.raises(NoReverseZone):
        await driver.set_ptr("198.51.100.7", "mail.example.test")
    with pytest.raises(NoReverseZone):
        await driver.set_ptr("2001:db9::1", "mail.example.test")
    assert [ptr_rrsets(zones, zone) for zone in (V4_WIDE, V4_ZONE, V6_ZONE)] == [{}, {}, {}]


async def test_a_wrong_key_or_no_server_is_a_dns_error(zones: PowerDnsServer) -> None:
    wrong_key = bootstrap.dns_driver(settings_for(zones, powerdns_api_key="not-the-key"))
    with pytest.raises(DnsError, match="401") as refused:
        await wrong_key.set_ptr("192.0.2.10", "mail.example.test")
    assert "not-the-key" not in str(refused.value)
    nobody = bootstrap.dns_driver(settings_for(zones, powerdns_api_url=f"http://127.0.0.1:{free_port()}"))
    with pytest.raises(DnsError):
        await nobody.ptr("192.0.2.10")
    assert await zones.query("10.2.0.192.in-addr.arpa.", "PTR") == []


async def test_another_server_id_is_refused(zones: PowerDnsServer) -> None:
    other = bootstrap.dns_driver(settings_for(zones, powerdns_server_id="elsewhere"))
    with pytest.raises(DnsError, match="404"):
        await other.set_ptr("192.0.2.10", "mail.example.test")


async def test_forward_confirmation(driver: DnsDriver) -> None:
    assert await driver.resolves_to("mail.example.test", "192.0.2.10") is True
    assert await driver.resolves_to("mail.example.test.", "2001:db8:0::10") is True
    assert await driver.resolves_to("www.example.test", "192.0.2.10") is True  # through the CNAME
    assert await driver.resolves_to("mail.example.test", "192.0.2.11") is False
    assert await driver.resolves_to("nothing.example.test", "192.0.2.10") is False
    # A name in no zone of that server: it refuses to answer, so nothing could be checked.
    assert await driver.resolves_to("mail.elsewhere.test", "192.0.2.10") is None


@pytest.fixture
def silent_resolver() -> Iterator[str]:
    """A UDP port that takes queries and never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"127.0.0.1:{sock.getsockname()[1]}"


async def test_forward_confirmation_not_checked_without_a_resolver(silent_resolver: str) -> None:
    assert (
        await ForwardResolver(silent_resolver, timeout=0.5).resolves_to("mail.example.test", "192.0.2.10")
        is None
    )
    assert await ForwardResolver("none").resolves_to("mail.example.test", "192.0.2.10") is None


def test_resolver_setting() -> None:
    assert parse_resolver("") is None
    assert parse_resolver("none") is None
    assert parse_resolver("192.0.2.53") == ("192.0.2.53", 53)
    assert parse_resolver("127.0.0.1:5353") == ("127.0.0.1", 5353)
    assert parse_resolver("[2001:db8::53]:5300") == ("2001:db8::53", 5300)
    assert parse_resolver("2001:db8::53") == ("2001:db8::53", 53)
    for wrong in ("dns.example.test", "127.0.0.1:0", "127.0.0.1:port", "[2001:db8::53]x"):
        with pytest.raises(ValueError):
            parse_resolver(wrong)
    with pytest.raises(ValueError):
        bootstrap.dns_driver(Settings(_env_file=None, dns_resolver="resolver.example.test"))  # type: ignore[call-arg]


def test_longest_reverse_zone_wins() -> None:
    zones = [{"name": n, "id": n} for n in ("0.192.in-addr.arpa.", "2.0.192.in-addr.arpa.", "example.test.")]
    assert holding_zone("10.2.0.192.in-addr.arpa.", zones) == zones[1]
    assert holding_zone("10.3.0.192.in-addr.arpa.", zones) == zones[0]
    assert holding_zone("10.2.0.193.in-addr.arpa.", zones) is None
    # A suffix that is not a whole label is no parent: 12.0.192 is not inside 2.0.192.
    assert holding_zone("1.12.0.192.in-addr.arpa.", zones[1:]) is None
