"""The Slack adapter (slack-bolt ``AsyncApp``): slash command, direct messages, mentions, buttons,
modals and the App Home, over HTTP at ``/slack/events`` or over Socket Mode.

Every listener calls ``ack()`` first and hands the work to a task of its own, so Slack gets its
answer at once (Bolt runs the listener before answering: ``process_before_response``, which is
also what Socket Mode and serverless hosts need, and lets ``drain()`` see every task started). The one exception is a modal submission, whose answer must
carry the field errors: the form runs before ``ack()`` (a handful of quick database steps).
Retried events (``X-Slack-Retry-Num``) carry the same event id, which the dispatcher processes once.
Every call to the Web API speaks with the bot token of the workspace it is for (``slack_oauth``:
installed through ``/slack/install``, or ``SLACK_BOT_TOKEN`` for the provider's own).
Over HTTP the signature is checked on the raw bytes before the body is parsed, and every other
request (slash command, button, modal submission) is remembered by its signature: a replay inside
Slack's five-minute window is acknowledged and not processed again.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import logging
import re
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.adapters import slack_blocks as kit
from bot.adapters import slack_oauth
from bot.config import Settings
from bot.core.dispatcher import Dispatcher
from bot.core.forms import Form
from bot.core.i18n import current, use_locale
from bot.core.i18n import gettext as _
from bot.core.logs import update_scope
from bot.core.metrics import Metrics
from bot.core.pacing import ALERT, REPLY, Pacer
from bot.core.registry import Registry
from bot.core.types import Incoming, Reply, Submission
from bot.lifecycle import supervise
from services.ids import is_digits

log = logging.getLogger("hostbot.slack")
SOCKET_LOG = logging.getLogger("hostbot.slack.socket")
SOCKET_LOG.setLevel(logging.WARNING)
PLATFORM = "slack"
_MENTION = re.compile(r"<@[A-Z0-9]+(\|[^>]*)?>")
LOCALE_CACHE_SIZE = 10_000
MAX_AGE = 5 * 60  # seconds: Slack's window for a request's timestamp
REPLAYS = "slack-request"  # processed_updates source of the requests remembered by signature
RESPONSE_URL_USES = 5  # messages Slack takes through one response_url


class CountedRateLimitRetry(AsyncRateLimitErrorRetryHandler):
    """Slack's 429 handling, each 429 counted (the last one too, which is not retried)."""

    def __init__(self, metrics: Metrics) -> None:
        super().__init__(max_retry_count=3)
        self.metrics = metrics

    async def can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is not None and response.status_code == 429:
            self.metrics.rate_limited.labels(PLATFORM).inc()
        return await super().can_retry_async(state=state, request=request, response=response, error=error)


def retry_handlers(metrics: Metrics) -> list[AsyncRetryHandler]:
    """429: wait as long as ``Retry-After`` says, then try again; dropped connections: retry once."""
    return [CountedRateLimitRetry(metrics), AsyncConnectionErrorRetryHandler()]


@dataclass(frozen=True)
class Where:
    """Where an answer goes. ``response_url``: the origin is only visible to the user (slash
    command, ephemeral message), so answers go back through it. ``message_ts``: the message whose
    button was pressed (edited in place for ``Reply.replace``). No channel: the user's DM.
    ``team``: the workspace, whose bot token speaks there."""

    user: str
    channel: str = ""
    is_group: bool = False
    thread_ts: str | None = None
    response_url: str | None = None
    message_ts: str | None = None
    team: str = ""


def is_group(channel: str) -> bool:
    """Public (C) and private or multi-person (G) conversations; D is a direct message."""
    return bool(channel) and not channel.startswith("D")


class SlackAdapter:
    """``pacer`` spaces the messages per channel (built by ``bot.bootstrap``). ``client`` speaks
    with ``SLACK_BOT_TOKEN`` in the provider's own workspace (the support desk's); the adapter's
    own calls go through ``workspaces``."""

    def __init__(self, dispatcher: Dispatcher, settings: Settings, pacer: Pacer, metrics: Metrics) -> None:
        self.settings = settings
        self.dispatcher = dispatcher
        self.metrics = metrics
        self._retries = retry_handlers(self.metrics)
        self.client = self.web_client(settings.slack_bot_token)
        self.workspaces = slack_oauth.Workspaces(settings, dispatcher.db, self.web_client)
        self.bolt = self._bolt()
        self.pacer = pacer
        self.socket: AsyncSocketModeHandler | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._locales: dict[str, tuple[str | None, float]] = {}
        self._channels: dict[str, Callable[[dict[str, Any]], Coroutine[Any, Any, None]]] = {}
        self._listen()

    def _bolt(self) -> AsyncApp:
        """One workspace's app (``SLACK_BOT_TOKEN``), or an app any workspace installs: each
        request then authorised with its workspace's bot, and the install flow."""
        settings = self.settings
        common: dict[str, Any] = {
            "signing_secret": settings.slack_signing_secret,
            "request_verification_enabled": not settings.slack_app_token,
            "process_before_response": True,
        }
        if not self.workspaces.installable:
            return AsyncApp(client=self.client, **common)
        return AsyncApp(
            client=self.web_client(None),
            # An AsyncAuthorize, which slack-bolt takes beside an oauth_flow (a plain function it would not).
            authorize=slack_oauth.Authorize(self.workspaces),  # type: ignore[arg-type]
            oauth_flow=slack_oauth.oauth_flow(settings, self.dispatcher.db, self.web_client(None)),
            **common,
        )

    def web_client(self, token: str | None) -> AsyncWebClient:
        """A Web API client speaking with ``token`` (None: a token given per call, or none needed)."""
        return AsyncWebClient(
            token=token or None,
            base_url=self.settings.slack_api_url.rstrip("/") + "/",
            retry_handlers=self._retries,
        )

    async def _client(self, team: str) -> AsyncWebClient:
        return await self.workspaces.client_for(team)

    # -- wiring ---------------------------------------------------------------------------------

    def _listen(self) -> None:
        bolt = self.bolt
        bolt.command(self.settings.slack_command)(self._on_command)
        bolt.event("message")(self._on_message)
        bolt.event("app_mention")(self._on_mention)
        bolt.event("app_home_opened")(self._on_home)
        bolt.action(re.compile(r"^key:"))(self._on_press)
        bolt.action(re.compile(r"^url:"))(self._on_link)
        bolt.action(re.compile(r"^modal:"))(self._on_modal_button)
        bolt.view(re.compile(r"^form:"))(self._on_submit)
        bolt.event("app_uninstalled")(self._on_uninstalled)
        bolt.event("tokens_revoked")(self._on_tokens_revoked)

    async def handle_http(self, request: web.Request) -> web.Response:
        """``POST /slack/events``: 401 unless signed within the last five minutes (checked on the raw
        bytes, before any parsing), 400 for a body that is not UTF-8 JSON or form data, and an empty
        200 for a replay of a request already processed."""
        raw = await request.read()
        signature = request.headers.get("X-Slack-Signature", "")
        if not self.signed(raw, request.headers.get("X-Slack-Request-Timestamp", ""), signature):
            return web.Response(status=401)
        try:
            bolt_request = AsyncBoltRequest(
                body=raw.decode(),
                query=request.query_string,
                headers=request.headers,  # type: ignore[arg-type]
            )
        except (ValueError, TypeError, AttributeError, KeyError, IndexError):  # not UTF-8, JSON, a form
            return web.Response(status=400)
        if not isinstance(bolt_request.body, dict):
            return web.Response(status=400)
        # Events have their own id, remembered with the work they cause (a retry after a crash
        # is processed); anything else is remembered at once by its signature.
        if bolt_request.body.get("type") != "event_callback":
            replay_id = hashlib.sha256(signature.encode(errors="surrogateescape")).hexdigest()
            if not await self.dispatcher.first_time(REPLAYS, replay_id):
                log.warning("ignored a replayed Slack request")
                return web.Response()
        return await to_aiohttp_response(await self.bolt.async_dispatch(bolt_request))

    async def handle_install(self, request: web.Request) -> web.Response:
        """``GET /slack/install``: to Slack's consent screen, with a new state (also in a cookie)."""
        assert self.bolt.oauth_flow is not None
        answer = await self.bolt.oauth_flow.handle_installation(_browser_request(request))
        return await to_aiohttp_response(answer)

    async def handle_oauth_redirect(self, request: web.Request) -> web.Response:
        """``GET /slack/oauth_redirect``: Slack's answer; the install is kept if the state is this
        browser's and still good, and the code gives a bot token."""
        assert self.bolt.oauth_flow is not None
        answer = await self.bolt.oauth_flow.handle_callback(_browser_request(request))
        return await to_aiohttp_response(answer)

    def signed(self, body: bytes, timestamp: str, signature: str) -> bool:
        """Slack's v0 signature of ``body`` at ``timestamp`` (whole seconds, at most five minutes off)."""
        if not is_digits(timestamp) or abs(time.time() - int(timestamp)) > MAX_AGE:
            return False
        secret = self.settings.slack_signing_secret.encode()
        digest = hmac.new(secret, b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(f"v0={digest}".encode(), signature.encode(errors="surrogateescape"))

    async def start_socket_mode(self) -> None:
        # The SDK tells at INFO of every session it opens or leaves; this adapter says it once.
        self.socket = AsyncSocketModeHandler(self.bolt, self.settings.slack_app_token, logger=SOCKET_LOG)
        # The socket's URL first: when Slack cannot be reached the SDK's connect() would retry
        # forever (a traceback each time) instead of failing, for ``supervise`` to back off.
        client = self.socket.client
        client.wss_uri = await client.issue_new_wss_url()
        await self.socket.connect_async()  # type: ignore[no-untyped-call]
        log.info("Slack Socket Mode connected")

    async def close_socket(self) -> None:
        """Stop receiving over Socket Mode (also after a connection attempt that failed)."""
        if self.socket is not None:
            await self.socket.close_async()  # type: ignore[no-untyped-call]
            self.socket = None

    async def close(self, _app: web.Application | None = None) -> None:
        """Finish the work already acknowledged (the socket is closed first, by ``supervise``)."""
        await self.drain()

    def own_channel(
        self, channel: str, on_message: Callable[[dict[str, Any]], Coroutine[Any, Any, None]]
    ) -> None:
        """Hand every person's message in ``channel`` (threads included) to ``on_message`` instead
        of the chat (the support desk owns its channel); run after ``ack()`` like all work."""
        self._channels[channel] = on_message

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` after the ``ack()`` (for listeners added beside the adapter's own); ``drain()``
        waits for it."""
        self._spawn(work)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(self._guarded(work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guarded(self, work: Coroutine[Any, Any, None]) -> None:
        try:
            await work
        except Exception:
            log.exception("Slack work failed")

    async def drain(self) -> None:
        """Wait for the work started after every ``ack()`` so far (shutdown, tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -- inbound --------------------------------------------------------------------------------

    async def _locale(self, team: str, user: str) -> str | None:
        """The Slack user's locale (``users.info`` with ``include_locale``), cached per user."""
        cached = self._locales.get(user)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        locale: str | None = None
        try:
            answer = await (await self._client(team)).users_info(user=user, include_locale=True)
            locale = (answer.get("user") or {}).get("locale")
        except SlackApiError as err:
            log.warning("users.info failed for %s: %s", user, err.response.get("error"))
        if len(self._locales) >= LOCALE_CACHE_SIZE:
            self._locales.clear()
        self._locales[user] = (locale, time.monotonic() + self.settings.slack_locale_cache_seconds)
        return locale

    async def _incoming(self, team: str, user: str, channel: str, **fields: Any) -> Incoming:
        return Incoming(
            PLATFORM,
            user,
            workspace=team,
            chat_id=channel,
            is_group=is_group(channel),
            language=await self._locale(team, user),
            **fields,
        )

    def _form_of(self, text: str, registry: Registry) -> Form | None:
        """The form a slash command starts (opened as a modal), if any; a form asked only step by
        step (``Form.dialog`` False) runs in the chat instead."""
        found = registry.match(text)
        form = found[0].form if found else None
        return form if form is not None and form.dialog else None

    async def _on_command(self, ack: Any, command: dict[str, Any]) -> None:
        await ack()
        self._spawn(self._command(command))

    async def _command(self, command: dict[str, Any]) -> None:
        text = (command.get("text") or "").strip() or "help"
        channel = command.get("channel_id", "")
        incoming = await self._incoming(command.get("team_id", ""), command["user_id"], channel, text=text)
        where = Where(
            command["user_id"],
            channel,
            is_group(channel),
            response_url=command.get("response_url"),
            team=command.get("team_id", ""),
        )
        form = self._form_of(text, self.dispatcher.registry)
        if form and command.get("trigger_id"):
            await self._open_modal(form, incoming, command["trigger_id"], where)
        else:
            await self._run(incoming, where)

    async def _on_message(self, event: dict[str, Any], body: dict[str, Any]) -> None:
        """Direct messages, and the messages of a channel someone owns (``own_channel``); in other
        channels the bot answers mentions. An answer in the thread of one of the bot's messages
        says which (``Incoming.reply_to``)."""
        if event.get("bot_id") or event.get("subtype") not in (None, "thread_broadcast"):
            return
        owner = self._channels.get(event.get("channel", ""))
        if owner is not None:
            self._spawn(owner(event))
            return
        if event.get("channel_type") != "im" or event.get("subtype"):
            return
        where = Where(event["user"], event["channel"], team=body.get("team_id", ""))
        self._spawn(self._message(event, where.team, body.get("event_id"), where))

    async def _on_mention(self, event: dict[str, Any], body: dict[str, Any]) -> None:
        if event.get("bot_id") or event.get("channel", "") in self._channels:
            return
        channel = event["channel"]
        where = Where(
            event["user"],
            channel,
            is_group(channel),
            thread_ts=event.get("thread_ts"),
            team=body.get("team_id", ""),
        )
        self._spawn(self._message(event, where.team, body.get("event_id"), where))

    async def _message(self, event: dict[str, Any], team: str, event_id: str | None, where: Where) -> None:
        text = _MENTION.sub("", event.get("text") or "").strip() or "help"
        thread = event.get("thread_ts")
        incoming = await self._incoming(
            team,
            where.user,
            where.channel,
            text=text,
            update_id=event_id,
            reply_to=thread if thread and thread != event.get("ts") else None,
        )
        await self._run(incoming, where)

    async def _on_uninstalled(self, body: dict[str, Any]) -> None:
        """The app was removed from a workspace: forget the workspace there. Done before Slack gets
        its answer, so that a failure is answered 500 and Slack sends the event again."""
        if body.get("team_id"):
            await self.workspaces.forget(body["team_id"], "app_uninstalled")

    async def _on_tokens_revoked(self, event: dict[str, Any], body: dict[str, Any]) -> None:
        """The workspace revoked the bot's token: as an uninstall (the users' tokens are none of ours)."""
        if body.get("team_id") and (event.get("tokens") or {}).get("bot"):
            await self.workspaces.forget(body["team_id"], "tokens_revoked")

    async def _on_home(self, event: dict[str, Any], body: dict[str, Any]) -> None:
        if event.get("tab", "home") == "home":
            self._spawn(self._publish_home(body.get("team_id", ""), event["user"]))

    def _press_origin(self, body: dict[str, Any]) -> tuple[str, Where]:
        user = body["user"]["id"]
        team = (body.get("team") or {}).get("id") or body["user"].get("team_id", "")
        container = body.get("container") or {}
        channel = (body.get("channel") or {}).get("id") or container.get("channel_id") or ""
        ephemeral = bool(container.get("is_ephemeral"))
        where = Where(
            user,
            channel,
            is_group(channel),
            response_url=body.get("response_url") if ephemeral else None,
            message_ts=container.get("message_ts"),
            team=team,
        )
        return team, where

    async def _on_press(self, ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        team, where = self._press_origin(body)
        self._spawn(self._press(team, where, action.get("value") or ""))

    async def _press(self, team: str, where: Where, key: str) -> None:
        incoming = await self._incoming(team, where.user, where.channel, action_key=key)
        await self._run(incoming, where)

    async def _on_link(self, ack: Any) -> None:
        """A link button opens its URL in the browser; Slack still tells the app, which has nothing to do."""
        await ack()

    async def _on_modal_button(self, ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        team, where = self._press_origin(body)
        form = self.dispatcher.registry.forms.get(str(action.get("value")))
        if form is not None:
            self._spawn(self._modal_from_button(team, where, form, body["trigger_id"]))

    async def _modal_from_button(self, team: str, where: Where, form: Form, trigger_id: str) -> None:
        incoming = await self._incoming(team, where.user, where.channel)
        await self._open_modal(form, incoming, trigger_id, where)

    async def _on_submit(self, ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        form = str(view["callback_id"]).split(":", 1)[1]
        origin = kit.Origin.load(view.get("private_metadata"))
        user = body["user"]["id"]
        team = (body.get("team") or {}).get("id") or body["user"].get("team_id", "")
        submission = Submission(form, kit.answers(view))
        incoming = await self._incoming(team, user, origin.channel, submission=submission)
        replies = await self.dispatcher.handle(incoming)
        if replies and replies[0].errors:
            await ack(response_action="errors", errors=replies[0].errors)
            return
        await ack()
        for reply in replies:
            # What a form produces goes to the user's direct messages with the app.
            self._spawn(self._deliver(reply, Where(user, team=team)))

    # -- work after ack -------------------------------------------------------------------------

    async def _run(self, incoming: Incoming, where: Where) -> None:
        """Dispatch and deliver, the delivery's log lines too naming the update and its account."""
        with update_scope(PLATFORM, incoming.update_id):
            for reply in await self.dispatcher.handle(incoming):
                await self._deliver(reply, where)

    async def _open_modal(self, form: Form, incoming: Incoming, trigger_id: str, where: Where) -> None:
        """Open the form's modal, unless the user may not start it: then say why instead."""
        replies = await self.dispatcher.handle(
            dataclasses.replace(incoming, submission=Submission(form.name))
        )
        if replies and replies[0].opens_form:
            with use_locale(replies[0].language or current()):
                view = kit.modal(form, kit.Origin(where.channel, where.is_group))
            await (await self._client(where.team)).views_open(trigger_id=trigger_id, view=view)
            return
        for refusal in replies:
            await self._deliver(refusal, where)

    async def _publish_home(self, team: str, user: str) -> None:
        incoming = await self._incoming(team, user, "", text="overview", view=True)
        replies = await self.dispatcher.handle(incoming)
        if not replies:
            return
        with use_locale(replies[0].language or current()):
            view = kit.home_view(replies[0], [f for f in self.dispatcher.registry.forms.values() if f.dialog])
        await (await self._client(team)).views_publish(user_id=incoming.user_id, view=view)

    async def _deliver(self, reply: Reply, where: Where) -> None:
        """One reply where it belongs, in as many messages as it takes (``kit.messages``): private
        things to the direct messages, an edit in place when it still fits in one message."""
        if reply.for_requester_only and where.is_group:
            await self._deliver_privately(reply, where)
            return
        with use_locale(reply.language or current()):
            parts = kit.messages(reply)
        if where.response_url and len(parts) > RESPONSE_URL_USES:
            await self._deliver_privately(reply, where)
            return
        if reply.replace and len(parts) == 1 and where.response_url:
            await self._respond(where, *parts[0], replace_original=True)
        elif reply.replace and len(parts) == 1 and where.message_ts and where.channel:
            await self.pacer.wait(where.channel)
            client = await self._client(where.team)
            await client.chat_update(
                channel=where.channel, ts=where.message_ts, text=parts[0][0], blocks=parts[0][1]
            )
        else:
            for text, blocks in parts:
                if where.response_url:
                    await self._respond(where, text, blocks, replace_original=False)
                else:
                    await self.post(reply, text, blocks, where)
        for attachment in reply.attachments:  # never in a channel: see _deliver_privately
            await (await self._client(where.team)).files_upload_v2(
                channel=await self._private_channel(where),
                filename=attachment.filename,
                content=attachment.data,
                title=attachment.title or attachment.filename,
                alt_txt=attachment.title if attachment.content_type.startswith("image/") else None,
            )

    async def _deliver_privately(self, reply: Reply, where: Where) -> None:
        """Pay links, documents and the like go to the requester's direct messages with the app;
        the channel only tells the requester (ephemerally) where to look. So does an answer too
        long for the ``response_url`` of a slash command."""
        dm = Where(where.user, await self._private_channel(where), team=where.team)
        await self._deliver(dataclasses.replace(reply, replace=False), dm)
        with use_locale(reply.language or current()):
            notice = Reply(_("I sent you the details in a private message."), private=True)
            [(text, blocks)] = kit.messages(notice)
        if where.response_url:
            await self._respond(where, text, blocks, replace_original=False)
        else:
            await self.post(notice, text, blocks, where)

    async def _respond(
        self, where: Where, text: str, blocks: list[kit.Block], replace_original: bool
    ) -> None:
        assert where.response_url is not None
        await self.pacer.wait(where.channel or where.user)
        hook = AsyncWebhookClient(where.response_url, retry_handlers=retry_handlers(self.metrics))
        response = await hook.send(
            text=text, blocks=blocks, response_type="ephemeral", replace_original=replace_original
        )
        if response.status_code != 200:
            log.warning("response_url answered %s: %s", response.status_code, response.body)

    async def _private_channel(self, where: Where) -> str:
        if where.channel and not is_group(where.channel):
            return where.channel
        opened = await (await self._client(where.team)).conversations_open(users=where.user)
        return str(opened["channel"]["id"])

    async def post(
        self, reply: Reply, text: str, blocks: list[kit.Block], where: Where, priority: int = REPLY
    ) -> str | None:
        """A new message: ephemeral to the user when private in a channel; returns its ts.
        ``priority``: ``ALERT`` for what the bot starts (a reply to the channel goes first)."""
        channel = where.channel or where.user
        client = await self._client(where.team)
        await self.pacer.wait(channel, priority)
        if reply.private and where.is_group:
            sent = await client.chat_postEphemeral(
                channel=channel, user=where.user, text=text, blocks=blocks, thread_ts=where.thread_ts
            )
            return sent.get("message_ts")
        sent = await client.chat_postMessage(
            channel=channel, text=text, blocks=blocks, thread_ts=where.thread_ts
        )
        return sent.get("ts")

    async def send(self, reply: Reply, channel: str, user: str | None = None, team: str = "") -> str | None:
        """Speak first (alerts): post one ``Reply`` to a channel of workspace ``team``, or to
        ``user``'s DM when no channel is given; a private reply in a channel is shown to ``user``
        only. Paced to one message a second per channel, after the replies waiting for it; a long
        one takes several messages, and the ts returned is the last one's (with the buttons). Buttons need keys sealed by the dispatcher. ``slack_oauth.NotInstalled``
        when the app is not in ``team``."""
        where = Where(user or "", channel, is_group(channel), team=team)
        ts: str | None = None
        for text, blocks in kit.messages(reply):
            ts = await self.post(reply, text, blocks, where, ALERT)
        return ts


def _browser_request(request: web.Request) -> AsyncBoltRequest:
    """A browser's GET (the install flow) as slack-bolt reads it: the query and the cookies."""
    return AsyncBoltRequest(body="", query=request.query_string, headers=request.headers)  # type: ignore[arg-type]


SLACK_KEY = web.AppKey("slack", SlackAdapter)


def setup(web_app: web.Application, adapter: SlackAdapter) -> None:
    """Mount Slack on the web app: Socket Mode with an app-level token, otherwise HTTP events at
    ``/slack/events``; the install flow's two pages when the app is installable by any workspace."""
    settings = adapter.settings
    web_app[SLACK_KEY] = adapter
    if adapter.bolt.oauth_flow is not None:
        web_app.router.add_get(slack_oauth.INSTALL_PATH, adapter.handle_install)
        web_app.router.add_get(slack_oauth.REDIRECT_PATH, adapter.handle_oauth_redirect)
    if settings.slack_app_token:
        # Slack unreachable: the app serves anyway and Socket Mode keeps trying (see /healthz).
        web_app.cleanup_ctx.append(
            lambda web_app: supervise(web_app, "slack", adapter.start_socket_mode, adapter.close_socket)
        )
    else:
        web_app.router.add_post("/slack/events", adapter.handle_http)
    web_app.on_cleanup.append(adapter.close)
