"""The ``hostbot`` command: shell, run, worker, migrate, link-code, meter, alerts, mail."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys

from aiohttp import web
from sqlalchemy import or_, select
from telegram.error import TelegramError

from bot import bootstrap
from bot.adapters import telegram
from bot.adapters.shell import link_local_user
from bot.alerts import worker as alerts_worker
from bot.bootstrap import App, open_app
from bot.config import Settings, get_settings
from bot.core import logs
from bot.core.i18n import normalize
from bot.lifecycle import Stop
from bot.mail import sender as mail_sender
from services import clock, housekeeping, linking, mail_outbox, metering, plans, renewals
from services.alerts import outbox
from services.errors import NotFound
from services.hourly_billing import HOUR, hour_start
from services.ids import parse_id
from storage.models import Customer

log = logging.getLogger("hostbot")


async def find_customer(app: App, ref: str | None) -> Customer:
    """A customer by id, e-mail or part of the name; the first one when ``ref`` is None."""
    async with app.db.uow() as uow:
        query = select(Customer).order_by(Customer.id)
        if ref is not None:
            conditions = [Customer.email == ref, Customer.name.ilike(f"%{ref}%")]
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
    stop = Stop().install()
    app = await open_app(settings, seed_demo=not args.no_demo)
    sending = Stop()
    mail = asyncio.create_task(
        mail_sender.run_forever(
            bootstrap.mail_sender(app), app.mail_wake, sending, settings.mail_interval_seconds
        )
    )
    try:
        lang = normalize(args.lang) or normalize(os.environ.get("LANG"))
        if args.unlinked:
            user, greeting = "local-unlinked", "hostbot. Type link to link this terminal to an account."
        else:
            try:
                customer = await find_customer(app, args.customer)
            except NotFound:
                print("No such customer. Run without --no-demo to create the demo data.", file=sys.stderr)
                return 2
            user, greeting = f"local-{customer.id}", f"hostbot — {customer.name}. Type help; Ctrl-D to quit."
            await link_local_user(app.dispatcher, user, customer.id)
        if sys.stdin.isatty():
            print(f"{greeting}\n")
        await bootstrap.shell(app, user, lang).run(stop=stop)
        return 0
    finally:
        sending.set()
        await mail
        await app.close()


async def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    """Serve until SIGTERM/SIGINT; then hand back the alerts in hand, stop listening, finish the
    requests in flight and stop the platforms (``stop_grace_seconds`` each at most), exit 0."""
    stop = Stop().install()
    app = await open_app(settings)
    web_app = bootstrap.web_app(app)
    runner = web.AppRunner(web_app, shutdown_timeout=settings.stop_grace_seconds)
    try:
        await runner.setup()
        site = web.TCPSite(runner, host="0.0.0.0", port=settings.port)
        await site.start()
        log.info("listening on :%s", settings.port)
        work = [
            mail_sender.run_forever(
                bootstrap.mail_sender(app), app.mail_wake, stop, settings.mail_interval_seconds
            )
        ]
        if settings.alerts_in_run:
            # Alerts go through the adapters serving the chats, so they share their pacing windows.
            alerts = bootstrap.alert_sender(app, bootstrap.served_senders(web_app))
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


async def record_hour(app: App) -> int:
    async with app.db.uow() as uow:
        return await metering.snapshot(uow)


async def close_months(app: App) -> int:
    """Create the usage invoice of every customer whose month has ended; each in its own transaction."""
    async with app.db.uow() as uow:
        due = await metering.due(uow)
    created = 0
    for customer_id, month in due:
        async with app.db.uow() as uow:
            if await metering.close_month(uow, customer_id, month, app.seller) is not None:
                created += 1
    return created


async def hourly(app: App) -> None:
    """The hourly jobs: record metered resources, close ended months, billing, clean-up."""
    log.info("metering recorded %d resources", await record_hour(app))
    log.info("metering created %d usage invoices", await close_months(app))
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
    async with app.db.uow() as uow:
        removed = await housekeeping.purge(uow)
    log.info("housekeeping removed %d expired rows", removed)


async def _hourly_forever(app: App, stop: Stop) -> None:
    """Just after each hour starts, so that every hour is metered once; a pass that has begun
    is finished before stopping (each step is its own transaction)."""
    while not stop.is_set():
        await hourly(app)
        now = clock.now()
        await stop.first(asyncio.sleep((hour_start(now) + HOUR - now).total_seconds() + 1))


async def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    """The hourly jobs, alerts every ``ALERTS_INTERVAL_SECONDS`` and mail every
    ``MAIL_INTERVAL_SECONDS``; ``--once``: one pass of each. On SIGTERM/SIGINT: finish the hourly
    pass and the mail in hand, hand back the alerts and mails in hand, exit 0."""
    stop = Stop().install()
    app = await open_app(settings)
    seller = app.seller
    try:
        async with bootstrap.connected_senders(app) as senders:
            alerts = bootstrap.alert_sender(app, senders)
            mail = bootstrap.mail_sender(app)
            if args.once:
                await hourly(app)
                if not stop.is_set():
                    await alerts_worker.run_once(app.db, settings, seller, alerts, stop)
                if not stop.is_set():
                    log.info("mail: %d handled", await mail.run_pass(stop))
            else:
                await asyncio.gather(
                    _hourly_forever(app, stop),
                    alerts_worker.run_forever(app.db, settings, seller, alerts, stop=stop),
                    mail_sender.run_forever(mail, app.mail_wake, stop, settings.mail_interval_seconds),
                )
    finally:
        await app.close()
    if stop.is_set():
        log.info("hostbot worker stopped (%s)", stop.signal)
    return 0


async def cmd_meter(settings: Settings, args: argparse.Namespace) -> int:
    app = await open_app(settings)
    try:
        if args.action == "snapshot":
            print(f"recorded {await record_hour(app)} metered resources for this hour")
        else:
            print(f"created {await close_months(app)} usage invoices")
        return 0
    finally:
        await app.close()


async def cmd_alerts_status(settings: Settings, args: argparse.Namespace) -> int:
    """Counts per state, then the dead letters with their last error (what an operator acts on)."""
    app = await open_app(settings)
    try:
        async with app.db.uow() as uow:
            counts = await outbox.counts(uow)
            dead = await outbox.dead_letters(uow)
        print("  ".join(f"{state}: {n}" for state, n in counts.items()))
        if dead:
            print("dead letters:")
        for alert in dead:
            print(
                f"  #{alert.id} {alert.key} (customer {alert.customer_id}, {alert.attempts} attempts): {alert.last_error}"
            )
        return 0
    finally:
        await app.close()


async def cmd_mail_status(settings: Settings, args: argparse.Namespace) -> int:
    """Counts per state, then the dead letters with their last error (what an operator acts on)."""
    app = await open_app(settings)
    try:
        async with app.db.uow() as uow:
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
        await app.close()


async def cmd_mail_requeue(settings: Settings, args: argparse.Namespace) -> int:
    """Dead letters back to pending (those named, or all with ``--all``), due at once."""
    if not args.ids and not args.all:
        print(
            "name the dead letters to send again (hostbot mail status lists them), or --all", file=sys.stderr
        )
        return 2
    app = await open_app(settings)
    try:
        async with app.db.uow() as uow:
            count = await mail_outbox.requeue(uow, None if args.all else args.ids)
        print(f"{count} mails are pending again; the worker sends them on its next round")
        return 0
    finally:
        await app.close()


async def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    app = await open_app(settings, seed_demo=args.demo)
    await app.close()
    print("database is up to date")
    return 0


def link_instruction(settings: Settings, platform: str, code: str) -> str:
    """What the person sends, in the words of their platform (the operator passes it on)."""
    if platform == "slack":
        return f"In Slack, send: {settings.slack_command} start {code} (or start {code} in a direct message to the app)"
    if platform == "shell":
        return f"In the shell, type: start {code}"
    return f"In Telegram, send the bot: /start {code}"


async def cmd_link_code(settings: Settings, args: argparse.Namespace) -> int:
    app = await open_app(settings)
    try:
        try:
            customer = await find_customer(app, args.customer)
        except NotFound:
            print(f"no customer matches {args.customer!r}", file=sys.stderr)
            return 2
        async with app.db.uow() as uow:
            code = await linking.issue_code(uow, customer.id, args.platform, args.role)
        print(f"Link code for {customer.name} on {args.platform} (single use, 15 minutes): {code}")
        print(link_instruction(settings, args.platform, code))
        if args.platform == "telegram" and (settings.telegram_bot_username or settings.telegram_bot_token):
            try:
                username = await telegram.bot_username(settings)
            except TelegramError as err:
                print(f"(no t.me link: the Bot API did not answer getMe: {err})", file=sys.stderr)
            else:
                print(f"Or open: {telegram.deep_link(username, code)}")
        return 0
    finally:
        await app.close()


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hostbot", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    shell = sub.add_parser("shell", help="chat with the bot in the terminal")
    shell.add_argument("--lang", help="your language: en, fr, id or tr")
    shell.add_argument("--customer", help="talk as this customer (id, e-mail or name)")
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
    link.add_argument("customer", help="customer id, e-mail or name")
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

    alerts = sub.add_parser("alerts", help="the proactive alerts outbox")
    alerts_sub = alerts.add_subparsers(dest="alerts_command", required=True)
    status = alerts_sub.add_parser("status", help="alerts per state, and the dead letters")
    status.set_defaults(func=cmd_alerts_status)

    mail = sub.add_parser("mail", help="the mail outbox")
    mail_sub = mail.add_subparsers(dest="mail_command", required=True)
    mail_status = mail_sub.add_parser("status", help="mails per state, and the dead letters")
    mail_status.set_defaults(func=cmd_mail_status)
    requeue = mail_sub.add_parser("requeue", help="send dead letters again")
    requeue.add_argument("ids", nargs="*", type=int, help="the dead letters' numbers")
    requeue.add_argument("--all", action="store_true", help="every dead letter")
    requeue.set_defaults(func=cmd_mail_requeue)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    settings = get_settings()
    logs.setup(settings, "WARNING" if args.command == "shell" else "INFO")
    code: int = asyncio.run(args.func(settings, args))
    return code


if __name__ == "__main__":
    sys.exit(main())
