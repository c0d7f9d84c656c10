"""Generated data for the jobs at any size, written by set-based SQL (a few ``INSERT ... SELECT``
over a series of numbers), the same on SQLite and PostgreSQL: the comparison tests and
``bench.jobs`` use it. Every row is a function of its customer's number ``i``, so two runs of one
size hold the same data.

Per customer: an order (a third of them auto-renew; about 2 % of periods end within the last
days, so ~0.7 % of customers have an auto-renewal due), a balance from one or two ledger entries,
a linked chat for nine in ten; and for some a domain, an overdue invoice, an unread support reply,
a shared chat, alert preferences (muted kinds, a low-balance threshold) or a billing notice.
"""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.models import UTCDateTime

# Every table written here, children first (``clear`` deletes in this order).
TABLES = (
    "alert_deliveries",
    "channel_alert_deliveries",
    "alerts",
    "billing_notices",
    "audit_log",
    "ticket_messages",
    "tickets",
    "payments",
    "pay_tokens",
    "pending_actions",
    "invoice_lines",
    "ledger_entries",
    "invoices",
    "invoice_series",
    "order_addons",
    "orders",
    "domains",
    "alert_settings",
    "channel_bindings",
    "chat_identities",
    "customers",
    "plans",
)
SERIAL = (
    "customers",
    "orders",
    "domains",
    "ledger_entries",
    "invoices",
    "tickets",
    "ticket_messages",
    "billing_notices",
    "chat_identities",
    "channel_bindings",
    "plans",
)


def _numbers(dialect: str) -> str:
    """A ``FROM`` clause giving ``n.i`` from 1 to ``:n``."""
    if dialect == "postgresql":
        return "generate_series(1, CAST(:n AS bigint)) AS n(i)"
    return (
        "(WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < :n) SELECT i FROM s) AS n"
    )


def _day(dialect: str, offset: str) -> str:
    """``:today`` plus ``offset`` (an SQL integer expression) days."""
    if dialect == "postgresql":
        return f"(CAST(:today AS date) + CAST({offset} AS integer))"
    return f"date(:today, printf('%+d days', {offset}))"


def _json(dialect: str, param: str) -> str:
    return f"CAST({param} AS json)" if dialect == "postgresql" else param


async def clear(conn: AsyncConnection) -> None:
    """Delete every row the generator and the jobs write (children first)."""
    for table in TABLES:
        await conn.execute(text(f"DELETE FROM {table}"))


async def generate(conn: AsyncConnection, customers: int, today: dt.date, now: dt.datetime) -> None:
    """``customers`` customers and their records as of ``today``; ids are 1 .. N per table."""
    d = conn.dialect.name
    nums = _numbers(d)
    p = {"n": customers, "today": today if d == "postgresql" else today.isoformat(), "now": now}
    bal = "(CASE WHEN i % 5 = 0 THEN 0 ELSE (i * 37) % 5000 END - CASE WHEN i % 4 = 0 THEN 700 ELSE 0 END)"
    statements = [
        """INSERT INTO plans (id, code, name, kind, currency, monthly_minor, yearly_minor, rank)
           VALUES (1, 'gen-s', 'Cloud S', 'vps', 'EUR', 1000, 10000, 1)""",
        f"""INSERT INTO customers (id, name, email, country, is_business, vat_id, language, currency,
               timezone, address_line, postal_code, city, overdraft_limit_minor, balance_minor, created_at)
           SELECT i, 'Customer ' || i, 'c' || i || '@example.com',
               CASE i % 4 WHEN 0 THEN 'NL' WHEN 1 THEN 'FR' WHEN 2 THEN 'ID' ELSE 'DE' END,
               (i % 6 = 1), CASE WHEN i % 6 = 1 THEN 'FR' || (10000000000 + i) END, NULL, 'EUR',
               CASE i % 3 WHEN 0 THEN 'UTC' WHEN 1 THEN 'Europe/Paris' ELSE 'Asia/Jakarta' END,
               '', '', '', 0, {bal}, :now
           FROM {nums}""",
        f"""INSERT INTO ledger_entries (id, customer_id, amount_minor, currency, kind, memo, created_at)
           SELECT i, i, (i * 37) % 5000, 'EUR', 'topup', '', :now FROM {nums} WHERE i % 5 <> 0""",
        f"""INSERT INTO ledger_entries (id, customer_id, amount_minor, currency, kind, memo, created_at)
           SELECT :n + i, i, -700, 'EUR', 'adjustment', '', :now FROM {nums} WHERE i % 4 = 0""",
        f"""INSERT INTO chat_identities (id, platform, workspace, user_id, customer_id, role, created_at)
           SELECT i, 'telegram', '', CAST(100000 + i AS varchar(20)), i, 'owner', :now
           FROM {nums} WHERE i % 10 <> 0""",
        f"""INSERT INTO channel_bindings (id, platform, workspace, chat_id, customer_id, created_at,
               alert_kinds)
           SELECT i, 'slack', 'T1', 'C' || i, i, :now, {_json(d, ":kinds")} FROM {nums} WHERE i % 50 = 0""",
        f"""INSERT INTO alert_settings (customer_id, muted, low_balance_minor)
           SELECT i, {_json(d, "CASE WHEN i % 14 = 0 THEN :muted ELSE :none END")},
               CASE WHEN i % 11 = 0 THEN 1500 END
           FROM {nums} WHERE i % 7 = 0 OR i % 11 = 0""",
        f"""INSERT INTO orders (id, customer_id, plan_id, billing_cycle, price_minor, currency,
               period_start, period_end, auto_renew, status, created_at)
           SELECT i, i, 1, 'monthly', 1000 + (i % 5) * 500, 'EUR',
               {_day(d, "(i * 7919) % 300 - 36")}, {_day(d, "(i * 7919) % 300 - 6")},
               (i % 3 = 0), CASE WHEN i % 13 = 0 THEN 'cancelled' ELSE 'active' END, :now
           FROM {nums}""",
        f"""INSERT INTO domains (id, customer_id, name, expires_on, renewal_minor, currency, auto_renew)
           SELECT i, i, 'c' || i || '.example', {_day(d, "((i / 4) * 7) % 120 - 4")}, 1200, 'EUR', (i % 8 = 0)
           FROM {nums} WHERE i % 4 = 0""",
        f"""INSERT INTO invoices (id, customer_id, kind, series, seq, number, status, currency, issue_date,
               supply_date, due_date, subtotal_minor, vat_rate, vat_minor, total_minor, reverse_charge,
               buyer, seller, created_at)
           SELECT i, i, 'invoice', 'GEN', i, 'GEN-' || i, 'unpaid', 'EUR', {_day(d, "-30")},
               {_day(d, "-30")}, {_day(d, "-(i % 12)")}, 1000, 0, 0, 1000, (1 = 0),
               {_json(d, ":none_obj")}, {_json(d, ":none_obj")}, :now
           FROM {nums} WHERE i % 9 = 0""",
        f"""INSERT INTO tickets (id, customer_id, department, importance, subject, status, created_at,
               updated_at)
           SELECT i, i, 'technical', 'normal', 'Help ' || i, 'open', :now, :now FROM {nums} WHERE i % 20 = 0""",
        f"""INSERT INTO ticket_messages (id, ticket_id, author, body, is_read, created_at)
           SELECT i, i, 'staff', 'Answer', (i % 40 = 0), :now FROM {nums} WHERE i % 20 = 0""",
        f"""INSERT INTO billing_notices (id, customer_id, kind, key, params, created_at)
           SELECT i, i, 'renewal_shortfall', 'gen-shortfall:' || i, {_json(d, ":notice")}, :now
           FROM {nums} WHERE i % 97 = 0""",
    ]
    p |= {
        "kinds": json.dumps(["renewal", "overdue"]),
        "muted": json.dumps(["ticket", "renewal"]),
        "none": "[]",
        "none_obj": "{}",
        "notice": json.dumps(
            {
                "item": "order",
                "ref_id": 0,
                "invoice_id": 0,
                "currency": "EUR",
                "total_minor": 0,
                "balance_minor": 0,
                "missing_minor": 0,
            }
        ),
    }
    for statement in statements:
        query = text(statement)
        if ":now" in statement:
            query = query.bindparams(bindparam("now", type_=UTCDateTime()))
        await conn.execute(query, {k: v for k, v in p.items() if f":{k}" in statement})
    if d == "postgresql":
        for table in SERIAL:
            await conn.execute(
                text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
            )
