"""Telegram through python-telegram-bot: updates in as ``Incoming``, ``Reply`` out as messages.

Long polling by default; with ``TELEGRAM_WEBHOOK_URL`` the project's aiohttp app receives the
updates (the ``Application`` is built without an ``Updater``). Every outbound call is paced by
``bot.core.pacing.Pacer`` (per chat, per group and overall) and waits out a 429 instead of dropping
a reply; what the bot starts (alerts) is sent with the ``ALERT`` priority, so that a reply to the
same chat goes first.
Telegram's own deadline lives here: every callback query is answered.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hmac
import logging
import re
import warnings
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from aiohttp import web
from limits import parse
from telegram import (
    Bot,
    BotCommand,
    CallbackQuery,
    Document,
    InputFile,
    Message,
    PhotoSize,
    Update,
)
from telegram.constants import ChatType, MessageLimit
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError
from telegram.ext import (
    Application,
    BaseRateLimiter,
    BaseUpdateProcessor,
    CallbackQueryHandler,
    ContextTypes,
    ExtBot,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBDeprecationWarning, PTBUserWarning

from bot.adapters.telegram_http import AiohttpRequest
from bot.config import Settings
from bot.core.dispatcher import Deliver, Dispatcher
from bot.core.i18n import LANGUAGES, normalize, use_locale
from bot.core.i18n import gettext as _
from bot.core.limiting import Limiter
from bot.core.logs import update_scope
from bot.core.metrics import Metrics
from bot.core.pacing import REPLY, Pacer
from bot.core.registry import Registry, fold
from bot.core.types import Incoming, IncomingFile, Reply
from bot.supervision import supervise

log = logging.getLogger("hostbot.telegram")
# PTB tells at INFO that it starts and stops; the process says it once itself ("stopped").
logging.getLogger("telegram.ext.Application").setLevel(logging.WARNING)
# ``TelegramAdapter._post`` calls these through ``do_api_request`` on purpose: to keep the JSON.
warnings.filterwarnings("ignore", r"Please use 'Bot\.(sendMessage|editMessageText)'", PTBUserWarning)

WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
UPDATES = ["message", "callback_query"]
COMMAND_NAME = re.compile(r"[a-z0-9_]{1,32}")
CONNECTIONS = 16
ALERT_LIMIT = 200  # Telegram shows at most 200 characters in a callback answer

TelegramApp = Application[Any, Any, Any, Any, Any, Any]


def is_group(chat: object) -> bool:
    """Group and channel ids are negative (a channel may also be named ``@name``); a user's is not."""
    return str(chat).startswith(("-", "@"))


class PacedLimiter(BaseRateLimiter[int]):
    """Waits for the pacer before every call to a chat, with the call's priority (its
    ``rate_limit_args``: ``bot.core.pacing.ALERT`` for what the bot starts, else a reply); on 429
    waits the full ``retry_after`` and tries again, as often as needed (a reply is late rather than
    lost)."""

    def __init__(self, pacer: Pacer, metrics: Metrics) -> None:
        self.pacer = pacer
        self.metrics = metrics

    async def initialize(self) -> None:
        """Nothing to set up: the pacer's windows live in its storage."""

    async def shutdown(self) -> None:
        """Nothing to release."""

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        chat = data.get("chat_id")
        priority = REPLY if rate_limit_args is None else rate_limit_args
        while True:
            try:
                if chat is None:
                    return await callback(*args, **kwargs)
                async with self.pacer.sending(str(chat), priority, group=is_group(chat)):
                    return await callback(*args, **kwargs)
            except RetryAfter as err:
                self.metrics.rate_limited.labels("telegram").inc()
                with warnings.catch_warnings():  # an int of seconds until PTB switches to timedelta
                    warnings.simplefilter("ignore", PTBDeprecationWarning)
                    wait = err.retry_after
                seconds = wait.total_seconds() if isinstance(wait, dt.timedelta) else float(wait)
                log.warning("%s to chat %s: flood control, retrying in %.1f s", endpoint, chat, seconds)
                await asyncio.sleep(seconds)


class ChatOrder(BaseUpdateProcessor):
    """Updates of different chats run concurrently; those of one chat run in arrival order (so the
    answers of a form are never taken out of turn)."""

    def __init__(self, max_concurrent_updates: int) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, tuple[asyncio.Lock, int]] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        chat = update.effective_chat if isinstance(update, Update) else None
        user = update.effective_user if isinstance(update, Update) else None
        key = chat.id if chat else user.id if user else 0
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                await coroutine
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""


def _fetcher(media: PhotoSize | Document) -> Callable[[int], Awaitable[bytes]]:
    """Download through the Bot API: ``getFile``, then the file from the bot's file URL (the size
    was checked on the message's own; the Bot API gives bots files of at most 20 MB)."""

    async def fetch(limit: int) -> bytes:
        found = await media.get_file()
        return bytes(await found.download_as_bytearray())

    return fetch


def files_of(message: Message) -> tuple[IncomingFile, ...]:
    """A photo (its largest size, always a JPEG) or a document sent with the message."""
    if message.photo:
        largest = message.photo[-1]
        return (IncomingFile("photo.jpg", "image/jpeg", largest.file_size or 0, _fetcher(largest)),)
    document = message.document
    if document is not None:
        name, media_type = document.file_name or "file", document.mime_type or ""
        return (IncomingFile(name, media_type, document.file_size or 0, _fetcher(document)),)
    return ()


def to_incoming(update: Update) -> Incoming | None:
    """The neutral form of a text message (or a photo or document with its caption) or a button
    press; None for anything else."""
    user, chat = update.effective_user, update.effective_chat
    if user is None or user.is_bot:
        return None
    group = chat is not None and chat.type in (ChatType.GROUP, ChatType.SUPERGROUP)
    common: dict[str, Any] = {
        "platform": "telegram",
        "user_id": str(user.id),
        "chat_id": str(chat.id if chat else user.id),
        "is_group": group,
        "linked_only": group,  # in a group the bot answers only to linked users
        "language": user.language_code,
        "update_id": str(update.update_id),
    }
    if update.callback_query is not None:
        return Incoming(action_key=update.callback_query.data or "", **common)
    if update.message is not None:
        answered = update.message.reply_to_message
        reply_to = str(answered.message_id) if answered is not None else None
        files = files_of(update.message)
        text = update.message.caption if files else update.message.text
        return Incoming(text=text, reply_to=reply_to, files=files, **common)
    return None


def utf16_len(text: str) -> int:
    """Telegram counts message length in UTF-16 code units (an emoji may count twice)."""
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str, limit: int = MessageLimit.MAX_TEXT_LENGTH) -> list[str]:
    """Pieces of at most ``limit`` that Telegram accepts, cut between lines where possible."""
    chunks: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        if utf16_len(current + line) <= limit:
            current += line
            continue
        if current:
            chunks.append(current)
            current = ""
        while utf16_len(line) > limit:
            size = 0
            for i, ch in enumerate(line):
                size += utf16_len(ch)
                if size > limit:
                    chunks.append(line[:i])
                    line = line[i:]
                    break
        current = line
    if current:
        chunks.append(current)
    return [c.rstrip("\n") for c in chunks if c.strip()]


def keyboard(reply: Reply) -> dict[str, Any] | None:
    """Buttons as an inline keyboard: the opaque key as callback data, or a URL to open. Built as
    the Bot API's JSON, not as PTB objects turned back into it for every message."""
    rows = []
    for row in reply.buttons:
        cells = [
            {"text": b.label, "url": b.url} if b.url else {"text": b.label, "callback_data": b.key}
            for b in row
            if b.url or b.key
        ]
        if cells:
            rows.append(cells)
    return {"inline_keyboard": rows} if rows else None


def menu_name(alias: str) -> str:
    """An alias as Telegram accepts a command: folded to ASCII, words joined by ``_``
    ("destek paketi" -> ``destek_paketi``; the registry reads ``_`` as a space)."""
    return fold(alias).replace(" ", "_")


def bot_commands(registry: Registry, lang: str) -> list[BotCommand]:
    """The command menu in one language: every command, under its alias in that language, with
    its summary."""
    with use_locale(lang):
        menu = [BotCommand(menu_name(cmd.alias_for(lang)), _(cmd.summary)) for cmd in registry.visible()]
    wrong = [c.command for c in menu if not COMMAND_NAME.fullmatch(c.command)]
    if wrong:
        raise ValueError(f"not valid as Telegram commands in {lang}: {', '.join(wrong)}")
    return menu


def deep_link(username: str, code: str) -> str:
    """The link that opens a private chat with the bot and sends ``/start CODE`` on one tap."""
    return f"https://t.me/{username.lstrip('@')}?start={code}"


def _api_urls(settings: Settings) -> tuple[str, str]:
    root = settings.telegram_api_url.rstrip("/")
    return f"{root}/bot", f"{root}/file/bot"


async def bot_username(settings: Settings) -> str:
    """``TELEGRAM_BOT_USERNAME``, else asked from the Bot API (getMe)."""
    if settings.telegram_bot_username:
        return settings.telegram_bot_username.lstrip("@")
    base_url, base_file_url = _api_urls(settings)
    async with Bot(
        settings.telegram_bot_token,
        base_url=base_url,
        base_file_url=base_file_url,
        request=AiohttpRequest(1),
        get_updates_request=AiohttpRequest(1),
    ) as bot:
        return bot.username


class TelegramAdapter:
    """``pacer`` spaces every Bot API call; ``limiter`` counts link-code attempts (built by ``bot.bootstrap``)."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        settings: Settings,
        pacer: Pacer,
        limiter: Limiter,
        metrics: Metrics,
        poll_timeout: int = 10,
    ) -> None:
        self.dispatcher = dispatcher
        self.settings = settings
        self.webhook = bool(settings.telegram_webhook_url)
        if self.webhook and not settings.telegram_webhook_secret:
            raise ValueError("TELEGRAM_WEBHOOK_SECRET is required with TELEGRAM_WEBHOOK_URL")
        self.poll_timeout = poll_timeout
        base_url, base_file_url = _api_urls(settings)
        builder = (
            Application.builder()
            .token(settings.telegram_bot_token)
            .base_url(base_url)
            .base_file_url(base_file_url)
            .rate_limiter(PacedLimiter(pacer, metrics))
            .request(AiohttpRequest(CONNECTIONS))
            .get_updates_request(AiohttpRequest(1))
            .concurrent_updates(ChatOrder(64))
        )
        if self.webhook:
            builder = builder.updater(None)
        self.application: TelegramApp = builder.build()
        # A message with text is never a service message (someone joined, a pin ...): checked
        # first, it spares most messages the test of each of the service messages' fields.
        messages = filters.UpdateType.MESSAGE & (filters.TEXT | ~filters.StatusUpdate.ALL)
        self.application.add_handler(MessageHandler(messages, self._on_update))
        self.application.add_handler(CallbackQueryHandler(self._on_update))
        self.application.add_error_handler(self._on_error)
        self._link_limit = parse(settings.telegram_link_attempts)
        self._link_limiter = limiter

    @property
    def bot(self) -> Bot:
        bot: Bot = self.application.bot
        return bot

    @property
    def paced_bot(self) -> ExtBot[int]:
        """The bot with its rate limiter, whose calls take a priority (``rate_limit_args``)."""
        bot: ExtBot[int] = self.application.bot
        return bot

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect (getMe), publish the command menu, then poll or register the webhook."""
        await self.application.initialize()
        await self.publish_commands()
        if self.webhook:
            await self.bot.set_webhook(
                self.settings.telegram_webhook_url,
                secret_token=self.settings.telegram_webhook_secret,
                allowed_updates=UPDATES,
            )
        else:
            assert self.application.updater is not None
            await self.application.updater.start_polling(timeout=self.poll_timeout, allowed_updates=UPDATES)
        await self.application.start()
        log.info("telegram: @%s via %s", self.bot.username, "webhook" if self.webhook else "polling")

    @property
    def running(self) -> bool:
        return bool(self.application.running)

    async def stop(self) -> None:
        """Stop polling, finish the updates in hand, close the connections (also after a start
        that failed halfway: PTB leaves a bot whose ``getMe`` failed with its sessions open)."""
        updater = self.application.updater
        if updater is not None and updater.running:
            await updater.stop()
        if self.application.running:
            await self.application.stop()
        await self.application.shutdown()
        await self.bot.shutdown()

    async def publish_commands(self) -> None:
        """``setMyCommands`` for each language, and English for everyone else."""
        registry = self.dispatcher.registry
        await self.bot.set_my_commands(bot_commands(registry, self.settings.default_language))
        for lang in LANGUAGES:
            await self.bot.set_my_commands(bot_commands(registry, lang), language_code=lang)

    # -- inbound ------------------------------------------------------------------------------

    async def webhook_handler(self, request: web.Request) -> web.Response:
        """Telegram's POST: the secret is checked (constant time) before the body is even read."""
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, self.settings.telegram_webhook_secret.encode()):
            return web.Response(status=401)
        if not self.running:  # still connecting to the Bot API, or stopping: Telegram sends it again
            return web.Response(status=503)
        try:
            update = Update.de_json(await request.json(), self.bot)
        except (ValueError, KeyError, TypeError, AttributeError):  # not JSON, or not an update
            return web.Response(status=400)
        # Processed before answering: if this replica dies midway, Telegram delivers it again.
        await self.application.update_processor.process_update(
            update, self.application.process_update(update)
        )
        return web.Response()

    async def _on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        incoming = to_incoming(update)
        if incoming is None or self._for_another_bot(incoming):
            return
        with update_scope(incoming.platform, incoming.update_id):
            await self._answer_update(update, incoming)

    async def _answer_update(self, update: Update, incoming: Incoming) -> None:
        """Dispatch, send the replies as soon as the dispatcher has them (before it writes what can
        wait), and answer a button press (in the update's log scope). A failure to send is raised
        once the dispatcher is done: the update is handled and kept whatever the Bot API said."""
        query = update.callback_query
        toast: list[str] = []
        failed: list[Exception] = []
        pressed = query.message if query is not None and isinstance(query.message, Message) else None

        async def deliver(replies: list[Reply]) -> None:
            if query is not None and incoming.is_group and self._is_toast(replies):
                toast.append(replies[0].text)
                return
            try:
                for reply in replies:
                    await self.render(incoming, reply, pressed)
            except Exception as err:  # raised below, once the update's work is saved
                failed.append(err)

        try:
            await self._dispatch(incoming, deliver)
            if failed:
                raise failed[0]
        finally:
            if query is not None:
                await self._answer(query, toast[0] if toast else None)

    @staticmethod
    async def _on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("telegram update %r failed", update, exc_info=context.error)

    def _for_another_bot(self, incoming: Incoming) -> bool:
        """``/balance@other_bot`` in a group is not for us."""
        head = incoming.text.split(maxsplit=1)[0] if incoming.text and incoming.text.strip() else ""
        if not head.startswith("/") or "@" not in head:
            return False
        return head.split("@", 1)[1].casefold() != (self.bot.username or "").casefold()

    async def _dispatch(self, incoming: Incoming, deliver: Deliver) -> None:
        """Link attempts (``/start CODE``) are limited per Telegram user before the code is tried."""
        found = self.dispatcher.registry.match(incoming.text) if incoming.text else None
        if found is not None and found[0].name == "start" and found[1]:
            allowed = await self._link_limiter.hit(self._link_limit, "telegram-link", incoming.user_id)
            if not allowed:
                with use_locale(self._language(incoming)):
                    text = _("Too many link attempts. Please wait a few minutes, then try again.")
                await deliver([Reply(text)])
                return
        await self.dispatcher.handle(incoming, deliver)

    @staticmethod
    def _is_toast(replies: list[Reply]) -> bool:
        """A short plain answer to a press in a group (already handled, expired, not found) is shown
        only to the person who pressed, instead of to the whole group."""
        return (
            len(replies) == 1
            and not replies[0].buttons
            and not replies[0].attachments
            and not replies[0].replace
            and not replies[0].private
            and len(replies[0].text) <= ALERT_LIMIT
        )

    @staticmethod
    async def _answer(query: CallbackQuery, alert: str | None) -> None:
        """Every press gets an answer (Telegram shows a spinner until then)."""
        try:
            await query.answer(alert, show_alert=alert is not None)
        except TelegramError as err:  # too old, or the network failed: the reply is already out
            log.info("callback answer failed: %s", err)

    def _language(self, incoming: Incoming) -> str:
        return normalize(incoming.language) or self.settings.default_language

    # -- outbound -----------------------------------------------------------------------------

    async def render(self, incoming: Incoming, reply: Reply, pressed: Message | None = None) -> None:
        """One reply where it belongs: private things to the private chat, edits in place."""
        if reply.for_requester_only and incoming.is_group:
            await self._send_privately(incoming, reply)
            return
        if reply.replace and pressed is not None and not reply.attachments:
            chunks = split_text(reply.text)
            if len(chunks) == 1:
                try:
                    await self._post(
                        "editMessageText",
                        {
                            "chat_id": pressed.chat.id,
                            "message_id": pressed.message_id,
                            "text": chunks[0],
                            "reply_markup": keyboard(reply),
                        },
                    )
                    return
                except BadRequest as err:
                    if "not modified" in str(err).lower():
                        return
                    log.info("edit failed (%s): sending a new message", err)
        await self.send(int(incoming.chat_id), reply)

    async def _send_privately(self, incoming: Incoming, reply: Reply) -> None:
        try:
            await self.send(int(incoming.user_id), reply)
            with use_locale(self._language(incoming)):
                notice = _("I sent you the details in a private message.")
        except Forbidden:
            with use_locale(self._language(incoming)):
                notice = _(
                    "I can only send this in a private chat. Open a chat with me, press Start, "
                    "then ask again."
                )
        await self.bot.send_message(int(incoming.chat_id), notice)

    async def _post(self, endpoint: str, fields: dict[str, object], priority: int = REPLY) -> Any:
        """A Bot API call whose result is kept as JSON, not parsed back into PTB objects (parsing
        every sent message into a ``Message`` to read its id was half of PTB's CPU per update).
        PTB still encodes the request and raises its errors (``RetryAfter``, ``Forbidden`` ...),
        on the same transport, and the call is paced like any other."""
        return await self.paced_bot.do_api_request(endpoint, fields, rate_limit_args=priority)

    async def send(self, chat_id: int, reply: Reply, priority: int = REPLY) -> int:
        """Send one reply to a chat (also for messages the bot starts, such as alerts, with the
        ``ALERT`` priority): the text in pieces Telegram accepts, the buttons under the last piece,
        then the attachments. Returns the id of the message that carries the buttons (the last
        text piece)."""
        bot = self.paced_bot
        chunks = split_text(reply.text)
        message_id = 0
        for i, chunk in enumerate(chunks):
            markup = keyboard(reply) if i == len(chunks) - 1 else None
            fields = {"chat_id": chat_id, "text": chunk, "reply_markup": markup}
            message_id = int((await self._post("sendMessage", fields, priority))["message_id"])
        for attachment in reply.attachments:
            document = InputFile(attachment.data, filename=attachment.filename)
            if attachment.content_type in ("image/png", "image/jpeg"):
                caption = attachment.title or None
                sent = await bot.send_photo(chat_id, document, caption=caption, rate_limit_args=priority)
            else:
                name = attachment.filename
                sent = await bot.send_document(chat_id, document, filename=name, rate_limit_args=priority)
            message_id = message_id or sent.message_id
        return message_id


TELEGRAM = web.AppKey("telegram", TelegramAdapter)


def setup(web_app: web.Application, adapter: TelegramAdapter) -> None:
    """Serve Telegram from the web app: the webhook route in webhook mode, and in both modes start
    and stop the bot with the app. When the Bot API cannot be reached the app serves anyway, and
    the bot keeps trying with backoff (see ``/healthz``)."""
    web_app[TELEGRAM] = adapter
    if adapter.webhook:
        web_app.router.add_post(WEBHOOK_PATH, adapter.webhook_handler)

    web_app.cleanup_ctx.append(lambda web_app: supervise(web_app, "telegram", adapter.start, adapter.stop))
