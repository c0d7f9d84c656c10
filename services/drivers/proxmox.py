"""``SERVER_DRIVER=proxmox``: the customers' servers are QEMU virtual machines on Proxmox VE, driven
through its HTTP API with an API token (proxmoxer).

Which machine a server is comes from its record: the node and the VM id. Every change the API runs
as a task (a UPID) is followed to its end, polling ``/nodes/{node}/tasks/{upid}/status`` until the
task stops, within ``task_timeout`` seconds; a task that ends with anything but OK is a failure.
proxmoxer is synchronous (requests), so each call runs in a worker thread, off the event loop.

- power: ``status/start``; ``status/shutdown`` with ``forceStop`` (off after ``SHUTDOWN_SECONDS``);
  ``status/reboot``, and ``status/reset`` when the guest does not reboot in time;
- suspension for non-payment: stopped and tagged ``hostbot-suspended`` (staff see it in the web UI);
- reinstall: the templates are the node's VMs marked as templates; the VM is destroyed and the
  template fully cloned under the same VM id, with the old network (MAC, addresses), cores, memory
  and disk size, and a new root password through cloud-init;
- console: ``vncproxy`` (a ticket for one connection) in ``console_url``;
- network: the VM's configuration (``net0``, ``ipconfig0``) and, when it runs, the guest agent;
- traffic: ``rrddata`` (bytes per second in and out, averaged per interval).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import secrets
import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

import requests
from proxmoxer import ProxmoxAPI, ResourceException
from proxmoxer.core import AuthenticationError

from services import clock
from services.ports import (
    ConsoleLink,
    LoginDetails,
    OsTemplate,
    ServerError,
    ServerNetwork,
    ServerRef,
    ServerStatus,
    TrafficSample,
)

T = TypeVar("T")

SUSPENDED_TAG = "hostbot-suspended"
SHUTDOWN_SECONDS = 60  # how long a guest may take to shut down (or reboot) before it is forced
REQUEST_SECONDS = 30  # one API request
GIB = 1024**3
MIB = 1024**2
DISK_KEYS = ("scsi", "virtio", "sata", "ide")
# What survives a reinstall: the machine's identity on the network and its size.
KEPT = ("net0", "ipconfig0", "nameserver", "searchdomain", "cores", "sockets", "memory", "tags")
# rrddata's timeframes, shortest first, and the span each covers.
TIMEFRAMES = (
    ("hour", dt.timedelta(hours=1)),
    ("day", dt.timedelta(days=1)),
    ("week", dt.timedelta(days=7)),
    ("month", dt.timedelta(days=30)),
    ("year", dt.timedelta(days=366)),
)


def tls_verify(setting: str) -> bool | str:
    """``PROXMOX_VERIFY_TLS``: true, false, or the path of a CA bundle (Proxmox's own CA)."""
    lowered = setting.strip().lower()
    if lowered in ("", "1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    return setting.strip()


class ProxmoxDriver:
    """One Proxmox VE cluster (any of its nodes answers for all)."""

    def __init__(
        self,
        url: str,
        token_id: str,
        token_secret: str,
        verify: bool | str = True,
        *,
        task_timeout: float = 600,
        poll_seconds: float = 1.0,
        console_url: str = "",
        console_ttl: int = 120,
    ) -> None:
        parts = urlsplit(url)
        user, bang, token_name = token_id.partition("!")
        if parts.scheme != "https" or not parts.hostname:
            raise ValueError("PROXMOX_URL must be https://host[:port]")
        if not bang or not user or not token_name or not token_secret:
            raise ValueError("PROXMOX_TOKEN_ID (user@realm!name) and PROXMOX_TOKEN_SECRET are required")
        self._api = ProxmoxAPI(
            f"{parts.hostname}:{parts.port or 8006}",
            user=user,
            token_name=token_name,
            token_value=token_secret,
            verify_ssl=verify,
            timeout=REQUEST_SECONDS,
        )
        try:
            console_url.format(url="", node="", vmid="", port="", ticket="")
        except (KeyError, IndexError, ValueError):
            raise ValueError(
                "PROXMOX_CONSOLE_URL may hold {url}, {node}, {vmid}, {port} and {ticket} only"
            ) from None
        self._url = f"https://{parts.netloc}"
        self._task_timeout = task_timeout
        self._poll = poll_seconds
        self._console_url = console_url
        self._console_ttl = console_ttl

    # -- the API, off the event loop ------------------------------------------------------------

    async def _call(self, request: Callable[[], T]) -> T:
        """One API request in a worker thread; its refusal or failure as ``ServerError``."""
        try:
            return await asyncio.to_thread(request)
        except ResourceException as err:
            raise ServerError(f"Proxmox VE answered {err.status_code}: {err.content}") from None
        except (requests.RequestException, AuthenticationError) as err:
            raise ServerError(f"Proxmox VE unreachable: {type(err).__name__}") from None

    def _vm(self, server: ServerRef) -> Any:
        if not server.node or server.vm_id is None:
            raise ServerError(f"server {server.id} has no Proxmox node and VM id on record")
        return self._api.nodes(server.node).qemu(server.vm_id)

    async def _run(self, request: Callable[[], Any]) -> None:
        """Start a task and follow it to its end."""
        upid = await self._call(request)
        if isinstance(upid, str) and upid.startswith("UPID:"):
            await self._follow(upid)

    async def _follow(self, upid: str) -> None:
        """Poll the task until it stops; a failed or timed-out task is a ``ServerError``."""
        node = upid.split(":")[1]
        task = self._api.nodes(node).tasks(upid).status
        deadline = time.monotonic() + self._task_timeout
        while True:
            state = await self._call(task.get)
            if state.get("status") == "stopped":
                exit_status = str(state.get("exitstatus", ""))
                if exit_status != "OK" and not exit_status.startswith("WARNINGS"):
                    raise ServerError(f"task {state.get('type', '?')} failed: {exit_status}")
                return
            if time.monotonic() >= deadline:
                raise ServerError(f"task {state.get('type', '?')} still running after {self._task_timeout} s")
            await asyncio.sleep(self._poll)

    # -- what the machine is ---------------------------------------------------------------------

    async def status(self, server: ServerRef) -> ServerStatus | None:
        current = await self._call(self._vm(server).status.current.get)
        tags = str(current.get("tags") or "").replace(",", ";").split(";")
        if SUSPENDED_TAG in tags:
            state = "suspended"
        elif current.get("status") == "running" and current.get("qmpstatus", "running") == "running":
            state = "running"
        else:
            state = "stopped"
        return ServerStatus(
            state,
            cpus=_int(current.get("cpus")),
            memory_mb=_int(current.get("maxmem"), MIB),
            disk_gb=_int(current.get("maxdisk"), GIB),
            uptime_seconds=_int(current.get("uptime")),
        )

    async def network(self, server: ServerRef) -> ServerNetwork | None:
        vm = self._vm(server)
        config = await self._call(vm.config.get)
        found = _from_config(config)
        try:
            agent = await self._call(vm.agent("network-get-interfaces").get)
        except ServerError:  # no agent installed, or the machine is off: the configuration says enough
            return found
        return _with_agent(found, agent)

    async def templates(self, server: ServerRef) -> list[OsTemplate]:
        self._vm(server)
        listed = await self._call(self._api.nodes(server.node).qemu.get)
        found = [
            OsTemplate(str(vm["vmid"]), str(vm.get("name") or vm["vmid"]))
            for vm in listed
            if vm.get("template")
        ]
        return sorted(found, key=lambda t: t.name)

    # -- power -------------------------------------------------------------------------------------

    async def start(self, server: ServerRef) -> str:
        vm = self._vm(server)
        await self._run(vm.status.start.post)
        return "running"

    async def stop(self, server: ServerRef) -> str:
        vm = self._vm(server)
        await self._run(lambda: vm.status.shutdown.post(forceStop=1, timeout=SHUTDOWN_SECONDS))
        return "stopped"

    async def reboot(self, server: ServerRef) -> str:
        """An ACPI reboot; a guest that does not go down in time is reset (power cycled)."""
        vm = self._vm(server)
        upid = await self._call(lambda: vm.status.reboot.post(timeout=SHUTDOWN_SECONDS))
        try:
            await self._follow(upid)
        except ServerError:
            await self._run(vm.status.reset.post)
        return "running"

    # -- suspension (the lifecycle's) --------------------------------------------------------------

    async def suspend(self, server: ServerRef) -> None:
        vm = self._vm(server)
        config = await self._call(vm.config.get)
        tags = _tags(config) | {SUSPENDED_TAG}
        await self._call(lambda: vm.config.put(tags=";".join(sorted(tags))))
        current = await self._call(vm.status.current.get)
        if current.get("status") == "running":
            await self._run(vm.status.stop.post)

    async def unsuspend(self, server: ServerRef) -> None:
        vm = self._vm(server)
        config = await self._call(vm.config.get)
        tags = _tags(config) - {SUSPENDED_TAG}
        if tags:
            await self._call(lambda: vm.config.put(tags=";".join(sorted(tags))))
        else:
            await self._call(lambda: vm.config.put(delete="tags"))
        await self._run(vm.status.start.post)

    async def terminate(self, server: ServerRef) -> None:
        vm = self._vm(server)
        current = await self._call(vm.status.current.get)
        if current.get("status") == "running":
            await self._run(vm.status.stop.post)
        await self._run(lambda: vm.delete(purge=1, **{"destroy-unreferenced-disks": 1}))

    # -- reinstall ---------------------------------------------------------------------------------

    async def reinstall(self, server: ServerRef, template: OsTemplate) -> LoginDetails:
        vm = self._vm(server)
        node = self._api.nodes(server.node)
        if not template.id.isdigit():
            raise ServerError(f"template {template.id!r} is not a VM id")
        config = await self._call(vm.config.get)
        current = await self._call(vm.status.current.get)
        kept = {key: config[key] for key in KEPT if key in config}
        disk_gb = _int(current.get("maxdisk"), GIB) or 0
        if current.get("status") == "running":
            await self._run(vm.status.stop.post)
        await self._run(lambda: vm.delete(purge=1, **{"destroy-unreferenced-disks": 1}))
        await self._run(
            lambda: node.qemu(template.id).clone.post(
                newid=server.vm_id, name=server.hostname, full=1, target=server.node
            )
        )
        password = secrets.token_urlsafe(15)
        await self._call(lambda: vm.config.put(ciuser="root", cipassword=password, **kept))
        cloned = await self._call(vm.config.get)
        disk = _boot_disk(cloned)
        if disk is not None and disk_gb > _disk_size_gb(cloned[disk]):
            await self._run(lambda: vm.resize.put(disk=disk, size=f"{disk_gb}G"))
        await self._run(vm.status.start.post)
        return LoginDetails("root", password)

    # -- console and traffic -----------------------------------------------------------------------

    async def console(self, server: ServerRef) -> ConsoleLink:
        """A VNC ticket for one connection, in the console page's address."""
        vm = self._vm(server)
        proxy = await self._call(lambda: vm.vncproxy.post(websocket=1))
        url = self._console_url.format(
            url=self._url,
            node=quote(server.node, safe=""),
            vmid=server.vm_id,
            port=quote(str(proxy["port"]), safe=""),
            ticket=quote(str(proxy["ticket"]), safe=""),
        )
        return ConsoleLink(url, clock.now() + dt.timedelta(seconds=self._console_ttl))

    async def traffic(self, server: ServerRef, since: dt.datetime) -> list[TrafficSample] | None:
        """Samples since ``since`` from the shortest ``rrddata`` timeframe that reaches back that far
        (netin/netout are bytes per second averaged over each interval)."""
        vm = self._vm(server)
        span = clock.now() - since
        timeframe = next((name for name, covers in TIMEFRAMES if covers >= span), TIMEFRAMES[-1][0])
        rows = await self._call(lambda: vm.rrddata.get(timeframe=timeframe, cf="AVERAGE"))
        return _samples(rows, since)


# -- reading what the API says ---------------------------------------------------------------------


def _int(value: Any, unit: int = 1) -> int | None:
    if value is None or value == "":
        return None
    return int(float(value)) // unit


def _tags(config: dict[str, Any]) -> set[str]:
    return {t for t in str(config.get("tags") or "").replace(",", ";").split(";") if t}


def _options(value: str) -> dict[str, str]:
    """``virtio=BC:24:11:00:00:01,bridge=vmbr0`` -> {"virtio": "BC:24:11:00:00:01", "bridge": "vmbr0"}."""
    return dict(part.split("=", 1) for part in value.split(",") if "=" in part)


def _from_config(config: dict[str, Any]) -> ServerNetwork:
    """The addresses the VM's configuration gives it: the NIC's MAC (``net0``) and the static
    addresses cloud-init sets (``ipconfig0``); DHCP and SLAAC leave them to the guest agent."""
    nic = _options(str(config.get("net0", "")))
    mac = next(
        (v for k, v in nic.items() if k not in ("bridge", "firewall", "tag", "rate", "mtu", "queues")), ""
    )
    ip = _options(str(config.get("ipconfig0", "")))
    ipv4, netmask = "", ""
    with_prefix = ip.get("ip", "")
    if "/" in with_prefix:
        interface = ipaddress.IPv4Interface(with_prefix)
        ipv4, netmask = str(interface.ip), str(interface.netmask)
    ipv6 = (ip["ip6"],) if "/" in ip.get("ip6", "") else ()
    return ServerNetwork(ipv4, netmask, ip.get("gw", ""), mac.lower(), ipv6)


def _with_agent(found: ServerNetwork, agent: dict[str, Any]) -> ServerNetwork:
    """Fill in what the guest reports for the NIC with the configured MAC: its IPv4 address where
    the configuration has none (DHCP) and its IPv6 addresses (SLAAC), link-local ones aside."""
    for nic in agent.get("result", []):
        if str(nic.get("hardware-address", "")).lower() != found.mac:
            continue
        ipv4, netmask, ipv6 = found.ipv4, found.netmask, list(found.ipv6)
        for address in nic.get("ip-addresses", []):
            interface = ipaddress.ip_interface(f"{address['ip-address']}/{address['prefix']}")
            if interface.version == 4 and not ipv4:
                ipv4, netmask = str(interface.ip), str(interface.netmask)
            elif interface.version == 6 and _routable(interface.ip) and str(interface) not in ipv6:
                ipv6.append(str(interface))
        return ServerNetwork(ipv4, netmask, found.gateway, found.mac, tuple(ipv6))
    return found


def _routable(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Not the link-local or loopback addresses every interface has."""
    return not (ip.is_link_local or ip.is_loopback)


def _boot_disk(config: dict[str, Any]) -> str | None:
    """The disk the VM boots from (``boot: order=scsi0;net0``), else its first disk."""
    order = _options(str(config.get("boot", ""))).get("order", "")
    for device in order.split(";"):
        if device.startswith(DISK_KEYS) and device in config:
            return device
    disks = sorted(
        k
        for k in config
        if k.startswith(DISK_KEYS) and k[-1].isdigit() and "media=cdrom" not in str(config[k])
    )
    return disks[0] if disks else None


def _disk_size_gb(value: str) -> int:
    """``local-lvm:vm-100-disk-0,size=20G`` -> 20."""
    size = _options(str(value)).get("size", "0")
    units = {"K": 1 / 1024**2, "M": 1 / 1024, "G": 1, "T": 1024}
    if size and size[-1].upper() in units:
        return int(float(size[:-1]) * units[size[-1].upper()])
    return int(float(size or 0)) // GIB


def _samples(rows: list[dict[str, Any]], since: dt.datetime) -> list[TrafficSample]:
    """rrddata rows (``time``: the end of an interval, as RRD stamps it; ``netin``, ``netout``: bytes
    per second averaged over it) as byte counts per interval. The interval is the step between rows."""
    points = sorted((int(r["time"]), r) for r in rows if "time" in r)
    samples = []
    for i, (end, row) in enumerate(points):
        if i > 0:
            step = end - points[i - 1][0]
        elif len(points) > 1:
            step = points[1][0] - end
        else:
            step = 60
        start = dt.datetime.fromtimestamp(end - step, dt.UTC)
        if start < since or row.get("netin") is None:
            continue  # before the asked period, or no data (the VM was off)
        samples.append(
            TrafficSample(start, step, round(float(row["netin"]) * step), round(float(row["netout"]) * step))
        )
    return samples
