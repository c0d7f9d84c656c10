"""Reverse DNS on a PowerDNS Authoritative server through its HTTP API (``DNS_DRIVER=powerdns``).

The PTR of an address lives in the reverse zone (``in-addr.arpa`` / ``ip6.arpa``) of the server
that holds its reverse name: the longest of the server's zones the name ends with, so a zone
delegated for a /24 wins over one for the /16 around it. A change replaces the whole PTR rrset
(``changetype: REPLACE``) and is read back, so what the customer is told is what the zone holds.
API reference: https://doc.powerdns.com/authoritative/http-api/zone.html
"""

from __future__ import annotations

from typing import Any

import aiohttp
import dns.reversename
from yarl import URL

from services.drivers.forward import ForwardResolver
from services.ports import DnsError, NoReverseZone

REVERSE_SUFFIXES = ("in-addr.arpa.", "ip6.arpa.")


def reverse_name(ip: str) -> str:
    """``192.0.2.10`` -> ``10.2.0.192.in-addr.arpa.`` (the nibble form under ``ip6.arpa.`` for IPv6)."""
    return str(dns.reversename.from_address(ip).to_text()).lower()


def holding_zone(name: str, zones: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The longest reverse zone among ``zones`` (as the API lists them) that ``name`` is in."""
    best: dict[str, Any] | None = None
    for zone in zones:
        zone_name = str(zone.get("name", "")).lower()
        if not zone_name.endswith(REVERSE_SUFFIXES):
            continue
        if (name == zone_name or name.endswith("." + zone_name)) and (
            best is None or len(zone_name) > len(str(best["name"]))
        ):
            best = zone
    return best


class PowerDns:
    """The ``DnsDriver`` port on one PowerDNS server (``server_id``, ``localhost`` unless the API
    fronts several). ``api_url`` is its webserver (``http://127.0.0.1:8081``); ``/api/v1`` is
    added unless already there. The API key travels in ``X-API-Key`` and is never logged."""

    def __init__(
        self,
        api_url: str,
        api_key: str,
        forward: ForwardResolver,
        server_id: str = "localhost",
        ttl: int = 3600,
        timeout: float = 10.0,
    ) -> None:
        if not api_url or not api_key:
            raise ValueError("DNS_DRIVER=powerdns needs POWERDNS_API_URL and POWERDNS_API_KEY")
        base = api_url.rstrip("/").removesuffix("/api/v1")
        self._server = URL(base) / "api" / "v1" / "servers" / (server_id or "localhost")
        self._headers = {"X-API-Key": api_key, "Accept": "application/json"}
        self._forward = forward
        self._ttl = ttl
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def ptr(self, ip: str) -> str:
        name = reverse_name(ip)
        async with self._session() as http:
            zone = await self._zone_of(http, name, ip)
            return await self._read(http, zone, name)

    async def set_ptr(self, ip: str, hostname: str) -> None:
        name = reverse_name(ip)
        target = hostname.rstrip(".").lower()
        rrset = {
            "name": name,
            "type": "PTR",
            "ttl": self._ttl,
            "changetype": "REPLACE",
            "records": [{"content": target + ".", "disabled": False}],
        }
        async with self._session() as http:
            zone = await self._zone_of(http, name, ip)
            await self._call(http, "PATCH", self._zone_url(zone), json={"rrsets": [rrset]})
            kept = await self._read(http, zone, name)
        if kept != target:
            raise DnsError(f"PowerDNS holds {kept!r} for {name} after setting {target!r}")

    async def resolves_to(self, hostname: str, ip: str) -> bool | None:
        return await self._forward.resolves_to(hostname, ip)

    def _session(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(headers=self._headers, timeout=self._timeout)

    def _zone_url(self, zone: dict[str, Any]) -> URL:
        return self._server / "zones" / str(zone["id"])

    async def _zone_of(self, http: aiohttp.ClientSession, name: str, ip: str) -> dict[str, Any]:
        zones = await self._call(http, "GET", self._server / "zones")
        zone = holding_zone(name, zones if isinstance(zones, list) else [])
        if zone is None:
            raise NoReverseZone(f"no zone on the PowerDNS server holds {name} ({ip})")
        return zone

    async def _read(self, http: aiohttp.ClientSession, zone: dict[str, Any], name: str) -> str:
        """The PTR hostname at ``name`` in ``zone`` (the first if several), "" when there is none."""
        found = await self._call(
            http, "GET", self._zone_url(zone).with_query(rrset_name=name, rrset_type="PTR")
        )
        for rrset in found.get("rrsets", []) if isinstance(found, dict) else []:
            if str(rrset.get("name", "")).lower() == name and rrset.get("type") == "PTR":
                for record in rrset.get("records", []):
                    if not record.get("disabled"):
                        return str(record["content"]).rstrip(".").lower()
        return ""

    async def _call(self, http: aiohttp.ClientSession, method: str, url: URL, json: Any = None) -> Any:
        """The JSON answer of one API call (None for 204); any failure is a ``DnsError``."""
        try:
            async with http.request(method, url, json=json) as response:
                if response.status == 204:
                    return None
                if response.status >= 400:
                    detail = (await response.text())[:200]
                    raise DnsError(f"PowerDNS answered {response.status} to {method} {url.path}: {detail}")
                return await response.json(content_type=None)
        except (TimeoutError, aiohttp.ClientError, ValueError) as err:
            raise DnsError(f"PowerDNS {method} {url.path} failed: {err!r}") from err
