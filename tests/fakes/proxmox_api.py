"""A fake Proxmox VE API on 127.0.0.1, over HTTPS with its own certificate authority (as a PVE node
has), following the documented API: ``/api2/json`` paths, ``{"data": …}`` envelopes, API-token
authentication (``Authorization: PVEAPIToken=USER@REALM!NAME=SECRET``), tasks named by UPIDs and
polled at ``/nodes/{node}/tasks/{upid}/status``, and its errors: 401 for a bad token, 403 for a
missing privilege, 500 with the reason in the status line (a locked VM, a missing one, an agent that
is not running), 400 with ``errors`` for a bad parameter.

The real proxmoxer (``services.drivers.proxmox``) talks to it; every Proxmox test uses it. What a
test needs to provoke is a switch: ``locked``, ``forbidden``, ``broken``, ``slow_tasks``,
``hung_tasks``, ``failing_tasks``, ``agent``.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import secrets
import ssl
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

TOKEN_ID = "hostbot@pve!bot"
TOKEN_SECRET = "0b6b1e3c-5f0c-4b1e-9d1b-8d3a3c2a7f10"
NODE = "pve1"
PARAMS = web.RequestKey("params", dict)
GIB = 1024**3


@dataclass
class VM:
    vmid: int
    name: str
    config: dict[str, Any]
    status: str = "stopped"
    template: bool = False
    lock: str = ""
    maxdisk: int = 20 * GIB
    agent: list[dict[str, Any]] = field(default_factory=list)

    def current(self) -> dict[str, Any]:
        running = self.status == "running"
        found = {
            "vmid": self.vmid,
            "name": self.name,
            "status": self.status,
            "qmpstatus": self.status,
            "cpus": int(self.config.get("cores", 1)) * int(self.config.get("sockets", 1)),
            "maxmem": int(self.config.get("memory", 512)) * 1024**2,
            "maxdisk": self.maxdisk,
            "uptime": 3600 if running else 0,
        }
        if self.config.get("tags"):
            found["tags"] = self.config["tags"]
        if self.lock:
            found["lock"] = self.lock
        return found


@dataclass
class Task:
    upid: str
    node: str
    kind: str
    polls_left: int
    exitstatus: str = "OK"


def certificate_authority(folder: Path) -> tuple[Path, Path, Path]:
    """A CA and a certificate for 127.0.0.1 signed by it: (ca.pem, cert.pem, key.pem)."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Proxmox Virtual Environment test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = folder / "ca.pem", folder / "cert.pem", folder / "key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return paths


class FakeProxmox:
    """One node, ``pve1``, with the VMs and templates a test adds (``vm``, ``add_template``)."""

    def __init__(self, folder: Path) -> None:
        self.ca, cert, key = certificate_authority(folder)
        self.tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.tls.load_cert_chain(cert, key)
        self.vms: dict[int, VM] = {}
        self.tasks: dict[str, Task] = {}
        self.requests: list[tuple[str, str, dict[str, str]]] = []  # method, path after /api2/json, params
        self.locked: set[int] = set()  # VM ids whose lock refuses every change (a backup runs)
        self.forbidden: set[str] = set()  # paths (after /api2/json) the token lacks privileges for
        self.broken = False  # every request answers 500
        self.slow_tasks = 1  # polls a task reports "running" before it stops
        self.hung_tasks: set[str] = set()  # task types that never stop
        self.failing_tasks: dict[str, str] = {}  # task type -> exit status
        self.rrd: list[dict[str, Any]] = []
        app = web.Application(middlewares=[self._envelope])
        api = "/api2/json/nodes/{node}"
        vm = api + "/qemu/{vmid:\\d+}"
        app.router.add_get(api + "/qemu", self._list)
        app.router.add_get(vm + "/status/current", self._current)
        app.router.add_post(vm + "/status/{action}", self._power)
        app.router.add_get(vm + "/config", self._config)
        app.router.add_put(vm + "/config", self._set_config)
        app.router.add_delete(vm, self._destroy)
        app.router.add_post(vm + "/clone", self._clone)
        app.router.add_put(vm + "/resize", self._resize)
        app.router.add_post(vm + "/vncproxy", self._vncproxy)
        app.router.add_get(vm + "/agent/network-get-interfaces", self._agent)
        app.router.add_get(vm + "/rrddata", self._rrddata)
        app.router.add_get(api + "/tasks/{upid}/status", self._task)
        self.server = TestServer(app, host="127.0.0.1", port=0)

    async def __aenter__(self) -> FakeProxmox:
        await self.server.start_server(ssl=self.tls)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.server.close()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.server.port}"

    # -- what a test sets up ---------------------------------------------------------------------

    def vm(self, vmid: int, name: str, mac: str, ip: str, gateway: str, **config: Any) -> VM:
        found = VM(
            vmid,
            name,
            {
                "name": name,
                "cores": 2,
                "sockets": 1,
                "memory": 4096,
                "boot": "order=scsi0;net0",
                "scsi0": f"local-lvm:vm-{vmid}-disk-0,size=80G",
                "net0": f"virtio={mac.upper()},bridge=vmbr0,firewall=1",
                "ipconfig0": f"ip={ip},gw={gateway}",
                **config,
            },
            status="running",
            maxdisk=80 * GIB,
        )
        self.vms[vmid] = found
        return found

    def add_template(self, vmid: int, name: str) -> VM:
        found = VM(
            vmid,
            name,
            {
                "name": name,
                "template": 1,
                "cores": 1,
                "memory": 1024,
                "boot": "order=scsi0",
                "scsi0": f"local-lvm:base-{vmid}-disk-0,size=10G",
                "ide2": f"local-lvm:base-{vmid}-cloudinit,media=cdrom",
                "net0": "virtio=BC:24:11:00:00:FF,bridge=vmbr0",
            },
            template=True,
            maxdisk=10 * GIB,
        )
        self.vms[vmid] = found
        return found

    def calls(self, method: str, suffix: str) -> list[dict[str, str]]:
        """The parameters of each request to a path ending in ``suffix``."""
        return [params for m, path, params in self.requests if m == method and path.endswith(suffix)]

    # -- the API ---------------------------------------------------------------------------------

    @web.middleware
    async def _envelope(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """Authentication, privileges and the ``{"data": …}`` envelope, as PVE's API server does."""
        path = request.path.removeprefix("/api2/json")
        params = dict(request.query)
        if request.method in ("POST", "PUT"):
            params.update({k: str(v) for k, v in (await request.post()).items()})
        self.requests.append((request.method, path, params))
        expected = f"PVEAPIToken={TOKEN_ID}={TOKEN_SECRET}"
        if request.headers.get("Authorization") != expected:
            return _error(401, "authentication failure")
        if self.broken:
            return _error(500, "internal error")
        if path in self.forbidden:
            return _error(403, "Permission check failed")
        request[PARAMS] = params
        try:
            data = await handler(request)
        except _Refused as err:
            return err.response
        return web.json_response({"data": data})

    def _the_vm(self, request: web.Request) -> VM:
        vmid = int(request.match_info["vmid"])
        if request.match_info["node"] != NODE or vmid not in self.vms:
            raise _Refused(
                _error(
                    500,
                    f"Configuration file 'nodes/{request.match_info['node']}/qemu-server/{vmid}.conf' does not exist",
                )
            )
        return self.vms[vmid]

    def _changeable(self, vm: VM) -> None:
        if vm.vmid in self.locked:
            raise _Refused(_error(500, f"VM {vm.vmid} is locked (backup)"))

    def _start_task(self, kind: str, vmid: int) -> str:
        now = int(time.time())
        upid = f"UPID:{NODE}:{secrets.randbelow(2**20):08X}:{secrets.randbelow(2**24):08X}:{now:08X}:{kind}:{vmid}:{TOKEN_ID}:"
        polls = 10**9 if kind in self.hung_tasks else self.slow_tasks
        self.tasks[upid] = Task(upid, NODE, kind, polls, self.failing_tasks.get(kind, "OK"))
        return upid

    async def _list(self, request: web.Request) -> Any:
        return [
            {
                "vmid": vm.vmid,
                "name": vm.name,
                "status": vm.status,
                **({"template": 1} if vm.template else {}),
            }
            for vm in self.vms.values()
        ]

    async def _current(self, request: web.Request) -> Any:
        return self._the_vm(request).current()

    async def _power(self, request: web.Request) -> Any:
        vm = self._the_vm(request)
        action = request.match_info["action"]
        if action not in ("start", "stop", "shutdown", "reboot", "reset"):
            raise _Refused(
                _error(501, f"Method 'POST /nodes/{NODE}/qemu/{vm.vmid}/status/{action}' not implemented")
            )
        self._changeable(vm)
        if action == "start" and vm.status == "running":
            raise _Refused(_error(500, f"VM {vm.vmid} already running"))
        if action in ("reboot", "reset") and vm.status != "running":
            raise _Refused(_error(500, f"VM {vm.vmid} not running"))
        kind = {
            "start": "qmstart",
            "stop": "qmstop",
            "shutdown": "qmshutdown",
            "reboot": "qmreboot",
            "reset": "qmreset",
        }[action]
        upid = self._start_task(kind, vm.vmid)
        if self.tasks[upid].exitstatus == "OK" and kind not in self.hung_tasks:
            vm.status = "stopped" if action in ("stop", "shutdown") else "running"
        return upid

    async def _config(self, request: web.Request) -> Any:
        vm = self._the_vm(request)
        return {**vm.config, "digest": secrets.token_hex(20)}

    async def _set_config(self, request: web.Request) -> Any:
        params: dict[str, str] = request[PARAMS]
        vm = self._the_vm(request)
        self._changeable(vm)
        unknown = [k for k in params if k.startswith("bogus")]
        if unknown:
            raise _Refused(
                web.json_response(
                    {"data": None, "errors": {k: "property is not defined in schema" for k in unknown}},
                    status=400,
                )
            )
        for key in params.get("delete", "").split(","):
            vm.config.pop(key, None)
        vm.config.update({k: v for k, v in params.items() if k != "delete"})
        return None

    async def _destroy(self, request: web.Request) -> Any:
        vm = self._the_vm(request)
        self._changeable(vm)
        if vm.status == "running":
            raise _Refused(_error(500, f"VM {vm.vmid} is running - destroy failed"))
        del self.vms[vm.vmid]
        return self._start_task("qmdestroy", vm.vmid)

    async def _clone(self, request: web.Request) -> Any:
        params: dict[str, str] = request[PARAMS]
        source = self._the_vm(request)
        newid = int(params["newid"])
        if newid in self.vms:
            raise _Refused(_error(500, f"unable to create VM {newid}: config file already exists"))
        config = {
            k: str(v).replace(f"base-{source.vmid}", f"vm-{newid}")
            for k, v in source.config.items()
            if k != "template"
        }
        config["name"] = params.get("name", source.name)
        self.vms[newid] = VM(newid, config["name"], config, maxdisk=source.maxdisk)
        return self._start_task("qmclone", source.vmid)

    async def _resize(self, request: web.Request) -> Any:
        params: dict[str, str] = request[PARAMS]
        vm = self._the_vm(request)
        self._changeable(vm)
        disk, size = params["disk"], params["size"]
        vm.config[disk] = ",".join(
            [part for part in vm.config[disk].split(",") if not part.startswith("size=")] + [f"size={size}"]
        )
        vm.maxdisk = int(size.rstrip("G")) * GIB
        return self._start_task("resize", vm.vmid)

    async def _vncproxy(self, request: web.Request) -> Any:
        vm = self._the_vm(request)
        upid = self._start_task("vncproxy", vm.vmid)
        return {
            "port": "5900",
            "ticket": f"PVEVNC:{int(time.time()):08X}::{secrets.token_urlsafe(24)}",
            "upid": upid,
            "user": TOKEN_ID,
            "cert": "-----BEGIN CERTIFICATE-----\n…",
        }

    async def _agent(self, request: web.Request) -> Any:
        vm = self._the_vm(request)
        if vm.status != "running" or not vm.agent:
            raise _Refused(_error(500, "QEMU guest agent is not running"))
        return {"result": vm.agent}

    async def _rrddata(self, request: web.Request) -> Any:
        params: dict[str, str] = request[PARAMS]
        self._the_vm(request)
        if params.get("timeframe") not in ("hour", "day", "week", "month", "year"):
            raise _Refused(
                web.json_response({"data": None, "errors": {"timeframe": "value is not allowed"}}, status=400)
            )
        return self.rrd

    async def _task(self, request: web.Request) -> Any:
        task = self.tasks.get(request.match_info["upid"])
        if task is None:
            raise _Refused(_error(500, "no such task"))
        base = {"upid": task.upid, "node": task.node, "type": task.kind, "user": TOKEN_ID, "pid": 1}
        if task.polls_left > 0:
            task.polls_left -= 1
            return {**base, "status": "running"}
        return {**base, "status": "stopped", "exitstatus": task.exitstatus}


class _Refused(Exception):
    def __init__(self, response: web.Response) -> None:
        self.response = response


def _error(status: int, reason: str) -> web.Response:
    """PVE's way: the reason in the status line, ``{"data": null}`` as the body."""
    return web.json_response({"data": None}, status=status, reason=reason)
