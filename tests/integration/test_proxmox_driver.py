"""The Proxmox VE driver through the real proxmoxer against the fake PVE API (HTTPS, API token,
UPIDs, task status, its errors): power, tasks to their end, reinstall, console, network, traffic,
suspension."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import unquote

import pytest

from services import clock
from services.drivers.proxmox import SUSPENDED_TAG, ProxmoxDriver, tls_verify
from services.ports import OsTemplate, ServerError, ServerNetwork, ServerRef
from tests.fakes.proxmox_api import NODE, TOKEN_ID, TOKEN_SECRET, FakeProxmox

WEB = ServerRef(1, "web-1", "203.0.113.10", "52:54:00:01:00:00", NODE, 101)
VM = "/nodes/pve1/qemu/101"


@pytest.fixture
async def pve(tmp_path: Path) -> AsyncIterator[FakeProxmox]:
    async with FakeProxmox(tmp_path) as fake:
        fake.vm(101, "web-1", "52:54:00:01:00:00", "203.0.113.10/24", "203.0.113.1")
        fake.add_template(9000, "Debian 12")
        fake.add_template(9001, "Ubuntu 24.04 LTS")
        yield fake


def driver(pve: FakeProxmox, secret: str = TOKEN_SECRET, **options: float) -> ProxmoxDriver:
    return ProxmoxDriver(
        pve.url,
        TOKEN_ID,
        secret,
        str(pve.ca),
        task_timeout=options.get("task_timeout", 30),
        poll_seconds=0.01,
        console_url="https://console.example.net/?node={node}&vmid={vmid}&port={port}&vncticket={ticket}",
        console_ttl=120,
    )


async def test_status_reports_power_and_sizes(pve: FakeProxmox) -> None:
    pve.vms[101].config["cores"] = 4
    status = await driver(pve).status(WEB)
    assert status is not None
    assert (status.power_state, status.cpus, status.memory_mb, status.disk_gb) == ("running", 4, 4096, 80)
    pve.vms[101].status = "stopped"
    stopped = await driver(pve).status(WEB)
    assert stopped is not None and stopped.power_state == "stopped"


async def test_the_api_token_is_required(pve: FakeProxmox) -> None:
    with pytest.raises(ServerError, match="401"):
        await driver(pve, secret="wrong").status(WEB)


async def test_a_missing_privilege_is_a_refusal(pve: FakeProxmox) -> None:
    pve.forbidden.add(f"{VM}/status/reboot")
    with pytest.raises(ServerError, match="403"):
        await driver(pve).reboot(WEB)
    assert not pve.calls("POST", "/status/reset")


async def test_a_locked_vm_is_a_refusal(pve: FakeProxmox) -> None:
    pve.locked.add(101)
    with pytest.raises(ServerError, match="locked"):
        await driver(pve).stop(WEB)
    assert pve.vms[101].status == "running"


async def test_an_internal_error_is_a_refusal(pve: FakeProxmox) -> None:
    pve.broken = True
    with pytest.raises(ServerError, match="500"):
        await driver(pve).start(WEB)


async def test_an_unknown_vm_is_a_refusal(pve: FakeProxmox) -> None:
    with pytest.raises(ServerError, match="does not exist"):
        await driver(pve).status(ServerRef(2, "gone", "203.0.113.99", "", NODE, 404))
    with pytest.raises(ServerError, match="no Proxmox node"):
        await driver(pve).status(ServerRef(3, "bare", "203.0.113.98", ""))


async def test_the_certificate_is_checked(pve: FakeProxmox) -> None:
    """Verification is on by default: the fake's CA is not among the system's."""
    strict = ProxmoxDriver(pve.url, TOKEN_ID, TOKEN_SECRET, tls_verify("true"))
    with pytest.raises(ServerError, match="unreachable"):
        await strict.status(WEB)
    assert (
        tls_verify("false") is False and tls_verify("/etc/pve/pve-root-ca.pem") == "/etc/pve/pve-root-ca.pem"
    )


async def test_a_task_is_followed_until_it_stops(pve: FakeProxmox) -> None:
    pve.slow_tasks = 3
    assert await driver(pve).stop(WEB) == "stopped"
    [shutdown] = pve.calls("POST", "/status/shutdown")
    assert shutdown["forceStop"] == "1"
    [upid] = [u for u in pve.tasks if ":qmshutdown:" in u]
    assert len(pve.calls("GET", f"/tasks/{upid}/status")) == 4  # three times running, then stopped


async def test_a_task_that_does_not_end_in_time_is_a_failure(pve: FakeProxmox) -> None:
    pve.vms[101].status = "stopped"
    pve.hung_tasks.add("qmstart")
    with pytest.raises(ServerError, match="still running"):
        await driver(pve, task_timeout=0.05).start(WEB)


async def test_a_failed_task_is_a_failure(pve: FakeProxmox) -> None:
    pve.failing_tasks["qmshutdown"] = "VM quit/powerdown failed"
    with pytest.raises(ServerError, match="powerdown failed"):
        await driver(pve).stop(WEB)


async def test_a_guest_that_does_not_reboot_is_reset(pve: FakeProxmox) -> None:
    assert await driver(pve).reboot(WEB) == "running"
    assert not pve.calls("POST", "/status/reset")
    pve.failing_tasks["qmreboot"] = "VM quit/powerdown failed - got timeout"
    assert await driver(pve).reboot(WEB) == "running"
    assert len(pve.calls("POST", "/status/reset")) == 1


async def test_network_from_the_configuration_and_the_guest_agent(pve: FakeProxmox) -> None:
    pve.vms[101].config["ipconfig0"] += ",ip6=2001:db8:1::10/64,gw6=2001:db8:1::1"
    without_agent = await driver(pve).network(WEB)
    assert without_agent == ServerNetwork(
        "203.0.113.10", "255.255.255.0", "203.0.113.1", "52:54:00:01:00:00", ("2001:db8:1::10/64",)
    )
    pve.vms[101].agent = [
        {"name": "lo", "hardware-address": "00:00:00:00:00:00", "ip-addresses": []},
        {
            "name": "eth0",
            "hardware-address": "52:54:00:01:00:00",
            "ip-addresses": [
                {"ip-address-type": "ipv4", "ip-address": "203.0.113.10", "prefix": 24},
                {"ip-address-type": "ipv6", "ip-address": "2001:db8:1::10", "prefix": 64},
                {"ip-address-type": "ipv6", "ip-address": "2001:db8:1:0:5054:ff:fe01:0", "prefix": 64},
                {"ip-address-type": "ipv6", "ip-address": "fe80::5054:ff:fe01:0", "prefix": 64},
            ],
        },
    ]
    with_agent = await driver(pve).network(WEB)
    assert with_agent is not None
    assert with_agent.ipv6 == ("2001:db8:1::10/64", "2001:db8:1:0:5054:ff:fe01:0/64")


async def test_a_dhcp_address_comes_from_the_guest_agent(pve: FakeProxmox) -> None:
    pve.vms[101].config["ipconfig0"] = "ip=dhcp"
    pve.vms[101].agent = [
        {
            "name": "eth0",
            "hardware-address": "52:54:00:01:00:00",
            "ip-addresses": [{"ip-address-type": "ipv4", "ip-address": "198.51.100.7", "prefix": 25}],
        }
    ]
    network = await driver(pve).network(WEB)
    assert network is not None and (network.ipv4, network.netmask) == ("198.51.100.7", "255.255.255.128")


async def test_templates_are_the_nodes_template_vms(pve: FakeProxmox) -> None:
    assert await driver(pve).templates(WEB) == [
        OsTemplate("9000", "Debian 12"),
        OsTemplate("9001", "Ubuntu 24.04 LTS"),
    ]


async def test_reinstall_clones_the_template_under_the_same_vm_and_keeps_its_identity(
    pve: FakeProxmox,
) -> None:
    before = dict(pve.vms[101].config)
    login = await driver(pve).reinstall(WEB, OsTemplate("9000", "Debian 12"))
    assert login.username == "root" and len(login.password) >= 16
    vm = pve.vms[101]
    assert vm.status == "running" and vm.name == "web-1"
    for kept in ("net0", "ipconfig0", "cores", "memory"):
        assert str(vm.config[kept]) == str(before[kept]), kept
    assert vm.config["cipassword"] == login.password and vm.config["ciuser"] == "root"
    assert "size=80G" in vm.config["scsi0"] and "vm-101" in vm.config["scsi0"]
    order = [
        (method, path.rsplit("/", 1)[-1] if "/tasks/" not in path else "task")
        for method, path, _ in pve.requests
        if "/tasks/" not in path and method != "GET"
    ]
    assert order == [
        ("POST", "stop"),
        ("DELETE", "101"),
        ("POST", "clone"),
        ("PUT", "config"),
        ("PUT", "resize"),
        ("POST", "start"),
    ]
    [clone] = pve.calls("POST", "/qemu/9000/clone")
    assert clone == {"newid": "101", "name": "web-1", "full": "1", "target": NODE}
    assert pve.calls("DELETE", VM) == [{"purge": "1", "destroy-unreferenced-disks": "1"}]


async def test_reinstall_refused_while_locked_wipes_nothing(pve: FakeProxmox) -> None:
    pve.locked.add(101)
    with pytest.raises(ServerError, match="locked"):
        await driver(pve).reinstall(WEB, OsTemplate("9000", "Debian 12"))
    assert 101 in pve.vms and not pve.calls("DELETE", VM)


async def test_the_console_is_a_vnc_ticket(pve: FakeProxmox) -> None:
    link = await driver(pve).console(WEB)
    [proxy] = pve.calls("POST", "/vncproxy")
    assert proxy == {"websocket": "1"}
    assert link.url.startswith("https://console.example.net/?node=pve1&vmid=101&port=5900&vncticket=PVEVNC")
    assert unquote(link.url.split("vncticket=")[1]).startswith("PVEVNC:")
    assert link.expires_at > clock.now()


async def test_traffic_from_rrddata(pve: FakeProxmox) -> None:
    now = int(clock.now().timestamp()) // 60 * 60
    pve.rrd = [
        {"time": now - 180, "netin": 1000.0, "netout": 250.5},
        {"time": now - 120, "netin": 2000.0, "netout": 500.0},
        {"time": now - 60},  # no data: the VM was off
        {"time": now, "netin": 10.0, "netout": 0.0},
    ]
    since = clock.now() - dt.timedelta(minutes=30)
    samples = await driver(pve).traffic(WEB, since)
    assert samples is not None
    assert [(s.seconds, s.bytes_in, s.bytes_out) for s in samples] == [
        (60, 60000, 15030),
        (60, 120000, 30000),
        (60, 600, 0),
    ]
    assert samples[1].at == dt.datetime.fromtimestamp(now - 180, dt.UTC)
    assert pve.calls("GET", "/rrddata") == [{"timeframe": "hour", "cf": "AVERAGE"}]
    await driver(pve).traffic(WEB, clock.now() - dt.timedelta(days=20))
    assert pve.calls("GET", "/rrddata")[-1]["timeframe"] == "month"


async def test_suspend_unsuspend_and_terminate(pve: FakeProxmox) -> None:
    pve.vms[101].config["tags"] = "customer-1"
    proxmox = driver(pve)
    await proxmox.suspend(WEB)
    assert pve.vms[101].status == "stopped"
    assert set(pve.vms[101].config["tags"].split(";")) == {"customer-1", SUSPENDED_TAG}
    status = await proxmox.status(WEB)
    assert status is not None and status.power_state == "suspended"
    await proxmox.unsuspend(WEB)
    assert pve.vms[101].status == "running" and pve.vms[101].config["tags"] == "customer-1"
    await proxmox.terminate(WEB)
    assert 101 not in pve.vms
