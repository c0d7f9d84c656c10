"""A real PowerDNS Authoritative server for the tests (Debian's ``pdns-server`` with
``pdns-backend-sqlite3``, which ``.ci/run`` installs): its own SQLite database made from the
package's schema, DNS and the HTTP API on free ports of 127.0.0.1, nothing sent elsewhere (no
security poll). Tests create their zones through the API and ask it questions with dnspython.
"""

from __future__ import annotations

import json
import shutil
import socket
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dns.asyncresolver
import dns.resolver

PDNS_SERVER = shutil.which("pdns_server") or (
    "/usr/sbin/pdns_server" if Path("/usr/sbin/pdns_server").exists() else None
)
SCHEMAS = (
    Path("/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql"),
    Path("/usr/share/doc/pdns-backend-sqlite3/schema.sqlite3.sql"),
)
API_KEY = "test-api-key"
START = 60  # seconds the server may take to answer its API on a busy machine


def missing() -> str | None:
    """Why no PowerDNS server can be started here, or None when one can."""
    if PDNS_SERVER is None:
        return "pdns_server is not installed (apt-get install pdns-server pdns-backend-sqlite3; .ci/run does)"
    if not any(schema.exists() for schema in SCHEMAS):
        return "the gsqlite3 schema of pdns-backend-sqlite3 is not installed"
    return None


def _free_port() -> int:
    """A port free for both TCP and UDP (DNS listens on both)."""
    while True:
        with socket.socket() as tcp, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            tcp.bind(("127.0.0.1", 0))
            port = int(tcp.getsockname()[1])
            try:
                udp.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port


@dataclass
class PowerDnsServer:
    api_url: str
    api_key: str
    dns_port: int

    @property
    def resolver(self) -> str:
        """This server as a ``DNS_RESOLVER`` setting (it answers for the zones it holds)."""
        return f"127.0.0.1:{self.dns_port}"

    def api(self, method: str, path: str, body: Any = None) -> Any:
        """One call to the HTTP API (``path`` under ``/api/v1/servers/localhost``)."""
        request = urllib.request.Request(
            f"{self.api_url}/api/v1/servers/localhost{path}",
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={"X-API-Key": self.api_key, "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
        return json.loads(raw) if raw else None

    def create_zone(self, name: str, records: dict[tuple[str, str], list[str]] | None = None) -> None:
        """A native zone ``name`` with ``records`` ({(name, type): [content, ...]})."""
        rrsets = [
            {
                "name": owner,
                "type": rtype,
                "ttl": 300,
                "records": [{"content": c, "disabled": False} for c in items],
            }
            for (owner, rtype), items in (records or {}).items()
        ]
        self.api(
            "POST",
            "/zones",
            {"name": name, "kind": "Native", "nameservers": ["ns1.example.test."], "rrsets": rrsets},
        )

    def delete_zones(self) -> None:
        for zone in self.api("GET", "/zones"):
            self.api("DELETE", f"/zones/{zone['id']}")

    async def query(self, name: str, rdtype: str) -> list[str]:
        """What this server answers for ``name`` (the records' text, final dots kept), [] if none."""
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = ["127.0.0.1"]
        resolver.port = self.dns_port
        resolver.lifetime = 10
        try:
            answer = await resolver.resolve(name, rdtype, search=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        return sorted(record.to_text() for record in answer)


def _config(directory: Path, dns_port: int, api_port: int) -> str:
    return "\n".join(
        [
            "launch=gsqlite3",
            f"gsqlite3-database={directory / 'pdns.sqlite3'}",
            "local-address=127.0.0.1",
            f"local-port={dns_port}",
            "api=yes",
            f"api-key={API_KEY}",
            "webserver=yes",
            "webserver-address=127.0.0.1",
            f"webserver-port={api_port}",
            "webserver-allow-from=127.0.0.0/8",
            # No query to the internet for the release's security status.
            "security-poll-suffix=",
            f"socket-dir={directory}",
            "guardian=no",
            "daemon=no",
            "disable-syslog=yes",
            "write-pid=no",
            "loglevel=4",
            # Answers straight from the database, so a query right after a change sees it.
            "cache-ttl=0",
            "negquery-cache-ttl=0",
            "query-cache-ttl=0",
            "receiver-threads=1",
            "distributor-threads=1",
            "",
        ]
    )


@contextmanager
def running(directory: Path) -> Iterator[PowerDnsServer]:
    """A PowerDNS server with an empty database in ``directory``, stopped on leaving."""
    assert PDNS_SERVER is not None
    directory.mkdir(parents=True, exist_ok=True)
    schema = next(s for s in SCHEMAS if s.exists())
    with closing(sqlite3.connect(directory / "pdns.sqlite3")) as db:
        db.executescript(schema.read_text())
    dns_port, api_port = _free_port(), _free_port()
    (directory / "pdns.conf").write_text(_config(directory, dns_port, api_port))
    log = (directory / "pdns.log").open("w")
    proc = subprocess.Popen(
        [PDNS_SERVER, f"--config-dir={directory}"],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    server = PowerDnsServer(f"http://127.0.0.1:{api_port}", API_KEY, dns_port)
    try:
        _wait(server, proc, directory / "pdns.log")
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _wait(server: PowerDnsServer, proc: subprocess.Popen[bytes], log: Path) -> None:
    """Until the API answers (DNS is bound before the webserver starts)."""
    deadline = time.monotonic() + START
    while True:
        assert proc.poll() is None, "pdns_server stopped:\n" + log.read_text()
        try:
            server.api("GET", "")
            return
        except (urllib.error.URLError, ConnectionError):
            assert time.monotonic() < deadline, "pdns_server did not answer:\n" + log.read_text()
            time.sleep(0.1)  # polling a starting process
