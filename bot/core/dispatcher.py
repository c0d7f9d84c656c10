"""The dispatcher: from one ``Incoming`` to the replies, the same for every platform.

Per message it: applies the inbound rate limit, drops redelivered updates, finds the chat identity
and its account, sets the locale, routes to an open form, a pressed button or a command, checks
the account and role, injects what the handler names, turns domain errors into localised answers,
and swaps every button's meaning for an opaque key stored server-side.
"""

from __future__ import annotations

import difflib
import logging
from dataclasses import dataclass, field
from typing import Any

from limits import parse
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string
from sqlalchemy.exc import DBAPIError

from bot.config import Settings
from bot.core import formatting
from bot.core.i18n import current, normalize, use_locale
from bot.core.i18n import gettext as _
from bot.core.permissions import allows
from bot.core.registry import Registry, fold, inject, registry
from bot.core.types import Incoming, Reply, UsageError
from services import audit, channels, chat_state
from services.audit import Actor
from services.errors import DomainError, PermissionDenied
from services.invoices import Seller
from services.ports import InventoryDriver, LogMailer, Mailer, ServerDriver
from storage.models import ChatIdentity, Conversation, Customer
from storage.uow import Database, UnitOfWork

log = logging.getLogger("hostbot.dispatch")

CANCEL_WORDS = frozenset({"cancel", "annuler", "batal", "iptal", "/cancel"})


@dataclass
class Context:
    """What a handler may ask for by name, besides the values themselves."""

    dispatcher: Dispatcher
    uow: UnitOfWork
    incoming: Incoming
    identity: ChatIdentity
    customer: Customer | None
    role: str = "guest"  # see bot.core.permissions
    form: Conversation | None = None  # the open form as read with the identity
    args: list[str] = field(default_factory=list)

    @property
    def settings(self) -> Settings:
        return self.dispatcher.settings

    @property
    def actor(self) -> Actor:
        assert self.customer is not None
        return Actor(self.customer.id, self.identity.id)

    def may(self, capability: str) -> bool:
        """Whether the sender's role here has ``capability`` (for what a handler does besides its
        own capability, such as the account's language)."""
        return self.customer is not None and allows(self.role, capability)

    async def open_form(self, name: str, step: str, data: dict[str, Any]) -> None:
        await chat_state.save_conversation(
            self.uow, self.identity.id, name, step, data, self.settings.conversation_ttl_seconds
        )

    async def close_form(self) -> None:
        await chat_state.end_conversation(self.uow, self.identity.id)


class Dispatcher:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        mailer: Mailer | None = None,
        servers: ServerDriver | None = None,
        commands: Registry = registry,
    ) -> None:
        self.db = db
        self.settings = settings
        self.mailer = mailer or LogMailer()
        self.servers = servers or InventoryDriver()
        self.registry = commands
        self.seller = Seller(
            settings.seller_name,
            settings.seller_address,
            settings.seller_country,
            settings.seller_vat_id,
            settings.invoice_series,
            settings.invoice_due_days,
        )
        self._limit = parse(settings.rate_limit)
        self._limiter = MovingWindowRateLimiter(storage_from_string(settings.rate_limit_storage))

    async def handle(self, incoming: Incoming) -> list[Reply]:
        """One transaction per update where the database allows it: the update id's claim, what
        the handler does and the buttons' keys are committed together (handlers may commit earlier).

        Pooled connections are not pinged before use (a round trip per update): one the server
        dropped fails on first use, and the update is handled again on a fresh connection."""
        sender = f"{incoming.platform}:{incoming.workspace}:{incoming.user_id}"
        allowed = await self._limiter.hit(self._limit, sender)
        try:
            return await self._handle(incoming, allowed)
        except DBAPIError as err:
            if not err.connection_invalidated:
                raise
            log.warning("database connection lost; handling the update again on a fresh one")
            return await self._handle(incoming, allowed)

    async def _handle(self, incoming: Incoming, allowed: bool) -> list[Reply]:
        async with self.db.uow() as uow:
            if not await self._claim(uow, incoming):
                return []
            claimed = uow.commits
            who, customer, role, lang = await self._who(uow, incoming)
            identity = who.identity
            identity_id = identity.id
            if customer is None and incoming.linked_only:
                await uow.commit()  # keeps the claim: this update is done
                return []
            with use_locale(lang):
                if not allowed:
                    reply = Reply(_("You are sending messages too fast. Please wait a minute and try again."))
                else:
                    ctx = Context(self, uow, incoming, identity, customer, role, who.form)
                    try:
                        reply = await self._route(ctx)
                    except DomainError as err:
                        reply = Reply(formatting.error_text(err))
                        if not await self._undo(uow, incoming, claimed):
                            return []
                    except Exception:
                        log.exception("handler failed for %r", incoming)
                        reply = Reply(
                            _("Something went wrong on our side and nothing was changed. Please try again.")
                        )
                        if not await self._undo(uow, incoming, claimed):
                            return []
                seal(uow, identity_id, reply, self.settings)
                await uow.commit()
                return [reply]

    @staticmethod
    async def _claim(uow: UnitOfWork, incoming: Incoming) -> bool:
        """False for an update that was (or is being) handled already."""
        if incoming.update_id is None:
            return True
        return await chat_state.claim_update(uow, incoming.platform, incoming.update_id)

    async def _undo(self, uow: UnitOfWork, incoming: Incoming, claimed: int) -> bool:
        """Roll back what a failed handler left uncommitted. If that took the update's claim with it
        (nothing was committed since), claim again: False when another replica took it meanwhile
        (it handles the update; this attempt left no trace)."""
        await uow.session.rollback()
        if uow.commits > claimed or not chat_state.claims_wait_for_commit(uow):
            return True
        return await self._claim(uow, incoming)

    async def language(self, incoming: Incoming) -> str:
        """The language replies to this user will be in (adapters render their own labels in it)."""
        async with self.db.uow() as uow:
            return (await self._who(uow, incoming))[3]

    async def _who(
        self, uow: UnitOfWork, incoming: Incoming
    ) -> tuple[chat_state.Who, Customer | None, str, str]:
        """Who wrote, the account they act for, their role there, and the language to answer in
        (their own choice first, then the account's)."""
        who = await chat_state.who(uow, incoming.platform, incoming.workspace, incoming.user_id)
        identity, customer = who.identity, who.customer
        role = identity.role
        if incoming.is_group and incoming.chat_id:
            bound = await channels.bound_customer(
                uow, incoming.platform, incoming.workspace, incoming.chat_id
            )
            if bound is not None and (customer is None or customer.id != bound.id):
                # A channel shared by a team: whoever is in it reads that account as a guest, and
                # only people linked to it individually act with their own role.
                customer, role = bound, "guest"
        lang = (
            identity.language
            or (customer.language if customer else None)
            or normalize(incoming.language)
            or self.settings.default_language
        )
        return who, customer, role, lang

    async def _route(self, ctx: Context) -> Reply:
        incoming = ctx.incoming
        if incoming.action_key is not None:
            return await self._press(ctx, incoming.action_key)
        if incoming.text is None:
            return Reply(_("I can only read text messages. Type help to see what I can do."))
        text = incoming.text.strip()
        if len(text) > self.settings.max_text_length:
            return Reply(
                _("That message is too long. Please keep it under {limit} characters.").format(
                    limit=self.settings.max_text_length
                )
            )
        if not text:
            return Reply(_("Type help to see what I can do."))
        form = None if incoming.view else await chat_state.live(ctx.uow, ctx.form)
        if form is not None:
            if not text.startswith("/") or fold(text) in CANCEL_WORDS:
                return await self._answer_form(ctx, text)
            await ctx.close_form()
        return await self.run_line(ctx, text)

    async def run_line(self, ctx: Context, text: str) -> Reply:
        found = self.registry.match(text)
        if found is None:
            return self._unknown(text)
        command, args = found
        ctx.args = args
        denied = await self._check_access(ctx, "command", command.name, bare=not args)
        if denied is not None:
            return denied
        try:
            return await inject(command.func, self._deps(ctx))
        except UsageError:
            return Reply(
                _("Usage: {usage}").format(
                    usage=f"/{command.alias_for(current())} {_(command.usage)}".strip()
                )
            )

    async def _check_access(self, ctx: Context, kind: str, name: str, bare: bool = False) -> Reply | None:
        """The one permission check (``bot.core.permissions``) for typed commands, buttons,
        confirmations and form answers: ``name`` is the command, or the command whose confirmation
        or form it is; ``bare``: the command was given no arguments. Without an account there is
        nothing to protect but the link instructions. A refusal is audited (saved with the answer)
        and answered with ``PermissionDenied``; a name without a command is refused."""
        command = self.registry.commands.get(name)
        if command is not None and ctx.customer is None:
            return Reply(link_instructions(self.start_command(ctx))) if command.needs_account else None
        if command is not None and allows(ctx.role, command.needs(bare)):
            return None
        actor = ctx.actor if ctx.customer is not None else None
        audit.defer(
            ctx.uow, f"{kind}.{name}", actor, f"identity:{ctx.identity.id}", outcome="denied", role=ctx.role
        )
        raise PermissionDenied()

    def start_command(self, ctx: Context) -> str:
        """``start`` as the sender's platform writes it (Slack's slash command, Telegram's /start)."""
        platform = ctx.incoming.platform
        if platform == "slack":
            return f"{self.settings.slack_command} start"
        return "/start" if platform == "telegram" else "start"

    def _deps(self, ctx: Context, **extra: Any) -> dict[str, Any]:
        return {
            "ctx": ctx,
            "uow": ctx.uow,
            "args": ctx.args,
            "customer": ctx.customer,
            "identity": ctx.identity,
            "actor": ctx.actor if ctx.customer else None,
            "settings": self.settings,
            "seller": self.seller,
            "mailer": self.mailer,
            "servers": self.servers,
            "registry": self.registry,
            **extra,
        }

    async def _answer_form(self, ctx: Context, answer: str) -> Reply:
        form = await chat_state.conversation(ctx.uow, ctx.identity.id)
        if form is None or form.name not in self.registry.forms:
            return Reply(_("This form is no longer open. Start again with the command."))
        if fold(answer) in CANCEL_WORDS:
            await ctx.close_form()
            return Reply(_("Cancelled. Nothing was created."))
        if ctx.customer is None:
            await ctx.close_form()
            return Reply(link_instructions(self.start_command(ctx)))
        await self._check_access(ctx, "form", form.name)
        return await inject(
            self.registry.forms[form.name],
            self._deps(ctx, step=form.step, data=dict(form.data), answer=answer),
        )

    async def _press(self, ctx: Context, key: str) -> Reply:
        press = await chat_state.press(ctx.uow, key, ctx.identity)
        if press.status == "unknown":
            return Reply(_("Not found. Check the number and try again."))
        if press.status == "expired":
            return Reply(_("This button has expired. Please ask again."))
        if press.status == "used":
            return Reply(_("This was already handled."))
        payload = press.payload or {}
        if press.kind == "cancel":
            return Reply(_("Cancelled. Nothing was changed."), replace=True)
        if press.kind == "confirm":
            name = payload["name"]
            denied = await self._check_access(ctx, "confirm", name)
            if denied is not None:
                return denied
            result = await inject(self.registry.confirmers[name], self._deps(ctx, params=payload["params"]))
            result.replace = True
            return result
        if "answer" in payload:
            return await self._answer_form(ctx, payload["answer"])
        reply = await self.run_line(ctx, payload["line"])
        reply.replace = bool(payload.get("edit"))
        return reply

    def _unknown(self, text: str) -> Reply:
        head = fold(text.split()[0]).lstrip("/")
        names = [c.alias_for(current()) for c in self.registry.visible()]
        guess = difflib.get_close_matches(head, names, n=1)
        if guess:
            return Reply(
                _(
                    "I don't know that command. Did you mean /{command}? Type help to see everything I can do."
                ).format(command=guess[0])
            )
        return Reply(_("I don't know that command. Type help to see everything I can do."))


def seal(uow: UnitOfWork, identity_id: int, reply: Reply, settings: Settings) -> None:
    """Give every button an opaque, expiring key bound to this identity (replies and alerts alike)."""
    ttl, confirm_ttl = settings.button_ttl_seconds, settings.confirm_ttl_seconds
    confirm_key: str | None = None
    for button in reply.all_buttons():
        if button.confirm is not None:
            action = {"name": button.confirm.name, "params": button.confirm.params}
            confirm_key = button.key = chat_state.add_key(uow, identity_id, "confirm", action, confirm_ttl)
    for button in reply.all_buttons():
        if button.cancel and confirm_key is not None:
            button.key = chat_state.add_key(uow, identity_id, "cancel", {"confirm": confirm_key}, confirm_ttl)
        elif button.answer is not None:
            button.key = chat_state.add_key(uow, identity_id, "command", {"answer": button.answer}, ttl)
        elif button.command is not None:
            line = {"line": button.command, "edit": button.edit}
            button.key = chat_state.add_key(uow, identity_id, "command", line, ttl)


def link_instructions(start: str = "/start") -> str:
    """How to link, with ``start`` as the person's platform writes it (``/hosting start`` in Slack)."""
    return _(
        "This chat is not linked to a hosting account yet. Ask your provider for a link code "
        "(or, as an operator, run: hostbot link-code CUSTOMER), then send: {start} CODE"
    ).format(start=start)
