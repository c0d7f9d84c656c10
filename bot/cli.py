"""The ``hostbot`` command: shell, run, worker, migrate, link-code, meter, alerts, mail, actions,
payments, traffic, admin tokens, import and export."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import or_, select

from bot.config import Settings, get_settings
from bot.core import logs
from services.backoffice.scopes import SCOPES
from services.errors import NotFound
from services.ids import parse_id
from storage.db import open_database
from storage.models import Customer
from storage.uow import Database

if TYPE_CHECKING:
    from bot.bootstrap import App
    from bot.lifecycle import Stop
    from services import bank_transfers
    from services.invoices import Seller

log = logging.getLogger("hostbot")
# A subcommand imports what only it uses: the composition root (bot.bootstrap: the chat's
# dispatcher, every handler, the drivers) only for a command that chats, serves or runs the jobs,
# the web app, the platforms' libraries, the alerts and mail senders, the back office's documents
# only where they are used. A command that only reads and writes records opens the database alone
# (``open_database``): a one-shot command starts in a fraction of the time.


async def find_customer(db: Database, ref: str | None) -> Customer:
    """A customer by id, external id, e-mail or part of the name; the first one when ``ref`` is None."""
    async with db.uow() as uow:
        query = select(Customer).order_by(Customer.id)
        if ref is not None:
            conditions = [Customer.email == ref, Customer.external_id == ref, Customer.name.ilike(f"%{ref}%")]
            if (customer_id := parse_id(ref)) is not None:
                conditions.append(Customer.id == customer_id)
            query = query.where(or_(*conditions))
        found = await uow.session.scalar(query.limit(1))
    if found is None:
        raise NotFound()
    return found


async def cmd_shell(settings: Settings, args: argparse.Namespace) -> int:
    """Ctrl-D (end of input) and Ctrl-C leave quietly, with status 0. Mail written meanwhile is
    sent as soon as it is committed (what is still due at the end is left to the worker)."""
    from bot import bootstrap
    from bot.adapters.shell import link_local_user
    from bot.core.i18n import choose, normalize, use_locale
    from bot.core.i18n import gettext as _
    from bot.lifecycle import Stop
    from bot.mail import sender as mail_sender

    stop = Stop().install()
    app = await bootstrap.open_app(settings, seed_demo=not args.no_demo)
    sending = Stop()
    mail = asyncio.create_task(
        mail_sender.run_forever(
            bootstrap.mail_sender(app), app.mail_wake, sending, settings.mail_interval_seconds
        )
    )
    try:
        lang = normalize(args.lang) or normalize(os.environ.get("LANG"))
        if args.unlinked:
            user = "local-unlinked"
            with use_locale(lang or settings.default_language):
                greeting = _("hostbot. Type link to link this terminal to an account.")
        else:
            try:
                customer = await find_customer(app.db, args.customer)
            except NotFound:
                with use_locale(lang or "en"):
                    print(await _no_customer(app.db, args.customer), file=sys.stderr)
                return 2
            user = f"local-{customer.id}"
            await link_local_user(app.dispatcher, user, customer.id)
            with use_locale(choose(None, customer.language, lang, settings.default_language)):
                greeting = _("hostbot — {name}. Type help; Ctrl-D to quit.").format(name=customer.name)
        if sys.stdin.isatty():
            print(greeting + "\n")
        await bootstrap.shell(app, user, lang).run(stop=stop)
        return 0
    finally:
        sending.set()
        await mail
        await app.close()


async def _no_customer(db: Database, ref: str | None) -> str:
    """Why the shell cannot start: no customer matches, or there is none yet (then how to make one)."""
    from bot.core.i18n import gettext as _

    async with db.uow() as uow:
        empty = await uow.session.scalar(select(Customer.id).limit(1)) is None
    if not empty:
        return _("No customer matches {ref}.").format(ref=ref)
    return _(
        "There is no customer yet. Import yours from a file (see examples/import.json):\n"
        "  hostbot import customers.json\n"
        "or create the first one through the admin API (see /admin/api/v1/openapi.json):\n"
        "  hostbot admin token create setup --scope write\n"
        "  POST /admin/api/v1/customers\n"
        "or try the bot on demo data: hostbot shell (without --no-demo)."
    )


async def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    """Serve until SIGTERM/SIGINT; then hand back the alerts in hand, stop listening, finish the
    requests in flight and stop the platforms (``stop_grace_seconds`` each at most), exit 0."""
    from aiohttp import web

    from bot import bootstrap
    from bot.alerts import worker as alerts_worker
    from bot.lifecycle import Stop, started
    from bot.mail import sender as mail_sender

    stop = Stop().install()
    app = await bootstrap.open_app(settings)
    web_app = bootstrap.web_app(app)
    runner = web.AppRunner(web_app, shutdown_timeout=settings.stop_grace_seconds)
    try:
        await runner.setup()
        site = web.TCPSite(runner, host="0.0.0.0", port=settings.port)
        await site.start()
        started()
        log.info("listening on :%s", settings.port)
        work = [
            mail_sender.run_forever(
                bootstrap.mail_sender(app), app.mail_wake, stop, settings.mail_interval_seconds
            )
        ]
        if settings.alerts_in_run:
            # Alerts go through the adapters serving the chats, so they share their pacing windows.
            alerts = bootstrap.alert_sender(app, bootstrap.served_senders(app, web_app))
            work.append(
                alerts_worker.run_forever(
                    app.db, settings, app.seller, alerts, wake=app.notifier.wake, stop=stop
                )
            )
        await asyncio.gather(*work)
    finally:
        await runner.cleanup()
        await app.close()
    log.info("hostbot run stopped (%s)", stop.signal)
    return 0


async def record_hour(db: Database) -> int:
    from services import metering

    async with db.uow() as uow:
        return await metering.snapshot(uow)


async def close_months(db: Database, seller: Seller) -> int:
    """Create the usage invoice of every customer whose month has ended, a batch at a time."""
    from services import month_close

    return await month_close.run(db, seller)


async def hourly(app: App) -> None:
    """The hourly jobs: record metered resources, close ended months, billing, clean-up."""
    from services import attachments, housekeeping, plans, renewals, service_lifecycle, traffic

    log.info("metering recorded %d resources", await record_hour(app.db))
    log.info("metering created %d usage invoices", await close_months(app.db, app.seller))
    # Scheduled plan changes first, so that a renewal on the same day uses the new plan.
    async with app.db.uow() as uow:
        changed = await plans.apply_due(uow, app.seller)
        run = await renewals.run_due(uow, app.seller)
    log.info(
        "billing: %d scheduled changes applied, %d orders auto-renewed, %d short of balance",
        changed,
        len(run.renewed),
        len(run.short),
    )
    # After the renewals, so that an order renewed this hour is not suspended.
    steps = await service_lifecycle.run(app.db, app.settings)
    log.info(
        "lifecycle: %d orders suspended, %d terminated, %d steps announced",
        steps.suspended,
        steps.terminated,
        steps.announced,
    )
    log.info("actions: %d carried out or tried", await app.actions.run_due())
    async with app.db.uow() as uow:
        removed = await housekeeping.purge(uow)
    log.info("housekeeping removed %d expired rows", removed)
    async with app.db.uow() as uow:
        swept = await attachments.sweep(uow, app.dispatcher.drivers.files)
    log.info("attachments: %d files of tickets that never committed removed", swept)
    async with app.db.uow() as uow:
        merged = await traffic.downsample(uow)
    log.info("traffic: %d rows merged into longer intervals or expired", merged)


async def record_traffic(app: App) -> None:
    from services import traffic

    async with app.db.uow() as uow:
        written = await traffic.record(uow, app.dispatcher.drivers.servers)
    log.info("traffic: %d intervals recorded from the server driver", written)


async def _traffic_forever(app: App, stop: Stop) -> None:
    """Every ``traffic_interval_seconds``: the driver keeps its samples for a while (Proxmox VE an
    hour at one a minute), so a pass that is late loses nothing."""
    while not stop.is_set():
        await record_traffic(app)
        await stop.first(asyncio.sleep(app.settings.traffic_interval_seconds))


async def _hourly_forever(app: App, stop: Stop) -> None:
    """Just after each hour starts, so that every hour is metered once; a pass that has begun
    is finished before stopping (each step is its own transaction)."""
    from services import clock
    from services.hourly_billing import HOUR, hour_start

    while not stop.is_set():
        await hourly(app)
        now = clock.now()
        await stop.first(asyncio.sleep((hour_start(now) + HOUR - now).total_seconds() + 1))


async def _actions_forever(app: App, stop: Stop) -> None:
    """Every ``actions_interval_seconds``: the pending actions a process left (it crashed, or the
    outside system failed and the backoff is over). A pass that has begun is finished."""
    while not stop.is_set():
        try:
            await app.actions.run_due()
        except Exception:
            log.exception("pending actions pass failed")
        await stop.first(asyncio.sleep(app.settings.actions_interval_seconds))


async def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    """The hourly jobs, traffic every ``TRAFFIC_INTERVAL_SECONDS``, alerts every
    ``ALERTS_INTERVAL_SECONDS`` and mail every ``MAIL_INTERVAL_SECONDS``; ``--once``: one pass of
    each. On SIGTERM/SIGINT: finish the hourly pass and the mail in hand, hand back the alerts and
    mails in hand, exit 0."""
    from bot import bootstrap
    from bot.alerts import worker as alerts_worker
    from bot.lifecycle import Stop
    from bot.mail import sender as mail_sender

    stop = Stop().install()
    app = await bootstrap.open_app(settings)
    seller = app.seller
    try:
        async with bootstrap.connected_senders(app) as senders:
            alerts = bootstrap.alert_sender(app, senders)
            mail = bootstrap.mail_sender(app)
            if args.once:
                await hourly(app)
                if not stop.is_set():
                    await record_traffic(app)
                if not stop.is_set():
                    await alerts_worker.run_once(app.db, settings, seller, alerts, stop)
                if not stop.is_set():
                    log.info("mail: %d handled", await mail.run_pass(stop))
            else:
                await asyncio.gather(
                    _hourly_forever(app, stop),
                    _actions_forever(app, stop),
                    _traffic_forever(app, stop),
                    alerts_worker.run_forever(app.db, settings, seller, alerts, stop=stop),
                    mail_sender.run_forever(mail, app.mail_wake, stop, settings.mail_interval_seconds),
                )
    finally:
        await app.close()
    if stop.is_set():
        log.info("hostbot worker stopped (%s)", stop.signal)
    return 0


async def cmd_meter(settings: Settings, args: argparse.Namespace) -> int:
    from bot import records_parts

    db = await open_database(settings.database_url)
    try:
        if args.action == "snapshot":
            print(f"recorded {await record_hour(db)} metered resources for this hour")
        else:
            print(f"created {await close_months(db, records_parts.seller(settings))} usage invoices")
        return 0
    finally:
        await db.close()


async def cmd_alerts_status(settings: Settings, args: argparse.Namespace) -> int:
    """Counts per state, what is waiting (next due first), then the dead letters with their last
    error: what an operator acts on (``hostbot alerts requeue``)."""
    from services.alerts import outbox

    db = await open_database(settings.database_url)
    try:
        async with db.uow() as uow:
            counts = await outbox.counts(uow)
            waiting = await outbox.waiting(uow)
            dead = await outbox.dead_letters(uow)
        print("  ".join(f"{state}: {n}" for state, n in counts.items()))
        if waiting:
            print("waiting:")
        for alert in waiting:
            error = f": {alert.last_error}" if alert.last_error else ""
            print(
                f"  #{alert.id} {alert.key} ({alert.kind}, customer {alert.customer_id}, {alert.state}, "
                f"due {alert.not_before:%Y-%m-%d %H:%M:%S} UTC, {alert.attempts} attempts){error}"
            )
        if dead:
            print("dead letters:")
        for alert in dead:
            print(
                f"  #{alert.id} {alert.key} (customer {alert.customer_id}, {alert.attempts} attempts): {alert.last_error}"
            )
        return 0
    finally:
        await db.close()


async def cmd_actions(settings: Settings, args: argparse.Namespace) -> int:
    """``status``: counts per state, then the actions that failed (for good, or waiting for their
    next attempt) with their last error; ``retry ID``: a failed action back in the queue."""
    from services import pending_actions

    db = await open_database(settings.database_url)
    try:
        async with db.uow() as uow:
            if args.actions_command == "retry":
                if not await pending_actions.retry(uow, args.id):
                    print(f"no failed action #{args.id}", file=sys.stderr)
                    return 2
                print(f"action #{args.id} is due again")
                return 0
            counts = await pending_actions.counts(uow)
            troubled = await pending_actions.troubled(uow)
        print("  ".join(f"{state}: {n}" for state, n in counts.items()))
        for action in troubled:
            print(
                f"  #{action.id} {action.state} {action.kind} {action.target} (customer {action.customer_id},"
                f" {action.attempts} attempts): {action.last_error}"
            )
        return 0
    finally:
        await db.close()


async def cmd_alerts_requeue(settings: Settings, args: argparse.Namespace) -> int:
    """Dead letters back to pending (all, or those named), sent by the next worker round."""
    from services.alerts import outbox

    if not args.all and not args.ids:
        print("name the dead letters to requeue (their #ids), or --all", file=sys.stderr)
        return 2
    db = await open_database(settings.database_url)
    try:
        async with db.uow() as uow:
            requeued = await outbox.requeue(uow, None if args.all else args.ids)
        print(
            f"requeued {len(requeued)} dead letters"
            + (f": {', '.join(f'#{i}' for i in requeued)}" if requeued else "")
        )
        return 0
    finally:
        await db.close()


def _transfer_line(outcome: bank_transfers.Outcome) -> str:
    from bot.core import formatting

    t = outcome.transfer
    amount = formatting.amount(t.amount.minor, t.amount.currency)
    booked = f" {t.booked_on:%Y-%m-%d}" if t.booked_on else ""
    return f"{t.bank_ref}{booked} {amount} from {t.payer or '?'} ({t.reference or 'no reference'})"


async def cmd_payments_import(settings: Settings, args: argparse.Namespace) -> int:
    """Apply a camt.053 statement's credits, each once; list what was paid, credited, already
    applied, and what could not be matched (nothing changed for those)."""
    from bot import records_parts
    from bot.core.i18n import use_locale
    from services import bank_statements, bank_transfers

    try:
        statement = bank_statements.parse(await asyncio.to_thread(Path(args.statement).read_bytes))
    except OSError as err:
        print(f"cannot read {args.statement}: {err.strerror}", file=sys.stderr)
        return 2
    except bank_statements.StatementError as err:
        print(f"{args.statement}: {err}", file=sys.stderr)
        return 2
    ours = settings.bank_iban.replace(" ", "").upper()
    if statement.account.replace(" ", "").upper() != ours:
        print(
            f"{args.statement} is a statement of {statement.account}, not of BANK_IBAN {ours}",
            file=sys.stderr,
        )
        return 2
    db, notifier = await open_database(settings.database_url), records_parts.outbox_notifier(settings)
    try:
        outcomes = []
        for transfer in statement.transfers:
            async with db.uow() as uow:
                outcomes.append(await bank_transfers.record(uow, transfer, notifier, settings.bank_reference))
    finally:
        await db.close()
    with use_locale("en"):
        for outcome in outcomes:
            if outcome.status == "paid":
                print(f"paid      {outcome.invoice}: {_transfer_line(outcome)}")
            elif outcome.status == "credited":
                print(
                    f"credited  to customer {outcome.customer_id}'s balance ({outcome.invoice}: {outcome.reason}): "
                    f"{_transfer_line(outcome)}"
                )
            elif outcome.status == "duplicate":
                print(f"already   applied before: {_transfer_line(outcome)}")
        unmatched = [o for o in outcomes if o.status == "unmatched"]
        if unmatched:
            print(f"not matched ({len(unmatched)}), nothing changed:")
        for outcome in unmatched:
            print(f"  {_transfer_line(outcome)}: {outcome.reason}")
    if statement.skipped:
        print(f"skipped ({len(statement.skipped)}):")
    for skipped in statement.skipped:
        print(f"  {skipped.ref}: {skipped.reason}")
    return 0


async def cmd_mail_status(settings: Settings, args: argparse.Namespace) -> int:
    """Counts per state, then the dead letters with their last error (what an operator acts on)."""
    from services import mail_outbox

    db = await open_database(settings.database_url)
    try:
        async with db.uow() as uow:
            counts = await mail_outbox.counts(uow)
            dead = await mail_outbox.dead_letters(uow)
        print("  ".join(f"{state}: {n}" for state, n in counts.items()))
        if dead:
            print("dead letters (hostbot mail requeue ID... sends them again):")
        for mail in dead:
            print(
                f"  #{mail.id} {mail.kind} to {mail.to_addr} (customer {mail.customer_id}, "
                f"{mail.attempts} attempts): {mail.last_error}"
            )
        return 0
    finally:
        await db.close()


async def cmd_mail_requeue(settings: Settings, args: argparse.Namespace) -> int:
    """Dead letters back to pending (those named, or all with ``--all``), due at once."""
    from services import mail_outbox

    if not args.ids and not args.all:
        print(
            "name the dead letters to send again (hostbot mail status lists them), or --all", file=sys.stderr
        )
        return 2
    db = await open_database(settings.database_url)
    try:
        async with db.uow() as uow:
            count = await mail_outbox.requeue(uow, None if args.all else args.ids)
        print(f"{count} mails are pending again; the worker sends them on its next round")
        return 0
    finally:
        await db.close()


async def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    from bot import bootstrap

    app = await bootstrap.open_app(settings, seed_demo=args.demo)
    await app.close()
    print("database is up to date")
    return 0


async def cmd_traffic_import(settings: Settings, args: argparse.Namespace) -> int:
    """Exit status 1 when a line was refused (the good ones are stored all the same)."""
    from services import traffic_import

    try:
        text = await asyncio.to_thread(Path(args.file).read_text, encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        print(f"cannot read {args.file}: {err}", file=sys.stderr)
        return 2
    db = await open_database(settings.database_url)
    try:
        async with db.uow() as uow:
            report = await traffic_import.import_lines(uow, text.splitlines())
    finally:
        await db.close()
    print(f"{args.file}: samples stored: {report.stored}, intervals written: {report.buckets}")
    if report.refused:
        print(f"lines refused: {len(report.refused)}", file=sys.stderr)
        for number, reason in report.refused:
            print(f"  line {number}: {reason}", file=sys.stderr)
        return 1
    return 0


def link_instruction(settings: Settings, platform: str, code: str) -> str:
    """What the person sends, in the words of their platform (the operator passes it on)."""
    if platform == "slack":
        return f"In Slack, send: {settings.slack_command} start {code} (or start {code} in a direct message to the app)"
    if platform == "shell":
        return f"In the shell, type: start {code}"
    return f"In Telegram, send the bot: /start {code}"


async def cmd_link_code(settings: Settings, args: argparse.Namespace) -> int:
    from services import linking

    db = await open_database(settings.database_url)
    try:
        try:
            customer = await find_customer(db, args.customer)
        except NotFound:
            print(f"no customer matches {args.customer!r}", file=sys.stderr)
            return 2
        async with db.uow() as uow:
            code = await linking.issue_code(uow, customer.id, args.platform, args.role)
        print(f"Link code for {customer.name} on {args.platform} (single use, 15 minutes): {code}")
        print(link_instruction(settings, args.platform, code))
        if args.platform == "telegram" and (settings.telegram_bot_username or settings.telegram_bot_token):
            from telegram.error import TelegramError

            from bot.adapters import telegram

            try:
                username = await telegram.bot_username(settings)
            except TelegramError as err:
                print(f"(no t.me link: the Bot API did not answer getMe: {err})", file=sys.stderr)
            else:
                print(f"Or open: {telegram.deep_link(username, code)}")
        return 0
    finally:
        await db.close()


async def cmd_token(settings: Settings, args: argparse.Namespace) -> int:
    """Admin API tokens: the secret is printed once, at creation; only its hash is kept."""
    from services.backoffice import tokens
    from services.backoffice.common import Conflict, Missing

    db = await open_database(settings.database_url)
    try:
        async with db.uow() as uow:
            if args.token_command == "create":
                secret, token = await tokens.create(uow, args.name, args.scope or ["read"])
                print(f"token {token.name} ({', '.join(token.scopes)}): {secret}")
                print("It is shown this once. Send it as: Authorization: Bearer <token>")
            elif args.token_command == "revoke":
                token = await tokens.revoke(uow, args.name)
                print(f"token {token.name} is revoked")
            else:
                for token in await tokens.listing(uow):
                    state = f"revoked {token.revoked_at:%Y-%m-%d %H:%M}" if token.revoked_at else "active"
                    print(
                        f"{token.name}  {','.join(token.scopes)}  created {token.created_at:%Y-%m-%d %H:%M}  {state}"
                    )
        return 0
    except (Conflict, Missing) as err:
        print(err.detail, file=sys.stderr)
        return 2
    finally:
        await db.close()


def token_name(text: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", text):
        raise argparse.ArgumentTypeError("letters, digits, dot, dash and underscore; at most 64")
    return text


def _read(path: str) -> str:
    return Path(path).read_text(encoding="utf-8")


async def cmd_import(settings: Settings, args: argparse.Namespace) -> int:
    """Apply a file all or nothing and say what became of each record (exit 1: nothing written)."""
    from pydantic import ValidationError

    from services.backoffice import bundle

    if args.schema:
        print(json.dumps(bundle.Bundle.model_json_schema(by_alias=True), indent=2, ensure_ascii=False))
        return 0
    if args.file is None:
        print("give the file to import (or --schema)", file=sys.stderr)
        return 2
    try:
        text = sys.stdin.read() if args.file == "-" else await asyncio.to_thread(_read, args.file)
        found = bundle.Bundle.model_validate_json(text)
    except OSError as err:
        print(f"cannot read {args.file}: {err.strerror}", file=sys.stderr)
        return 2
    except ValidationError as err:
        for e in err.errors(include_url=False):
            print(f"refused {'.'.join(str(p) for p in e['loc']) or '(file)'}: {e['msg']}")
        print("Nothing was imported: the file does not follow the schema (hostbot import --schema).")
        return 1
    db = await open_database(settings.database_url)
    try:
        async with db.uow() as uow:
            report = await bundle.apply(uow, found, commit=not args.dry_run)
    finally:
        await db.close()
    for line in report.lines:
        print(f"{line.status:<9} {line.section} {line.name}" + (f": {line.why}" if line.why else ""))
    counts = ", ".join(f"{s} {report.count(s)}" for s in ("created", "updated", "unchanged", "refused"))
    if report.refused:
        print(f"{counts}. Nothing was imported: a file is applied all or nothing.")
        return 1
    print(f"{counts}." + (" Dry run: nothing was written." if args.dry_run else ""))
    return 0


async def cmd_export(settings: Settings, args: argparse.Namespace) -> int:
    """Every customer, the catalogue, orders, servers, domains, resources and adjustments, in the
    import file's shape."""
    from services.backoffice import bundle

    db = await open_database(settings.database_url)
    try:
        async with db.uow() as uow:
            document = await bundle.export(uow)
    finally:
        await db.close()
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if args.file in (None, "-"):
        sys.stdout.write(text)
    else:
        await asyncio.to_thread(Path(args.file).write_text, text, encoding="utf-8")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hostbot", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    shell = sub.add_parser("shell", help="chat with the bot in the terminal")
    shell.add_argument("--lang", help="your language: en, fr, id or tr")
    shell.add_argument("--customer", help="talk as this customer (id, external id, e-mail or name)")
    shell.add_argument("--no-demo", action="store_true", help="do not create demo data in an empty database")
    shell.add_argument(
        "--unlinked",
        action="store_true",
        help="be a chat user no account knows yet (to try link); once linked, it stays linked",
    )
    shell.set_defaults(func=cmd_shell)
    run = sub.add_parser("run", help="serve the web app (health check, webhooks) on $PORT")
    run.set_defaults(func=cmd_run)
    worker = sub.add_parser("worker", help="run the background jobs")
    worker.add_argument("--once", action="store_true", help="one pass, then exit")
    worker.set_defaults(func=cmd_worker)
    migrate = sub.add_parser("migrate", help="create or upgrade the database schema")
    migrate.add_argument("--demo", action="store_true", help="also create demo data in an empty database")
    migrate.set_defaults(func=cmd_migrate)
    link = sub.add_parser("link-code", help="one-time code that links a chat user to a customer")
    link.add_argument("customer", help="customer id, external id, e-mail or name")
    link.add_argument("--platform", default="telegram", choices=["telegram", "slack", "shell"])
    link.add_argument("--role", default="owner", choices=["owner", "admin", "member"])
    link.set_defaults(func=cmd_link_code)
    meter = sub.add_parser("meter", help="pay-as-you-use metering (the worker does both every hour)")
    meter.add_argument(
        "action",
        choices=["snapshot", "invoice"],
        help="snapshot: record this hour's state; invoice: create the usage invoices of ended months",
    )
    meter.set_defaults(func=cmd_meter)

    traffic_cmd = sub.add_parser("traffic", help="servers' traffic samples")
    traffic_sub = traffic_cmd.add_subparsers(dest="traffic_command", required=True)
    traffic_in = traffic_sub.add_parser(
        "import",
        help="store samples from a CSV file: server (number or hostname), timestamp (ISO 8601 with its"
        " offset, or Unix seconds), seconds, bytes_in, bytes_out; importing a file again changes nothing",
    )
    traffic_in.add_argument("file", help="the CSV file (a first line naming the columns is skipped)")
    traffic_in.set_defaults(func=cmd_traffic_import)

    alerts = sub.add_parser("alerts", help="the proactive alerts outbox")
    alerts_sub = alerts.add_subparsers(dest="alerts_command", required=True)
    status = alerts_sub.add_parser("status", help="alerts per state, what is waiting, and the dead letters")
    status.set_defaults(func=cmd_alerts_status)

    actions = sub.add_parser(
        "actions", help="calls to servers and the registrar decided by payments and the lifecycle"
    )
    actions_sub = actions.add_subparsers(dest="actions_command", required=True)
    actions_sub.add_parser("status", help="actions per state, and those that failed").set_defaults(
        func=cmd_actions
    )
    retry = actions_sub.add_parser("retry", help="put a failed action back in the queue")
    retry.add_argument("id", type=int)
    retry.set_defaults(func=cmd_actions)
    requeue = alerts_sub.add_parser(
        "requeue", help="send dead letters again (with a fresh count of attempts)"
    )
    requeue.add_argument("ids", nargs="*", type=int, help="the dead letters' ids (#N in alerts status)")
    requeue.add_argument("--all", action="store_true", help="every dead letter")
    requeue.set_defaults(func=cmd_alerts_requeue)

    payments = sub.add_parser("payments", help="payments received outside the chat")
    payments_sub = payments.add_subparsers(dest="payments_command", required=True)
    statement = payments_sub.add_parser(
        "import", help="apply the credits of a bank statement (ISO 20022 camt.053), each once"
    )
    statement.add_argument("statement", help="the camt.053 XML file")
    statement.set_defaults(func=cmd_payments_import)
    admin = sub.add_parser("admin", help="the admin API")
    admin_sub = admin.add_subparsers(dest="admin_command", required=True)
    token = admin_sub.add_parser("token", help="bearer tokens of the admin API")
    token_sub = token.add_subparsers(dest="token_command", required=True)
    create = token_sub.add_parser("create", help="a new token, printed once")
    create.add_argument("name", type=token_name, help="who or what uses it (e.g. whmcs-sync)")
    create.add_argument(
        "--scope",
        action="append",
        choices=SCOPES,
        help="read (default), write, money; repeat for several",
    )
    revoke = token_sub.add_parser("revoke", help="refuse a token from now on")
    revoke.add_argument("name", type=token_name)
    token_sub.add_parser("list", help="every token, its scopes and state")
    token.set_defaults(func=cmd_token)

    imports = sub.add_parser("import", help="create or update records from a JSON file, all or nothing")
    imports.add_argument("file", nargs="?", help="the file (- for standard input); see examples/import.json")
    imports.add_argument("--dry-run", action="store_true", help="report what would change, write nothing")
    imports.add_argument("--schema", action="store_true", help="print the file's JSON schema")
    imports.set_defaults(func=cmd_import)
    export = sub.add_parser("export", help="write every record as an import file")
    export.add_argument("file", nargs="?", help="where to write (default: standard output)")
    export.set_defaults(func=cmd_export)

    mail = sub.add_parser("mail", help="the mail outbox")
    mail_sub = mail.add_subparsers(dest="mail_command", required=True)
    mail_status = mail_sub.add_parser("status", help="mails per state, and the dead letters")
    mail_status.set_defaults(func=cmd_mail_status)
    mail_requeue = mail_sub.add_parser("requeue", help="send dead letters again")
    mail_requeue.add_argument("ids", nargs="*", type=int, help="the dead letters' numbers")
    mail_requeue.add_argument("--all", action="store_true", help="every dead letter")
    mail_requeue.set_defaults(func=cmd_mail_requeue)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    settings = get_settings()
    logs.setup(settings, "WARNING" if args.command in ("shell", "import", "export", "admin") else "INFO")
    code: int = asyncio.run(args.func(settings, args))
    return code


if __name__ == "__main__":
    sys.exit(main())
