"""A fake Telegram Bot API served by aiohttp on 127.0.0.1: records every call, serves updates to
long polling, and can be told to answer 429 (flood control) or 403 (user never opened a chat).

python-telegram-bot talks to it for real (``base_url``); tests read ``calls`` to see what was sent.
Reused by every test (and the benchmark) that needs Telegram.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

BOT_ID = 4242
BOT_USERNAME = "hostbot_test_bot"
TOKEN = f"{BOT_ID}:TEST-token"
# Chat ids: users are positive; groups are negative (like Telegram's supergroups).
HANG = 30  # seconds: a test that waits longer than this has failed
MESSAGE_METHODS = frozenset({"sendMessage", "sendDocument", "sendPhoto"})


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)
    status: int = 200
    result: Any = None

    @property
    def chat_id(self) -> int | None:
        value = self.params.get("chat_id")
        return int(value) if value is not None else None

    @property
    def buttons(self) -> list[dict[str, Any]]:
        markup = self.params.get("reply_markup") or {}
        return [b for row in markup.get("inline_keyboard", []) for b in row]

    def button(self, text: str) -> dict[str, Any]:
        for b in self.buttons:
            if b["text"] == text:
                return b
        raise AssertionError(f"no button {text!r} in {[b['text'] for b in self.buttons]}")


def _decode(value: str) -> Any:
    """python-telegram-bot sends form fields; objects and lists are JSON-encoded inside them."""
    if value[:1] in "{[":
        return json.loads(value)
    return value


def _as_field(value: Any) -> Any:
    """A JSON body's value as a form field would have given it: scalars as their text."""
    if isinstance(value, str | dict | list):
        return value
    return json.dumps(value)


class FakeTelegramAPI:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.pending: list[dict[str, Any]] = []
        self.failures: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        self.no_private_chat: set[int] = set()
        self._changed = asyncio.Condition()
        self._message_ids = itertools.count(1000)
        self._update_ids = itertools.count(1)
        self._server: TestServer | None = None
        self.files: dict[str, bytes] = {}  # what users sent, by file id (getFile, then a download)
        self.downloads: list[str] = []  # the file paths downloaded, in order

    # -- server ---------------------------------------------------------------------------

    async def start(self, port: int = 0) -> str:
        """Serve on ``port`` (any free one by default); returns the base URL."""
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_post("/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        self._server = TestServer(app, host="127.0.0.1", port=port)
        await self._server.start_server()
        return self.url

    @property
    def url(self) -> str:
        assert self._server is not None
        return str(self._server.make_url("")).rstrip("/")

    async def close(self) -> None:
        if self._server is not None:
            await self._server.close()

    # -- what tests arrange ---------------------------------------------------------------

    def fail_next(self, method: str, retry_after: float, times: int = 1) -> None:
        """The next ``times`` calls of ``method`` answer 429 with ``retry_after`` seconds."""
        body = {
            "ok": False,
            "error_code": 429,
            "description": f"Too Many Requests: retry after {retry_after}",
            "parameters": {"retry_after": retry_after},
        }
        self.failures.setdefault(method, []).extend([(429, body)] * times)

    def message_update(
        self, user: int, text: str, chat: int | None = None, language: str | None = "en"
    ) -> dict[str, Any]:
        chat = user if chat is None else chat
        return {
            "update_id": next(self._update_ids),
            "message": {
                "message_id": next(self._message_ids),
                "date": int(time.time()),
                "chat": self._chat(chat),
                "from": self._user(user, language),
                "text": text,
            },
        }

    def file_update(
        self,
        user: int,
        data: bytes,
        caption: str | None = None,
        *,
        name: str | None = None,
        mime_type: str = "",
        size: int | None = None,
        reply_to: dict[str, Any] | None = None,
        language: str | None = "en",
    ) -> dict[str, Any]:
        """A user sends ``data``: a document named ``name`` (of ``mime_type``), else a photo;
        ``size``: what the message claims (by default the real size); ``reply_to``: the bot's
        message it answers (as the bot sent it: the result of a recorded call)."""
        file_id = f"file{len(self.files) + 1}"
        self.files[file_id] = data
        media = {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "file_size": len(data) if size is None else size,
        }
        update = self.message_update(user, "", language=language)
        message = update["message"]
        del message["text"]
        if name is not None:
            message["document"] = {**media, "file_name": name, "mime_type": mime_type}
        else:
            message["photo"] = [{**media, "width": 640, "height": 480}]
        if caption is not None:
            message["caption"] = caption
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        return update

    def callback_update(
        self, user: int, data: str, message: dict[str, Any], language: str | None = "en"
    ) -> dict[str, Any]:
        """A press on a button of ``message`` (as the bot sent it: the result of a recorded call)."""
        return {
            "update_id": next(self._update_ids),
            "callback_query": {
                "id": f"cq{next(self._message_ids)}",
                "from": self._user(user, language),
                "chat_instance": "ci",
                "message": message,
                "data": data,
            },
        }

    def push(self, update: dict[str, Any]) -> None:
        """Make ``update`` available to the next getUpdates (long polling)."""
        self.pending.append(update)
        asyncio.get_running_loop().create_task(self._notify())

    # -- what tests read ------------------------------------------------------------------

    def sent(self, chat: int | None = None, since: int = 0) -> list[Call]:
        """Messages and edits (not getUpdates, answers or menus), optionally to one chat."""
        return [
            c
            for c in self.calls[since:]
            if c.status == 200
            and (c.method in MESSAGE_METHODS or c.method == "editMessageText")
            and (chat is None or c.chat_id == chat)
        ]

    def of(self, method: str, since: int = 0) -> list[Call]:
        return [c for c in self.calls[since:] if c.method == method]

    async def wait_for(self, condition: Callable[[], bool]) -> None:
        """Until ``condition()`` holds after some call (the time limit only guards against a hang)."""
        async with asyncio.timeout(HANG), self._changed:
            await self._changed.wait_for(condition)

    def acknowledged(self, update_id: int) -> bool:
        """The poller asked for updates after ``update_id``: it has taken it."""
        return any(int(c.params.get("offset", 0)) > update_id for c in self.of("getUpdates"))

    # -- the API ----------------------------------------------------------------------------

    @staticmethod
    def _user(user: int, language: str | None) -> dict[str, Any]:
        found: dict[str, Any] = {"id": user, "is_bot": False, "first_name": f"User{user}"}
        if language:
            found["language_code"] = language
        return found

    @staticmethod
    def _chat(chat: int) -> dict[str, Any]:
        if chat > 0:
            return {"id": chat, "type": "private", "first_name": f"User{chat}"}
        return {"id": chat, "type": "supergroup", "title": "Team"}

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params: dict[str, Any] = {}
        files: dict[str, bytes] = {}
        if request.content_type.startswith("multipart/"):
            reader = await request.multipart()
            async for part in reader:
                if part.filename is not None:  # type: ignore[union-attr]
                    files[part.name or ""] = await part.read()  # type: ignore[union-attr]
                else:
                    params[part.name or ""] = _decode(await part.text())  # type: ignore[union-attr]
        elif request.content_type == "application/json":  # as the bot sends a call without files
            params = {k: _as_field(v) for k, v in (await request.json()).items()}
        else:
            params = {k: _decode(v) for k, v in (await request.post()).items() if isinstance(v, str)}
        call = Call(method, params, files)
        queued = self.failures.get(method)
        if queued:
            call.status, body = queued.pop(0)
            self.calls.append(call)
            await self._notify()
            return web.json_response(body, status=call.status)
        chat = int(params["chat_id"]) if "chat_id" in params else None
        if method in MESSAGE_METHODS and chat in self.no_private_chat:
            call.status = 403
            self.calls.append(call)
            await self._notify()
            body = {
                "ok": False,
                "error_code": 403,
                "description": "Forbidden: bot can't initiate conversation",
            }
            return web.json_response(body, status=403)
        if method == "getUpdates":
            self.calls.append(call)  # on arrival: the offset acknowledges earlier updates
            await self._notify()
            return web.json_response({"ok": True, "result": await self._get_updates(params)})
        call.result = self._result(method, params, chat)
        self.calls.append(call)
        await self._notify()
        return web.json_response({"ok": True, "result": call.result})

    async def _download(self, request: web.Request) -> web.Response:
        """A file path getFile handed out, with the bot's token in the URL as the Bot API wants."""
        if request.match_info["token"] != TOKEN:
            return web.Response(status=401)
        path = request.match_info["path"]
        data = self.files.get(path.rsplit("/", 1)[-1])
        if data is None:
            return web.Response(status=404)
        self.downloads.append(path)
        await self._notify()
        return web.Response(body=data)

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset", 0))
        self.pending = [u for u in self.pending if u["update_id"] >= offset]
        if not self.pending:
            timeout = float(params.get("timeout", 0))
            try:
                async with asyncio.timeout(timeout), self._changed:
                    await self._changed.wait_for(lambda: bool(self.pending))
            except TimeoutError:
                return []
        return list(self.pending)

    def _result(self, method: str, params: dict[str, Any], chat: int | None) -> Any:
        if method == "getMe":
            return {
                "id": BOT_ID,
                "is_bot": True,
                "first_name": "Hostbot",
                "username": BOT_USERNAME,
                "can_join_groups": True,
                "can_read_all_group_messages": False,
                "supports_inline_queries": False,
            }
        if method == "getFile":
            file_id = str(params["file_id"])
            size = len(self.files[file_id])
            return {
                "file_id": file_id,
                "file_unique_id": f"u{file_id}",
                "file_size": size,
                "file_path": f"documents/{file_id}",
            }
        if method in MESSAGE_METHODS or method == "editMessageText":
            assert chat is not None
            message: dict[str, Any] = {
                "message_id": int(params.get("message_id") or next(self._message_ids)),
                "date": int(time.time()),
                "chat": self._chat(chat),
                "from": {"id": BOT_ID, "is_bot": True, "first_name": "Hostbot"},
            }
            if "text" in params:
                message["text"] = params["text"]
            if "reply_markup" in params:
                message["reply_markup"] = params["reply_markup"]
            if method == "sendDocument":
                message["document"] = {"file_id": "doc", "file_unique_id": "doc"}
            if method == "sendPhoto":
                message["photo"] = [{"file_id": "ph", "file_unique_id": "ph", "width": 1, "height": 1}]
            return message
        return True
