"""The support desk in the provider's own Slack channel (``SLACK_SUPPORT_CHANNEL``).

Each new ticket is posted there (customer, linked order, department, importance, status,
assignee) with two buttons, Assign to me and Close; the ticket's conversation is that message's
thread. What the customer writes afterwards arrives in the thread (through the alerts outbox:
``bot.alerts.dispatch``); what a staff member writes in the thread is a staff reply
(``services.desk.reply``), which reaches every chat linked to the account and is copied by mail.

Staff are the members of the support channel (``conversations.members``, asked on every action),
nobody else: a button pressed or a thread answered by anyone else changes nothing. The texts are
in the provider's language (``DEFAULT_LANGUAGE``). The channel's messages never reach the chat
dispatcher (``SlackAdapter.own_channel``); the bot needs the ``channels:history`` (or
``groups:history``) scope and the ``message.channels`` (or ``message.groups``) event there.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.adapters import slack_blocks as kit
from bot.adapters.slack import SlackAdapter
from bot.core import formatting
from bot.core.i18n import gettext as _
from bot.core.i18n import use_locale
from services import desk
from services.desk import DeskMessage, DeskTicket, Staff
from services.errors import N_, DomainError
from services.ids import parse_id
from services.ports import TicketEvents
from services.records import Database

log = logging.getLogger("hostbot.slack.desk")

SECTION_LIMIT = 2900  # Slack refuses a section of more than 3000 characters
ACTIONS = re.compile(r"^desk:(assign|close)$")
LABELS = {
    "technical": N_("Technical"),
    "financial": N_("Financial"),
    "regular": N_("Regular"),
    "high": N_("High"),
    "open": N_("open"),
    "closed": N_("closed"),
}
_LINK = re.compile(r"<(?!@|#|!)([^>|]+)\|([^>]+)>|<(?!@|#|!)([^>|]+)>")


def escape(text: str) -> str:
    """Text shown as is in Slack's mrkdwn (the three characters Slack asks to escape)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def plain(text: str) -> str:
    """What a staff member typed, as the customer should read it: links as ``label (url)``, Slack's
    escapes undone."""

    def link(found: re.Match[str]) -> str:
        if found.group(3):
            return found.group(3)
        url, label = found.group(1), found.group(2)
        return url if label == url else f"{label} ({url})"

    return _LINK.sub(link, text).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _cut(text: str) -> str:
    return text if len(text) <= SECTION_LIMIT else text[: SECTION_LIMIT - 1] + "…"


def _label(code: str) -> str:
    return _(LABELS[code]) if code in LABELS else code


def _files(message: DeskMessage) -> str:
    """The files that came with a message, one line each: name and size (kept by the bot; the admin
    API serves them to staff)."""
    return "".join(
        f"\n📎 {escape(f.name)} ({formatting.data_size(f.size)}, {escape(f.media_type)})"
        for f in message.files
    )


def _who(ref: str) -> str:
    """A staff member as Slack shows them: a mention for a Slack user, the name otherwise."""
    return f"<@{ref.removeprefix('slack:')}>" if ref.startswith("slack:") else escape(ref)


@dataclass(frozen=True)
class Backend:
    """What the staff's actions need: the database, and where the customer's news goes (the alerts
    outbox; the mail copy of a reply goes through the mail outbox)."""

    db: Database
    events: TicketEvents


class SlackDesk:
    """Posts tickets and their news to ``channel`` and, once ``listen`` is called, takes the
    staff's thread replies and button presses there. Texts in ``language``."""

    def __init__(self, adapter: SlackAdapter, channel: str, language: str) -> None:
        self.adapter = adapter
        self.channel = channel
        self.language = language
        self.backend: Backend | None = None

    # -- outbound (the alerts outbox's ``Desk``) ------------------------------------------------

    def header(self, ticket: DeskTicket) -> tuple[str, list[kit.Block]]:
        """The ticket's message: who, about what, where it stands, the first message, the buttons."""
        with use_locale(self.language):
            title = _("Ticket #{id}: {subject} — {status}").format(
                id=ticket.id, subject=ticket.subject, status=_label(ticket.status)
            )
            facts = [
                _("Customer: {name} (#{id}, {email})").format(
                    name=escape(ticket.customer_name), id=ticket.customer_id, email=ticket.customer_email
                ),
                _("Department: {department} · Importance: {importance}").format(
                    department=_label(ticket.department), importance=_label(ticket.importance)
                ),
            ]
            if ticket.order:
                facts.append(_("Order: {order}").format(order=escape(ticket.order)))
            facts.append(
                _("Assigned to {who}").format(who=_who(ticket.assignee))
                if ticket.assignee
                else _("Not assigned yet")
            )
            first = next((m for m in ticket.messages if m.author == "customer"), None)
            blocks: list[kit.Block] = [
                {"type": "section", "text": {"type": "mrkdwn", "text": f"*{escape(title)}*"}},
                {"type": "context", "elements": [{"type": "mrkdwn", "text": "\n".join(facts)}]},
            ]
            if first is not None:
                body = _cut(escape(first.body) + _files(first))
                blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": body}})
            buttons: list[dict[str, Any]] = [self._button(_("Assign to me"), "assign", ticket.id)]
            if ticket.status == "open":
                buttons.append(self._button(_("Close ticket"), "close", ticket.id, style="danger"))
            blocks.append({"type": "actions", "block_id": f"desk-{ticket.id}", "elements": buttons})
        return title, blocks

    @staticmethod
    def _button(label: str, action: str, ticket_id: int, style: str | None = None) -> dict[str, Any]:
        button: dict[str, Any] = {
            "type": "button",
            "text": {"type": "plain_text", "text": label},
            "action_id": f"desk:{action}",
            "value": str(ticket_id),
        }
        if style:
            button["style"] = style
        return button

    async def post_ticket(self, ticket: DeskTicket) -> str:
        """Post the ticket to the channel; returns its ts (the thread of its conversation)."""
        text, blocks = self.header(ticket)
        async with self.adapter.pacer.sending(self.channel):
            sent = await self.adapter.client.chat_postMessage(channel=self.channel, text=text, blocks=blocks)
        return str(sent["ts"])

    async def refresh(self, ticket: DeskTicket) -> None:
        """Redraw the ticket's message (status, assignee, buttons)."""
        if ticket.thread is None:
            return
        text, blocks = self.header(ticket)
        async with self.adapter.pacer.sending(self.channel):
            await self.adapter.client.chat_update(
                channel=self.channel, ts=ticket.thread, text=text, blocks=blocks
            )

    async def say(self, ticket: DeskTicket, text: str) -> None:
        """A message in the ticket's thread."""
        async with self.adapter.pacer.sending(self.channel):
            await self.adapter.client.chat_postMessage(
                channel=self.channel, thread_ts=ticket.thread, text=text
            )

    async def post_event(self, ticket: DeskTicket, event: str, message: DeskMessage | None) -> None:
        """The customer wrote, closed or reopened the ticket: said in its thread, and the ticket's
        message redrawn when its status changed."""
        with use_locale(self.language):
            body = escape(message.body) + _files(message) if message is not None else ""
            if event == "closed":
                text = _("The customer closed the ticket.")
            elif event == "reopened":
                text = _("The customer reopened the ticket:") + f"\n{body}"
            else:
                text = _("The customer wrote:") + f"\n{body}"
        await self.say(ticket, text)
        if event in ("closed", "reopened"):
            await self.refresh(ticket)

    # -- inbound --------------------------------------------------------------------------------

    def listen(self, db: Database, events: TicketEvents) -> None:
        """Take the staff's thread replies and button presses in the channel."""
        self.backend = Backend(db, events)
        self.adapter.own_channel(self.channel, self._on_message)
        self.adapter.bolt.action(ACTIONS)(self._on_action)

    async def is_staff(self, user: str) -> bool:
        """Whether ``user`` is a member of the support channel now (every page of members)."""
        cursor: str | None = None
        while True:
            page = await self.adapter.client.conversations_members(channel=self.channel, cursor=cursor)
            if user in (page.get("members") or []):
                return True
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if cursor is None:
                return False

    async def _tell(self, user: str, text: str, thread: str | None = None) -> None:
        """A note only ``user`` sees in the channel (or the thread)."""
        async with self.adapter.pacer.sending(self.channel):
            await self.adapter.client.chat_postEphemeral(
                channel=self.channel, user=user, text=text, thread_ts=thread
            )

    async def _on_message(self, event: dict[str, Any]) -> None:
        """A reply in a ticket's thread is a staff reply; anything else in the channel is the staff's
        own conversation and is left alone."""
        thread, ts, user = event.get("thread_ts"), event.get("ts"), event.get("user")
        backend = self.backend
        if not thread or thread == ts or not user or backend is None:
            return
        async with backend.db.uow() as uow:
            ticket_id = await desk.by_thread(uow, thread)
        if ticket_id is None:
            return
        with use_locale(self.language):
            if not await self.is_staff(user):
                await self._tell(user, _("Only members of the support channel answer tickets."), thread)
                return
            try:
                async with backend.db.uow() as uow:
                    sent = await desk.reply(
                        uow,
                        ticket_id,
                        plain(event.get("text") or ""),
                        Staff(f"slack:{user}"),
                        backend.events,
                        external_id=f"slack:{self.channel}:{ts}",
                    )
            except DomainError as err:
                await self._tell(user, formatting.error_text(err), thread)
                return
            if sent is not None:
                await self._tell(user, _("Sent to the customer."), thread)

    async def _on_action(self, ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        self.adapter.spawn(self._act(body, action))

    async def _act(self, body: dict[str, Any], action: dict[str, Any]) -> None:
        user = body["user"]["id"]
        channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
        ticket_id = parse_id(str(action.get("value") or ""))
        backend = self.backend
        if channel != self.channel or ticket_id is None or backend is None:
            return
        kind = str(action["action_id"]).removeprefix("desk:")
        staff = Staff(f"slack:{user}")
        with use_locale(self.language):
            if not await self.is_staff(user):
                await self._tell(user, _("Only members of the support channel answer tickets."))
                return
            try:
                async with backend.db.uow() as uow:
                    if kind == "assign":
                        ticket = await desk.assign(uow, ticket_id, staff.ref, staff)
                        note = _("{who} took the ticket.").format(who=_who(staff.ref))
                    else:
                        ticket = await desk.close(uow, ticket_id, staff, backend.events)
                        note = _("{who} closed the ticket; the customer is told.").format(who=_who(staff.ref))
            except DomainError as err:
                await self._tell(user, formatting.error_text(err))
                return
            try:
                await self.refresh(ticket)
                await self.say(ticket, note)
            except SlackApiError as err:  # done and saved; only the channel's view is behind
                log.warning(
                    "support desk: could not update ticket %s: %s", ticket.id, err.response.get("error")
                )
