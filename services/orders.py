"""Orders (services a customer rents) and the servers behind them."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from services.access import owned
from services.audit import Actor
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
