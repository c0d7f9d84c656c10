"""python-telegram-bot on the aiohttp transport: what reaches the server, and how failures surface
as PTB's own errors (the adapter's retries rely on them)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from telegram import Bot, InputFile
from telegram.error import BadRequest, NetworkError, RetryAfter, TimedOut

from bot.adapters.telegram_http import AiohttpRequest

TOKEN = "4242:TEST-token"
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


class Server:
    """A Bot API stand-in whose answer each test chooses; it keeps what it was sent."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, str], dict[str, bytes], str]] = []
        self.answer: web.Response | None = None
        self.delay = 0.0
        self.content_type = ""

    async def handle(self, request: web.Request) -> web.Response:
        fields: dict[str, str] = {}
        files: dict[str, bytes] = {}
        self.content_type = request.content_type
        if request.content_type.startswith("multipart/"):
            async for part in await request.multipart():
                if part.filename is not None:  # type: ignore[union-attr]
                    files[part.name or ""] = await part.read()  # type: ignore[union-attr]
                else:
                    fields[part.name or ""] = await part.text()  # type: ignore[union-attr]
        elif request.content_type == "application/json":
            fields = {
                k: v if isinstance(v, str) else json.dumps(v) for k, v in (await request.json()).items()
            }
        else:
            fields = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
        method = request.match_info["method"]
        if method == "getMe":
            user = {"id": 4242, "is_bot": True, "first_name": "Hostbot", "username": "hostbot_test_bot"}
            return web.json_response({"ok": True, "result": user})
        self.received.append((method, fields, files, request.headers["User-Agent"]))
        await asyncio.sleep(self.delay)
        if self.answer is not None:
            return self.answer
        chat = {"id": int(fields.get("chat_id", 1)), "type": "private"}
        message = {"message_id": 7, "date": 0, "chat": chat, "text": fields.get("text", "")}
        return web.json_response({"ok": True, "result": message})


@pytest.fixture
async def server() -> AsyncIterator[tuple[Server, str]]:
    state = Server()
    app = web.Application()
    app.router.add_post("/bot{token}/{method}", state.handle)
    test_server = TestServer(app, host="127.0.0.1", port=0)
    await test_server.start_server()
    yield state, str(test_server.make_url("/bot"))
    await test_server.close()


def bot(base_url: str, request: AiohttpRequest | None = None) -> Bot:
    return Bot(
        TOKEN, base_url=base_url, request=request or AiohttpRequest(), get_updates_request=AiohttpRequest()
    )


async def test_a_message_goes_as_json_and_comes_back_as_a_message(
    server: tuple[Server, str],
) -> None:
    state, url = server
    async with bot(url) as telegram:
        sent = await telegram.send_message(5, "Solde : 12,00 €", reply_markup=None)
    method, fields, files, agent = state.received[-1]
    assert (method, fields["chat_id"], fields["text"], files) == ("sendMessage", "5", "Solde : 12,00 €", {})
    assert state.content_type == "application/json"
    assert "python-telegram-bot" in agent
    assert sent.message_id == 7 and sent.text == "Solde : 12,00 €"


async def test_a_document_goes_as_multipart_with_its_name(server: tuple[Server, str]) -> None:
    state, url = server
    async with bot(url) as telegram:
        await telegram.send_document(5, InputFile(b"%PDF-1.7", filename="INV-1.pdf"), caption="Facture")
    method, fields, files, _ = state.received[-1]
    assert method == "sendDocument" and fields["caption"] == "Facture"
    assert list(files.values()) == [b"%PDF-1.7"]


async def test_flood_control_surfaces_as_retry_after(server: tuple[Server, str]) -> None:
    state, url = server
    body = {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests",
        "parameters": {"retry_after": 3},
    }
    state.answer = web.json_response(body, status=429)
    async with bot(url) as telegram:
        with pytest.raises(RetryAfter):
            await telegram.send_message(5, "hi")


async def test_a_refused_request_surfaces_as_bad_request(server: tuple[Server, str]) -> None:
    state, url = server
    body = {"ok": False, "error_code": 400, "description": "Bad Request: message is not modified"}
    state.answer = web.Response(text=json.dumps(body), status=400, content_type="application/json")
    async with bot(url) as telegram:
        with pytest.raises(BadRequest, match="not modified"):
            await telegram.send_message(5, "hi")


async def test_a_slow_answer_times_out(server: tuple[Server, str]) -> None:
    state, url = server
    state.delay = 1.0
    async with bot(url, AiohttpRequest(read_timeout=0.1)) as telegram:
        with pytest.raises(TimedOut):
            await telegram.send_message(5, "hi")


async def test_an_unreachable_server_is_a_network_error() -> None:
    listener = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    listener.close()
    await listener.wait_closed()
    request = AiohttpRequest()
    await request.initialize()
    try:
        with pytest.raises(NetworkError):
            await request.post(f"http://127.0.0.1:{port}/bot{TOKEN}/getMe")
    finally:
        await request.shutdown()


async def test_using_it_before_initialize_is_an_error() -> None:
    with pytest.raises(NetworkError, match="not initialized"):
        await AiohttpRequest().post(f"http://127.0.0.1:1/bot{TOKEN}/getMe")
