"""The dispatcher: from one ``Incoming`` to the replies, the same for every platform.

Per message it: applies the inbound rate limit, drops redelivered updates, finds the chat identity
and its account, sets the locale, routes to an open form, a pressed button or a command, checks
the account and role, injects what the handler names, turns domain errors into localised answers,
and swaps every button's meaning for an opaque key stored server-side. Text the database cannot
store is refused at the door; anything that still fails is rolled back and answered with a short
apology (one log line, never what the user typed).
"""

from __future__ import annotations

import contextlib
import difflib
import logging
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from limits import parse

from bot.config import Settings
from bot.core import chat_state, code_word_gate, formatting
from bot.core.code_word_gate import Gate, Pending
from bot.core.context import Context
from bot.core.documents import DocumentRenderer
from bot.core.forms import Form, Invalid
from bot.core.i18n import choose, current, ngettext, normalize, use_locale
from bot.core.i18n import gettext as _
from bot.core.limiting import Limiter
from bot.core.logs import UpdateScope, update_scope
from bot.core.metrics import Metrics
from bot.core.permissions import allows
from bot.core.registry import Registry, fold, inject
from bot.core.router import InvalidAction, dump
from bot.core.types import Incoming, Reply, Submission, UsageError
from services import audit, channels, pending_actions, sessions, tickets
from services.action_runner import ActionRunner
from services.errors import N_, DomainError, PermissionDenied
from services.invoices import Seller
from services.paying import PayLinks
from services.ports import Drivers, TicketEvents
from services.records import Conversation, Customer, Database, UnitOfWork, connection_lost

log = logging.getLogger("hostbot.dispatch")

CANCEL_WORDS = frozenset({"cancel", "annuler", "batal", "iptal", "/cancel"})
# Column sizes of what identifies a sender (ChatIdentity, ProcessedUpdate): longer is no real id.
ID_LIMITS = {
    "platform": 20,
    "workspace": 64,
    "user_id": 64,
    "chat_id": 64,
    "update_id": 100,
    "reply_to": 100,
}
FAILED = N_("Something went wrong on our side and nothing was changed. Please try again.")
FILES_ELSEWHERE = N_(
    "I can take a file only for a support ticket: send it with the message of a new ticket "
    "(newticket), or with reply and the ticket's number as its caption."
)


def storable(text: str) -> bool:
    """Whether the database can hold ``text`` as it is: PostgreSQL's text has no NUL character,
    and a lone surrogate (a JSON escape such as ``\\ud800``, undecodable input) is not UTF-8."""
    if "\x00" in text:
        return False
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def pressed_key(incoming: Incoming) -> str | None:
    """The key of a pressed button as it is read with the sender (keys are at most 32 URL-safe
    characters); None for a message, or for a key the database cannot take as a parameter
    (``_press`` answers that one as expired without reading it)."""
    key = incoming.action_key
    return key[:32] if key is not None and storable(key) else None


def addressable(incoming: Incoming) -> bool:
    """Whether the sender's ids fit the tables that remember them (only a broken or forged
    platform event fails this: there is nobody to answer)."""
    return all(
        value is None or (len(value) <= limit and storable(value))
        for value, limit in (
            (incoming.platform, ID_LIMITS["platform"]),
            (incoming.workspace, ID_LIMITS["workspace"]),
            (incoming.user_id, ID_LIMITS["user_id"]),
            (incoming.chat_id, ID_LIMITS["chat_id"]),
            (incoming.update_id, ID_LIMITS["update_id"]),
            (incoming.reply_to, ID_LIMITS["reply_to"]),
        )
    ) and bool(incoming.user_id)


def log_failure(err: BaseException) -> None:
    """One line: the exception's type and the last line of the project's code it passed. Not its
    message nor the update: they may hold what the user typed (link codes, addresses) or SQL
    parameters."""
    frames = [f for f in traceback.extract_tb(err.__traceback__) if "site-packages" not in f.filename]
    where = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
    log.error("update failed: %s%s", type(err).__name__, where)


class Dispatcher:
    """Everything it works with is handed in (``bot.bootstrap`` builds it): the drivers the
    handlers may name, the seller printed on invoices, the document renderer, the pay-link policy,
    the inbound rate limiter, the commands, where ticket events go, and the runner that carries out
    what an update decided for outside systems (a payment unsuspends a server, renews a domain) once
    it is committed."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        *,
        commands: Registry,
        seller: Seller,
        drivers: Drivers,
        limiter: Limiter,
        metrics: Metrics,
        documents: DocumentRenderer,
        pay_links: PayLinks,
        actions: ActionRunner,
        ticket_events: TicketEvents,
    ) -> None:
        self.db = db
        self.settings = settings
        self.metrics = metrics
        self.drivers = drivers
        self.registry = commands
        self.documents = documents
        self.pay_links = pay_links
        self.seller = seller
        self.actions = actions
        self.ticket_events = ticket_events
        self._limit = parse(settings.rate_limit)
        self.limiter = limiter  # shared with the rest of the process (see bootstrap.assemble)
        self.gate = Gate(settings)

    async def handle(self, incoming: Incoming, deliver: Deliver | None = None) -> list[Reply]:
        """One transaction per update where the database allows it: the update id's claim, what
        the handler does and the buttons' keys are committed together (handlers may commit earlier).

        With ``deliver`` (an adapter's sending, which must not raise), the replies are sent through
        it as soon as they are known, and nothing is returned: the answer goes out first, and
        what can wait (the buttons' keys, audit rows, when the sender was last seen) is written
        after it, in the same transaction. What the handler did that must not be lost (money, a
        used confirmation) it has committed itself already. If that last commit fails, the
        sender gets the apology after the answer, and a redelivery of the update is answered
        once more (on PostgreSQL the claim was rolled back with it).

        Pooled connections are not pinged before use (a round trip per update): one the server
        dropped fails on first use, and the update is handled again on a fresh connection.

        Lines logged meanwhile name the update and, once known, its account; the outcome, the
        command and the time taken go to the metrics."""
        if not addressable(incoming):
            log.warning("dropped an update from %s: its sender ids cannot be stored", incoming.platform[:20])
            return []
        replies = await self._measured(incoming, _Once(deliver) if deliver is not None else None)
        if deliver is not None and replies:
            await deliver(replies)
            return []
        return replies

    async def _measured(self, incoming: Incoming, deliver: _Once | None) -> list[Reply]:
        started = time.perf_counter()
        outcome = _Outcome()
        with update_scope(incoming.platform, incoming.update_id) as scope:
            try:
                sender = f"{incoming.platform}:{incoming.workspace}:{incoming.user_id}"
                allowed = await self.limiter.hit(self._limit, sender)
                try:
                    try:
                        return await self._handle(incoming, allowed, outcome, scope, deliver)
                    except Exception as err:
                        if not connection_lost(err):
                            raise
                        log.warning("database connection lost; handling the update again on a fresh one")
                        outcome = _Outcome()
                        return await self._handle(incoming, allowed, outcome, scope, deliver)
                except Exception as err:  # the safety net: tests assert it is never reached
                    outcome.name = "error"
                    log_failure(err)
                    return await self._apologise(incoming)
            except BaseException:
                outcome.name = "error"
                raise
            finally:
                elapsed = time.perf_counter() - started
                self.metrics.update(incoming.platform, outcome.name, elapsed, outcome.command)

    async def first_time(self, source: str, request_id: str) -> bool:
        """Remember an inbound request at once: False when it was seen before. The key is unique,
        so of concurrent replays exactly one gets True."""
        async with self.db.uow() as uow:
            fresh = await chat_state.claim_update(uow, source, request_id)
            await uow.commit()
        return fresh

    async def _apologise(self, incoming: Incoming) -> list[Reply]:
        """The answer when handling failed outside a handler (what it wrote is rolled back with its
        unit of work). The update stays claimed (claimed again if the rollback took the claim), so a
        redelivery is not answered twice; when the database fails even that, the apology goes out
        in the platform's language."""
        lang = normalize(incoming.language) or self.settings.default_language
        with contextlib.suppress(Exception):
            async with self.db.uow() as uow:
                await self._claim(uow, incoming)
                await uow.commit()
                who = await chat_state.who(uow, incoming.platform, incoming.workspace, incoming.user_id)
                lang = (await self._who(uow, incoming, who))[3]
        with use_locale(lang):
            return [Reply(_(FAILED), language=lang)]

    async def _handle(
        self, incoming: Incoming, allowed: bool, outcome: _Outcome, scope: UpdateScope, deliver: _Once | None
    ) -> list[Reply]:
        async with self.db.uow() as uow:
            fresh, arrived = await chat_state.arrive(
                uow,
                incoming.platform,
                incoming.workspace,
                incoming.user_id,
                incoming.update_id,
                pressed_key(incoming),
            )
            if not fresh or arrived is None:
                outcome.name = "duplicate"
                return []
            if incoming.update_id is not None and not chat_state.claims_wait_for_commit(uow):
                await uow.commit()  # see _claim
            claimed = uow.commits
            who, customer, role, lang = await self._who(uow, incoming, arrived)
            identity = who.identity
            identity_id = identity.id
            sessions.seen(uow, identity, normalize(incoming.language))
            scope.account = customer.id if customer else None
            if customer is None and incoming.linked_only:
                await uow.commit()  # keeps the claim: this update is done
                outcome.name = "ignored"
                return []
            with use_locale(lang):
                if not allowed:
                    outcome.name = "throttled"
                    reply = Reply(_("You are sending messages too fast. Please wait a minute and try again."))
                else:
                    ctx = Context(
                        self.settings,
                        uow,
                        incoming,
                        identity,
                        customer,
                        role,
                        who.form,
                        pressed=who.pressed,
                        limiter=self.limiter,
                    )
                    try:
                        answer = await self._route(ctx)
                    except DomainError as err:
                        outcome.name = "refused"
                        reply = Reply(formatting.error_text(err))
                        if not await self._undo(uow, incoming, claimed):
                            return []
                    except Exception as err:  # the safety net: tests assert it is never reached
                        outcome.name = "error"
                        log_failure(err)
                        reply = Reply(_(FAILED))
                        if not await self._undo(uow, incoming, claimed):
                            return []
                    else:
                        reply = answer
                    finally:
                        outcome.command = ctx.command
                reply.language = lang
                seal(uow, identity_id, reply, self.settings)
                if deliver is not None:
                    await deliver([reply])
                await uow.commit()
                decided = pending_actions.committed(uow)
        await self.actions.carry_out(decided)  # the servers and domains a payment changed, now
        return [] if deliver is not None else [reply]

    @staticmethod
    async def _claim(uow: UnitOfWork, incoming: Incoming) -> bool:
        """False for an update that was (or is being) handled already. The claim is committed
        with the update's work where the database allows it, else at once (``chat_state``)."""
        if incoming.update_id is None:
            return True
        fresh = await chat_state.claim_update(uow, incoming.platform, incoming.update_id)
        if not chat_state.claims_wait_for_commit(uow):
            await uow.commit()
        return fresh

    async def _undo(self, uow: UnitOfWork, incoming: Incoming, claimed: int) -> bool:
        """Roll back what a failed handler left uncommitted. If that took the update's claim with it
        (nothing was committed since), claim again: False when another replica took it meanwhile
        (it handles the update; this attempt left no trace)."""
        await uow.rollback()
        if uow.commits > claimed or not chat_state.claims_wait_for_commit(uow):
            return True
        return await self._claim(uow, incoming)

    async def _who(
        self, uow: UnitOfWork, incoming: Incoming, who: chat_state.Who
    ) -> tuple[chat_state.Who, Customer | None, str, str]:
        """Who wrote (``who``: as found or added), the account they act for, their role there, and
        the language to answer in (their own choice first, then the account's)."""
        if who.new:
            await uow.commit()  # a first contact: what is keyed to the identity outlives a rollback
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
        platform = normalize(incoming.language)
        lang = choose(
            identity.language,
            customer.language if customer else None,
            platform or identity.platform_language,
            self.settings.default_language,
        )
        return who, customer, role, lang

    async def _route(self, ctx: Context) -> Reply:
        incoming = ctx.incoming
        if incoming.action_key is not None:
            return await self._press(ctx, incoming.action_key)
        if incoming.submission is not None:
            return await self._submit(ctx, incoming.submission)
        if incoming.text is None and not incoming.files:
            return Reply(_("I can only read text messages. Type help to see what I can do."))
        if not storable(incoming.text or ""):
            return Reply(
                _(
                    "I cannot read that message: it contains a character that is not text "
                    "(such as a null character). Please send it again without it."
                )
            )
        text = (incoming.text or "").strip()
        if len(text) > self.settings.max_text_length:
            return Reply(too_long(self.settings.max_text_length))
        if not text and not incoming.files:
            return Reply(_("Type help to see what I can do."))
        form = None if incoming.view else await self._live(ctx, chat_state.live(ctx.uow, ctx.form))
        if form is not None:
            if incoming.files or not text.startswith("/") or fold(text) in CANCEL_WORDS:
                return await self._answer_form(ctx, text)
            await ctx.close_form()
        if incoming.reply_to is not None and ctx.customer is not None and not text.startswith("/"):
            ticket = await tickets.answered(ctx.uow, ctx.identity.id, incoming.reply_to)
            if ticket is not None:  # an answer to a support reply: added to its ticket
                return await self.run_line(ctx, f"reply {ticket} {text}")
        if not text:  # a file alone, with nothing saying where it goes
            return Reply(_(FILES_ELSEWHERE))
        return await self.run_line(ctx, text)

    async def run_line(self, ctx: Context, text: str, unlocked: bool = False) -> Reply:
        """``unlocked``: the code word was given for this very line (``code_word_gate``)."""
        found = self.registry.match(text)
        if found is None:
            return self._unknown(text)
        command, args = found
        ctx.args = args
        ctx.line = text
        ctx.command = command.name
        denied = await self._check_access(ctx, "command", command.name, bare=not args)
        if denied is not None:
            return denied
        if ctx.incoming.files and not command.files:
            return Reply(_(FILES_ELSEWHERE))
        if not unlocked and not command.confirms and not (command.bare is not None and not args):
            asked = await self.gate.ask(ctx, command, Pending(command.name, line=text))
            if asked is not None:
                return asked
        if command.form is not None:
            return await self._start_form(ctx, command.form)
        assert command.func is not None  # a command is a function or a form (bot.core.router)
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
            return Reply(link_instructions(ctx.start_command())) if command.needs_account else None
        if command is not None and allows(ctx.role, command.needs(bare)):
            return None
        actor = ctx.actor if ctx.customer is not None else None
        audit.defer(
            ctx.uow, f"{kind}.{name}", actor, f"identity:{ctx.identity.id}", outcome="denied", role=ctx.role
        )
        raise PermissionDenied()

    def _deps(self, ctx: Context, **extra: Any) -> dict[str, Any]:
        return {
            "ctx": ctx,
            "uow": ctx.uow,
            "args": ctx.args,
            "customer": ctx.customer,
            "identity": ctx.identity,
            "actor": ctx.actor if ctx.customer else None,
            "seller": self.seller,
            "servers": self.drivers.servers,
            "dns": self.drivers.dns,
            "registrar": self.drivers.registrar,
            "registry": self.registry,
            "documents": self.documents,
            "pay_links": self.pay_links,
            "ticket_events": self.ticket_events,
            "file_store": self.drivers.files,
            **extra,
        }

    async def _start_form(self, ctx: Context, form: Form) -> Reply:
        refusal = await form.guard(ctx) if form.guard is not None else None
        if refusal is not None:
            return refusal
        first = form.next_step(None, {})
        assert first is not None  # a form has steps (bot.core.forms)
        await ctx.open_form(form.name, first.name, {})
        return await form.ask(ctx, first)

    async def _answer_form(self, ctx: Context, answer: str) -> Reply:
        """One typed or pressed answer to the open form: the next question, the same one again
        with what was wrong, or the form's finish once every step is answered."""
        row = await self._live(ctx, chat_state.conversation(ctx.uow, ctx.identity.id))
        if row is not None and row.name == code_word_gate.NAME:
            return await self._answer_gate(ctx, row, answer)
        form = self.registry.open_form(row.name) if row is not None else None
        step = form.step(row.step) if form is not None and row is not None else None
        if form is None or step is None or row is None:
            return Reply(_("This form is no longer open. Start again with the command."))
        ctx.command = form.name
        if ctx.incoming.files and not step.files:
            prompt = await form.ask(ctx, step)
            prompt.text = f"{_(FILES_ELSEWHERE)}\n{prompt.text}"
            return prompt
        if fold(answer) in CANCEL_WORDS:
            await ctx.close_form()
            return Reply(_("Cancelled. Nothing was created."))
        command = self.registry.commands.get(form.name)
        if ctx.customer is None and (command is None or command.needs_account):
            await ctx.close_form()
            return Reply(link_instructions(ctx.start_command()))
        await self._check_access(ctx, "form", form.name)
        data = dict(row.data)
        try:
            data[step.name] = await form.take(ctx, step, answer, data)
        except Invalid as err:
            prompt = await form.ask(ctx, step)
            prompt.text = f"{err.reason}\n{prompt.text}"
            return prompt
        following = form.next_step(step.name, data)
        if following is None:
            await ctx.close_form()
            return await inject(form.finish, self._deps(ctx, data=data))
        await ctx.open_form(form.name, following.name, data)
        reply = await form.ask(ctx, following)
        if step.echo is not None:
            reply.text = f"{step.echo(data[step.name], ctx)}\n{reply.text}"
        return reply

    async def _answer_gate(self, ctx: Context, row: Conversation, answer: str) -> Reply:
        """The code word for a sensitive action waiting for it: carry the action out when it is
        right, as if confirmed (or typed) now, with the sender's role checked again."""
        if fold(answer) in CANCEL_WORDS:
            await ctx.close_form()
            return Reply(_("Cancelled. Nothing was changed."))
        if ctx.customer is None:
            await ctx.close_form()
            return Reply(link_instructions(ctx.start_command()))
        outcome = await self.gate.answer(ctx, row, answer)
        if isinstance(outcome, Reply):
            return outcome
        ctx.command = outcome.command
        if outcome.line is not None:
            return await self.run_line(ctx, outcome.line, unlocked=True)
        return await self._confirm(ctx, outcome.confirm, unlocked=True)

    async def _confirm(self, ctx: Context, payload: Any, unlocked: bool) -> Reply:
        """Carry out a stored confirmation for the sender, who may (still) do so, once the code
        word its command may need is given (``unlocked``: it was, for this very confirmation)."""
        try:
            confirmation, action = self.registry.action(payload)
        except InvalidAction as err:
            log.warning("refused a stored confirmation: %s", err)
            return Reply(_("This button has expired. Please ask again."))
        ctx.command = confirmation.command
        denied = await self._check_access(ctx, "confirm", confirmation.command)
        if denied is not None:
            return denied
        if not unlocked:
            command = self.registry.commands[confirmation.command]
            asked = await self.gate.ask(ctx, command, Pending(command.name, confirm=payload))
            if asked is not None:
                return asked
        return await inject(confirmation.func, self._deps(ctx, action=action))

    @staticmethod
    async def _live(ctx: Context, opening: Awaitable[chat_state.Open]) -> Conversation | None:
        """The open form; an expired one closed is committed at once (closed whatever follows)."""
        opened = await opening
        if opened.closed:
            await ctx.uow.commit()
        return opened.form

    async def _submit(self, ctx: Context, submission: Submission) -> Reply:
        """A form sent whole from a dialog: who may start it is checked as for the command; the
        answers are read in one pass (each refusal is that field's error, and nothing is done) and
        the form is finished once. Without values, only whether the dialog may open (a reply that
        ``opens_form``: yes)."""
        command = self.registry.commands.get(submission.form)
        if command is None or command.form is None:
            return Reply(_("This form is no longer open. Start again with the command."))
        form = command.form
        ctx.command = form.name
        denied = await self._check_access(ctx, "command", form.name)  # as starting it in the chat
        if denied is not None:
            return denied
        if not command.confirms:  # a sensitive form is then asked for in the chat, once the word is given
            asked = await self.gate.ask(ctx, command, Pending(command.name, line=command.name))
            if asked is not None:
                return asked
        if submission.values is None:
            return Reply("", opens_form=True)
        errors = {
            name: reason
            for name, value in submission.values.items()
            if (reason := self._unreadable(value)) is not None
        }
        if errors:
            return Reply(next(iter(errors.values())), errors=errors)
        data, errors = await form.read(ctx, submission.values)
        if errors:
            return Reply(next(iter(errors.values())), errors=errors)
        return await inject(form.finish, self._deps(ctx, data=data))

    def _unreadable(self, text: str) -> str | None:
        """Why a dialog's field cannot be taken as it is (as for a typed message), or None."""
        if not storable(text):
            return _(
                "I cannot read that message: it contains a character that is not text "
                "(such as a null character). Please send it again without it."
            )
        if len(text) > self.settings.max_text_length:
            return too_long(self.settings.max_text_length)
        return None

    async def _press(self, ctx: Context, key: str) -> Reply:
        if not storable(key):  # no key of ours: they are URL-safe characters
            return Reply(_("This button has expired. Please ask again."))
        press = await chat_state.press(ctx.uow, key, ctx.identity, ctx.pressed)
        if press.keep:
            await ctx.uow.commit()  # a key used up stays used (and a denial audited) whatever follows
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
            result = await self._confirm(ctx, payload, unlocked=False)
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


Deliver = Callable[[list[Reply]], Awaitable[None]]


class _Once:
    """An adapter's ``deliver`` for one update: an update handled again after a lost connection
    does not send a second answer (the first one is out)."""

    def __init__(self, deliver: Deliver) -> None:
        self._deliver: Deliver | None = deliver

    async def __call__(self, replies: list[Reply]) -> None:
        deliver, self._deliver = self._deliver, None
        if deliver is not None:
            await deliver(replies)


@dataclass
class _Outcome:
    """How an update ended (a label of ``hostbot_updates``) and the command it ran, if any."""

    name: str = "ok"
    command: str | None = None


def seal(uow: UnitOfWork, identity_id: int, reply: Reply, settings: Settings) -> None:
    """Give every button an opaque, expiring key bound to this identity (replies and alerts alike)."""
    ttl, confirm_ttl = settings.button_ttl_seconds, settings.confirm_ttl_seconds
    confirm_key: str | None = None
    for button in reply.all_buttons():
        if button.confirm is not None:
            action = dump(button.confirm)
            confirm_key = button.key = chat_state.add_key(uow, identity_id, "confirm", action, confirm_ttl)
    for button in reply.all_buttons():
        if button.cancel and confirm_key is not None:
            button.key = chat_state.add_key(uow, identity_id, "cancel", {"confirm": confirm_key}, confirm_ttl)
        elif button.answer is not None:
            button.key = chat_state.add_key(uow, identity_id, "command", {"answer": button.answer}, ttl)
        elif button.command is not None:
            line = {"line": button.command, "edit": button.edit}
            button.key = chat_state.add_key(uow, identity_id, "command", line, ttl)


def too_long(limit: int) -> str:
    return ngettext(
        "That message is too long. Please keep it under {limit} character.",
        "That message is too long. Please keep it under {limit} characters.",
        limit,
    ).format(limit=limit)


def link_instructions(start: str = "/start") -> str:
    """How to link, with ``start`` as the person's platform writes it (``/hosting start`` in Slack):
    ``link`` (a code mailed to the account's address), or a code from the provider."""
    link = start.removesuffix("start") + "link"
    return _(
        "This chat is not linked to a hosting account yet. Send {link} to get a code by e-mail at "
        "your account's address, or send {start} CODE with a link code from your provider."
    ).format(link=link, start=start)
