"""The lifecycle of unpaid orders decided one order at a time, in Python, from the rules as
``services.service_lifecycle`` states them: what its set-based statements must reproduce (the
orders' statuses, the server actions, the cancelled invoices and changes, the alerts' keys)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from services.service_lifecycle import LifecycleRules, steps


@dataclass
class OrderRow:
    id: int
    customer_id: int
    status: str
    period_end: dt.date
    servers: list[int]
    unpaid: list[int]
    changes: list[int]


@dataclass
class Outcome:
    statuses: dict[int, str] = field(default_factory=dict)
    actions: set[str] = field(default_factory=set)
    alerts: set[str] = field(default_factory=set)
    cancelled_invoices: set[int] = field(default_factory=set)
    cancelled_changes: set[int] = field(default_factory=set)
    moved: dict[str, int] = field(default_factory=dict)  # orders moved, by the status they took


def run(orders: list[OrderRow], linked: set[int], rules: LifecycleRules, today: dt.date) -> Outcome:
    out = Outcome(statuses={o.id: o.status for o in orders})
    ordered = steps(rules)
    for step in ordered:
        for order in orders:
            due = out.statuses[order.id] in step.takes and order.period_end <= today - dt.timedelta(
                days=step.days
            )
            if not due:
                continue
            out.statuses[order.id] = step.leaves
            out.moved[step.leaves] = out.moved.get(step.leaves, 0) + 1
            occasion = "" if step.final else f":{order.period_end}"
            out.actions |= {f"{step.name}:server:{s}{occasion}" for s in order.servers}
            if step.final:
                out.cancelled_invoices |= set(order.unpaid)
                out.cancelled_changes |= set(order.changes)
            if order.customer_id in linked:
                out.alerts.add(f"lifecycle:{step.leaves}:{order.id}:{order.period_end}")
    for step in ordered:
        for i, rung in enumerate(step.notice_days):
            nearer = step.notice_days[i + 1] if i + 1 < len(step.notice_days) else 0
            for order in orders:
                ahead = (today - order.period_end).days  # days since the due date
                if (
                    out.statuses[order.id] in step.takes
                    and step.days - rung <= ahead < step.days - nearer
                    and order.customer_id in linked
                ):
                    out.alerts.add(f"lifecycle:{step.name}:{order.id}:{order.period_end}:{rung}")
                    out.moved["announced"] = out.moved.get("announced", 0) + 1
    return out
