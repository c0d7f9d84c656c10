"""What happens to an order whose renewal is not paid: it is announced, suspended, announced again and
terminated; paying its renewal before the end brings it back at once.

The due date is the end of the paid period (``Order.period_end``): paying the renewal moves it (in
``services.paying``), so an active order that still ends on a past day is unpaid. The lifecycle is
data — ``steps``: the days after the due date each step comes, the statuses it takes an order
from and leaves it in, what it does to the order's servers, and the days before it that the
customer is told — with Paymenter's defaults in the settings (suspended 2 days after the due date,
terminated 14 days after).

Everything here is set-based: a step is a few statements per batch of customers, an announcement
one INSERT … SELECT per rung, never a query per customer or order. A step holds its customers' rows
(``FOR UPDATE SKIP LOCKED``), as every payment does first, so a payment and a step on one account
never overlap and several workers share the accounts between them. The servers are changed through
the server driver after the commit (``services.pending_actions``); the announcements go to the
alerts outbox in the same transaction, under keys that make each one once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Integer, String, and_, cast, exists, func, literal, select, update

from services import audit, clock, invoices, pending_actions
from services.alerts import outbox
from storage.models import ChatIdentity, Customer, Invoice, Order, OrderChange, Server
from storage.uow import Database, UnitOfWork

BATCH = 200  # customers per transaction
KIND = "lifecycle"  # the alerts' kind: always sent, not one a customer turns off


class LifecycleRules(Protocol):
    """The settings the lifecycle follows (``bot.config.Settings`` has them)."""

    @property
    def lifecycle_suspend_days(self) -> int: ...
    @property
    def lifecycle_terminate_days(self) -> int: ...
    @property
    def lifecycle_suspend_notice_days(self) -> list[int]: ...
    @property
    def lifecycle_terminate_notice_days(self) -> list[int]: ...


@dataclass(frozen=True)
class Step:
    """One step: ``days`` after the due date, orders in a status of ``takes`` move to ``leaves``
    and their servers get the driver action ``name``; the customer is told ``notice_days`` before
    (an alert about ``name``) and once it is done (about ``leaves``). A ``final`` step ends the
    order: its servers go once for good, and its billing is closed."""

    name: str
    days: int
    notice_days: tuple[int, ...]
    takes: tuple[str, ...]
    leaves: str
    final: bool = False


def steps(rules: LifecycleRules) -> tuple[Step, Step]:
    """Suspension, then termination; ``ValueError`` when the settings put them the other way."""
    if not 0 <= rules.lifecycle_suspend_days <= rules.lifecycle_terminate_days:
        raise ValueError("LIFECYCLE_SUSPEND_DAYS must be between 0 and LIFECYCLE_TERMINATE_DAYS")
    suspend_notice, terminate_notice = (
        _rungs(rules.lifecycle_suspend_notice_days),
        _rungs(rules.lifecycle_terminate_notice_days),
    )
    return (
        Step("suspend", rules.lifecycle_suspend_days, suspend_notice, ("active",), "suspended"),
        Step(
            "terminate",
            rules.lifecycle_terminate_days,
            terminate_notice,
            ("active", "suspended"),
            "terminated",
            final=True,
        ),
    )


def _rungs(days: Sequence[int]) -> tuple[int, ...]:
    return tuple(sorted({d for d in days if d > 0}, reverse=True))


@dataclass(frozen=True)
class LifecycleRun:
    suspended: int
    terminated: int
    announced: int


async def run(db: Database, rules: LifecycleRules, batch: int = BATCH) -> LifecycleRun:
    """The worker's job: carry out every step that is due today, then announce the steps ahead.
    Running it again, or on several workers at once, changes and tells nothing twice."""
    today = clock.today()
    suspend, terminate = steps(rules)
    suspended = await _carry_out(db, suspend, today, batch)
    terminated = await _carry_out(db, terminate, today, batch)
    return LifecycleRun(suspended, terminated, await _announce(db, (suspend, terminate), today))


async def _carry_out(db: Database, step: Step, today: dt.date, batch: int) -> int:
    """Move every due order through ``step``, a batch of customers per transaction; how many moved."""
    due = (Order.status.in_(step.takes), Order.period_end <= today - dt.timedelta(days=step.days))
    total = 0
    while True:
        async with db.uow() as uow:
            customers = await _hold_customers(uow, select(Order.customer_id).where(*due), batch)
            if not customers:
                return total
            moved = (
                await uow.session.execute(
                    update(Order)
                    .where(*due, Order.customer_id.in_(customers))
                    .values(status=step.leaves)
                    .returning(Order.id, Order.customer_id, Order.period_end)
                    .execution_options(synchronize_session=False)
                )
            ).all()
            if not moved:  # another worker moved them since the customers were picked
                await uow.commit()
                return total
            ids = [order_id for order_id, _customer, _due in moved]
            # A server is suspended once per due date, terminated once for good.
            occasion = literal("") if step.final else ":" + cast(Order.period_end, String)
            await pending_actions.enqueue_selected(uow, _server_actions(step.name, ids, occasion))
            if step.final:
                await _close_billing(uow, ids)
            await outbox.add_selected(uow, _alerts(uow, step.leaves, Order.id.in_(ids)))
            await audit.record_all(
                uow,
                f"order.{step.leaves}",
                [
                    (customer, f"order:{order_id}", {"due": end.isoformat()})
                    for order_id, customer, end in moved
                ],
            )
            await uow.commit()
            total += len(moved)


async def _hold_customers(uow: UnitOfWork, customer_ids: Any, batch: int) -> list[int]:
    """Up to ``batch`` of these customers, their rows held until the commit (others' are skipped).
    SQLite has one writer: the step's first write holds the whole database instead."""
    pick = select(Customer.id).where(Customer.id.in_(customer_ids)).order_by(Customer.id).limit(batch)
    if uow.dialect == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    return list((await uow.session.scalars(pick)).all())


def _server_actions(kind: str, order_ids: Sequence[int], occasion: ColumnElement[str]) -> Any:
    """(key, customer id, kind, target) of one driver action per server of these orders, keyed per
    server and ``occasion`` (``:DUE``: each period suspends and unsuspends a server once)."""
    server = cast(Server.id, String)
    return (
        select(
            literal(f"{kind}:server:") + server + occasion,
            Server.customer_id,
            literal(kind),
            literal("server:") + server,
        )
        .join(Order, Order.id == Server.order_id)
        .where(Server.order_id.in_(order_ids), Server.customer_id == Order.customer_id)
    )


async def _close_billing(uow: UnitOfWork, order_ids: Sequence[int]) -> None:
    """A terminated order is owed nothing more and changes no more: its unpaid invoices are
    cancelled (a pay link stops working) and its pending plan changes dropped."""
    cancelled = (
        await uow.session.execute(
            update(Invoice)
            .where(Invoice.order_id.in_(order_ids), Invoice.status == "unpaid")
            .values(status="cancelled")
            .returning(Invoice.id, Invoice.customer_id, Invoice.order_id)
            .execution_options(synchronize_session=False)
        )
    ).all()
    await uow.session.execute(
        update(OrderChange)
        .where(OrderChange.order_id.in_(order_ids), OrderChange.status.not_in(("done", "cancelled")))
        .values(status="cancelled")
        .execution_options(synchronize_session=False)
    )
    await audit.record_all(
        uow,
        "invoice.cancelled",
        [
            (customer, f"invoice:{inv}", {"order": order, "reason": "terminated"})
            for inv, customer, order in cancelled
        ],
    )


def _alerts(uow: UnitOfWork, step: str, which: ColumnElement[bool], days: int | None = None) -> Any:
    """(key, customer id, kind, params) of one alert per order in ``which`` whose customer has a
    linked chat: ``lifecycle:STEP:ORDER:DUE`` (``:DAYS`` for an announcement ``days`` before)."""
    key = literal(f"lifecycle:{step}:") + cast(Order.id, String) + ":" + cast(Order.period_end, String)
    values: dict[str, Any] = {
        "step": cast(literal(step), String),
        "order": Order.id,
        "due": cast(Order.period_end, String),
    }
    if days is not None:
        key = key + f":{days}"
        values["days"] = cast(literal(days), Integer)
    linked = exists().where(ChatIdentity.customer_id == Order.customer_id)
    return select(key, Order.customer_id, literal(KIND), _json(uow, values)).where(which, linked)


def _json(uow: UnitOfWork, values: dict[str, Any]) -> ColumnElement[Any]:
    """A JSON object built by the database from these columns (the function's name differs)."""
    build = func.json_build_object if uow.dialect == "postgresql" else func.json_object
    args: list[Any] = []
    for name, value in values.items():
        args += [cast(literal(name), String), value]
    return build(*args)


async def _announce(db: Database, ordered: Sequence[Step], today: dt.date) -> int:
    """Tell each customer of each step ahead, on its rungs: the latest rung reached only (a worker
    that was down sends the nearest announcement, not every one it missed)."""
    added = 0
    async with db.uow() as uow:
        for step in ordered:
            for i, rung in enumerate(step.notice_days):
                nearer = step.notice_days[i + 1] if i + 1 < len(step.notice_days) else 0
                # The step comes ``rung`` days or fewer from today, and more than ``nearer``.
                window = (
                    Order.status.in_(step.takes),
                    Order.period_end > today - dt.timedelta(days=step.days - nearer),
                    Order.period_end <= today - dt.timedelta(days=step.days - rung),
                )
                new = await outbox.add_selected(uow, _alerts(uow, step.name, and_(*window), days=rung))
                await audit.record_all(
                    uow, "order.lifecycle_notice", [(c, f"alert:{a}", {"key": k}) for a, c, k in new]
                )
                added += len(new)
        await uow.commit()
    return added


async def resume(uow: UnitOfWork, order_id: int, customer_id: int, due: dt.date) -> None:
    """The renewal of a suspended order was paid, in the caller's transaction: its servers are
    unsuspended through the driver right after the commit. Does not commit."""
    await pending_actions.enqueue_selected(uow, _server_actions("unsuspend", [order_id], literal(f":{due}")))
    await audit.record_all(
        uow, "order.unsuspended", [(customer_id, f"order:{order_id}", {"due": due.isoformat()})]
    )


@dataclass(frozen=True)
class Standing:
    """An order as its lifecycle alerts describe it: the open invoice that renews it (None: none
    yet), and the days it is (or was) suspended and terminated on, counted from its due date."""

    order: Order
    invoice: Invoice | None
    suspend_on: dt.date
    terminate_on: dt.date


async def standing(
    uow: UnitOfWork, customer: Customer, order_id: int, step: str, due: str, rules: LifecycleRules
) -> Standing | None:
    """The customer's order as it stands now, if an alert about ``step`` (a step's name: it is
    ahead; the status it leaves: it happened) for the due date ``due`` still describes it; else
    None (paid, moved on, gone, or someone else's)."""
    order = await uow.session.get(Order, order_id)
    if order is None or order.customer_id != customer.id or order.period_end.isoformat() != due:
        return None
    suspend, terminate = steps(rules)
    statuses = {s.name: s.takes for s in (suspend, terminate)} | {
        s.leaves: (s.leaves,) for s in (suspend, terminate)
    }
    if order.status not in statuses.get(step, ()):
        return None
    renewal = await invoices.renewal(uow, "order_renewal", order.id, order.period_end)
    return Standing(
        order,
        renewal if renewal is not None and renewal.status == "unpaid" else None,
        order.period_end + dt.timedelta(days=suspend.days),
        order.period_end + dt.timedelta(days=terminate.days),
    )
