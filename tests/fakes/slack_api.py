"""A fake Slack Web API on aiohttp (127.0.0.1, port 0) that records every call.

It answers the methods hostbot uses, serves ``response_url`` hooks under ``/hooks/``, and can
answer a method with 429 and a ``Retry-After`` header first. Tests wait for calls with
``wait_for`` (woken by each call, never by polling).

Several workspaces: each call records the token it was made with (``Call.token``); ``auth.test``
names the workspace of each token in ``bots`` (else ``team``); ``oauth.v2.access`` exchanges a code
``grant``ed for a workspace once, for the app's ``client_id`` and ``client_secret`` only.

Messages (``chat.*`` and ``response_url`` hooks) are checked as Slack checks them
(``tests.fakes.block_kit``): one Slack would refuse is answered with Slack's error, and recorded
with it (``Call.error``), never among the calls ``of`` returns.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.block_kit import refusal

MESSAGES = ("chat.postMessage", "chat.postEphemeral", "chat.update")


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    status: int = 200
    at: float = field(default_factory=time.monotonic)
    token: str = ""
    error: str = ""

    def blocks(self) -> list[dict[str, Any]]:
        raw = self.args.get("blocks") or (self.args.get("view") or {}).get("blocks") or []
        return json.loads(raw) if isinstance(raw, str) else list(raw)

    def view(self) -> dict[str, Any]:
        raw = self.args.get("view") or {}
        return json.loads(raw) if isinstance(raw, str) else dict(raw)

    def buttons(self) -> dict[str, dict[str, Any]]:
        """Every button of the message or view by its label."""
        return {
            e["text"]["text"]: e
            for b in self.blocks()
            if b["type"] == "actions"
            for e in b["elements"]
            if e.get("type") == "button"
        }

    @property
    def text(self) -> str:
        return str(self.args.get("text", ""))


@dataclass
class FakeSlackAPI:
    team: str = "T0001"
    bot_user: str = "UBOT"
    locales: dict[str, str] = field(default_factory=dict)
    # conversations.members: the members of each channel, served ``page_size`` at a time.
    members: dict[str, list[str]] = field(default_factory=dict)
    page_size: int = 100
    # Bot tokens by the workspace they speak in (auth.test), and the codes oauth.v2.access takes.
    bots: dict[str, str] = field(default_factory=dict)
    client_id: str = "1111.2222"
    client_secret: str = "test-client-secret"
    grants: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    url: str = ""
    _throttled: dict[str, list[int]] = field(default_factory=dict)
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    _runner: web.AppRunner | None = None
    _ts: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _sockets: list[web.WebSocketResponse] = field(default_factory=list)

    async def start(self, port: int = 0) -> FakeSlackAPI:
        """Serve on ``port`` (any free one by default)."""
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/hooks/{name}", self._hook)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_get("/socket", self._socket)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        for ws in self._sockets:
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    def hook(self, name: str) -> str:
        return f"{self.url}/hooks/{name}"

    def throttle(self, method: str, retry_after: int, times: int = 1) -> None:
        """Answer the next ``times`` calls of ``method`` with 429 and ``Retry-After``."""
        self._throttled.setdefault(method, []).extend([retry_after] * times)

    def of(self, *methods: str) -> list[Call]:
        return [c for c in self.calls if c.method in methods and c.status == 200 and not c.error]

    def grant(self, code: str, team: str, token: str, name: str = "", installer: str = "UADMIN") -> None:
        """Slack's consent screen, accepted: ``code`` gives ``token``, the bot token of ``team``."""
        self.bots[token] = team
        self.grants[code] = {"team": team, "name": name or team, "token": token, "installer": installer}

    async def wait_for(self, method: str, count: int = 1, within: float = 10) -> list[Call]:
        async def enough() -> list[Call]:
            async with self._changed:
                await self._changed.wait_for(lambda: len(self.of(method)) >= count)
                return self.of(method)

        return await asyncio.wait_for(enough(), within)

    async def _record(self, call: Call) -> None:
        self.calls.append(call)
        async with self._changed:
            self._changed.notify_all()

    async def _args(self, request: web.Request) -> dict[str, Any]:
        args: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            args.update(await request.json())
        elif request.can_read_body:
            args.update(dict(await request.post()))
        return args

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args = await self._args(request)
        token = request.headers.get("Authorization", "").removeprefix("Bearer ") or str(args.get("token", ""))
        queue = self._throttled.get(method)
        if queue:
            await self._record(Call(method, args, 429, token=token))
            return web.json_response(
                {"ok": False, "error": "ratelimited"}, status=429, headers={"Retry-After": str(queue.pop(0))}
            )
        refused = refusal(str(args.get("text", "")), args.get("blocks")) if method in MESSAGES else None
        await self._record(Call(method, args, token=token, error=refused or ""))
        if refused:
            return web.json_response({"ok": False, "error": refused})
        if method == "oauth.v2.access":
            return web.json_response(self._exchange(request.headers.get("Authorization", ""), args))
        return web.json_response(self._answer(method, args, token))

    def _exchange(self, authorization: str, args: dict[str, Any]) -> dict[str, Any]:
        """oauth.v2.access: the app's credentials in HTTP Basic, a code granted and not used yet."""
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if authorization != f"Basic {expected}":
            return {"ok": False, "error": "invalid_client_id"}
        granted = self.grants.pop(str(args.get("code")), None)
        if granted is None:
            return {"ok": False, "error": "invalid_code"}
        return {
            "ok": True,
            "app_id": "A0001",
            "authed_user": {"id": granted["installer"]},
            "scope": "chat:write,commands,im:history",
            "token_type": "bot",
            "access_token": granted["token"],
            "bot_user_id": self.bot_user,
            "team": {"id": granted["team"], "name": granted["name"]},
            "enterprise": None,
            "is_enterprise_install": False,
        }

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        """Socket Mode: say hello, then record what the app sends back (envelope acks)."""
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.append(ws)
        await self._record(Call("socket:connected", {}))
        await ws.send_json({"type": "hello", "num_connections": 1})
        async for message in ws:
            if message.type.name == "TEXT":
                await self._record(Call("socket:ack", json.loads(message.data)))
        return ws

    async def push(self, envelope: dict[str, Any]) -> None:
        """Send one Socket Mode envelope to the connected app."""
        await self._sockets[-1].send_json(envelope)

    async def _upload(self, request: web.Request) -> web.Response:
        """Step two of ``files_upload_v2``: the file's bytes, to the URL step one handed out."""
        await self._record(Call(f"upload:{request.match_info['file_id']}", {"data": await request.read()}))
        return web.Response(text="OK")

    def uploads(self) -> list[tuple[str, bytes]]:
        """Every file shared, as (channel, bytes): where ``files.completeUploadExternal`` put it."""
        data = {
            c.method.split(":", 1)[1]: c.args["data"] for c in self.calls if c.method.startswith("upload:")
        }
        shared = []
        for call in self.of("files.completeUploadExternal"):
            files = call.args["files"]
            for f in json.loads(files) if isinstance(files, str) else files:
                shared.append((str(call.args.get("channel_id", "")), data[f["id"]]))
        return shared

    async def _hook(self, request: web.Request) -> web.Response:
        args = await request.json()
        refused = refusal(str(args.get("text", "")), args.get("blocks"))
        await self._record(Call(f"hook:{request.match_info['name']}", args, error=refused or ""))
        return web.Response(status=400, text=refused) if refused else web.Response(text="ok")

    def _answer(self, method: str, args: dict[str, Any], token: str) -> dict[str, Any]:
        ts = f"1700000000.{next(self._ts):06d}"
        if method == "auth.test":
            return {
                "ok": True,
                "user_id": self.bot_user,
                "bot_id": "BBOT",
                "team_id": self.bots.get(token, self.team),
                "team": "Test",
            }
        if method == "users.info":
            user = str(args.get("user"))
            return {"ok": True, "user": {"id": user, "locale": self.locales.get(user, "en-US")}}
        if method == "chat.postMessage":
            return {"ok": True, "channel": args.get("channel"), "ts": ts}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": ts}
        if method == "chat.update":
            return {"ok": True, "channel": args.get("channel"), "ts": args.get("ts")}
        if method in ("views.open", "views.publish", "views.update"):
            return {"ok": True, "view": {"id": "V0001"}}
        if method == "apps.connections.open":
            return {"ok": True, "url": self.url.replace("http://", "ws://") + "/socket"}
        if method == "files.getUploadURLExternal":
            file_id = f"F{next(self._ts)}"
            return {"ok": True, "file_id": file_id, "upload_url": f"{self.url}/upload/{file_id}"}
        if method == "files.completeUploadExternal":
            return {"ok": True, "files": [{"id": "F"}]}
        if method == "conversations.members":
            everyone = self.members.get(str(args.get("channel")), [])
            start = int(args.get("cursor") or 0)
            end = start + self.page_size
            following = str(end) if end < len(everyone) else ""
            return {
                "ok": True,
                "members": everyone[start:end],
                "response_metadata": {"next_cursor": following},
            }
        if method == "conversations.open":
            return {"ok": True, "channel": {"id": f"D{args.get('users')}"}}
        return {"ok": True}
