"""Orders (services a customer rents) and the servers behind them."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import or_, select

from services import audit, clock
from services.access import owned
from services.audit import Actor
from services.errors import N_, InvalidState, NotFound
from services.ids import is_digits, parse_id
from services.ports import ServerDriver, ServerRef
from storage.models import Order, Server
from storage.uow import UnitOfWork


async def listing(uow: UnitOfWork, customer_id: int) -> Sequence[Order]:
    rows = await uow.session.scalars(select(Order).where(Order.customer_id == customer_id).order_by(Order.id))
    return rows.all()


async def get(uow: UnitOfWork, order_id: int, actor: Actor) -> Order:
    return await owned(uow, Order, order_id, actor)


async def servers_of(uow: UnitOfWork, order: Order) -> Sequence[Server]:
    rows = await uow.session.scalars(
        select(Server).where(Server.order_id == order.id, Server.customer_id == order.customer_id)
    )
    return rows.all()


async def find_server(uow: UnitOfWork, ref: str, actor: Actor) -> Server:
    """A server by hostname, IP address or number, scoped to the actor; someone else's looks
    missing (audited)."""
    ref = ref.strip().lower()
    if is_digits(ref):
        server_id = parse_id(ref)
        if server_id is None:
            raise NotFound()
        return await owned(uow, Server, server_id, actor)
    server = await uow.session.scalar(
        select(Server).where(
            Server.customer_id == actor.customer_id, or_(Server.hostname == ref, Server.ip == ref)
        )
    )
    if server is None:
        raise NotFound()
    return server


async def reboot(uow: UnitOfWork, server_id: int, actor: Actor, driver: ServerDriver) -> Server:
    """Cycle the power of a running server; the audit log records who did it."""
    server = await owned(uow, Server, server_id, actor)
    if server.power_state != "running":
        raise InvalidState(
            N_("{server} cannot be rebooted while it is {state}."),
            server=server.hostname,
            state=server.power_state,
        )
    server.power_state = "rebooting"
    await uow.flush()
    server.power_state = await driver.reboot(ServerRef(server.id, server.hostname, server.ip, server.mac))
    server.last_boot_at = clock.now()
    audit.record(uow, "server.reboot", actor, f"server:{server.id}", hostname=server.hostname)
    await uow.commit()
    return server
