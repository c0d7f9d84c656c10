"""Files people share with the Slack app (a message of subtype ``file_share``): described from the
event (or ``files.info`` when the event leaves it out), downloaded only once accepted: ``files.info``
for the file's ``url_private``, then that URL with the bot token of the workspace it was shared in
(the bot needs the ``files:read`` scope)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.types import IncomingFile

CHUNK = 64 * 1024
DOWNLOAD_TIMEOUT = aiohttp.ClientTimeout(total=60)


async def incoming_files(client: AsyncWebClient, shared: list[dict[str, Any]]) -> tuple[IncomingFile, ...]:
    """The neutral form of the files of one message; ``client`` speaks with its workspace's bot."""
    found = []
    for file in shared:
        if not file.get("id"):
            continue
        if "size" not in file or "mimetype" not in file:
            file = (await client.files_info(file=file["id"])).get("file") or {}
        name = str(file.get("name") or file.get("title") or "file")
        found.append(
            IncomingFile(
                name,
                str(file.get("mimetype") or ""),
                int(file.get("size") or 0),
                _fetcher(client, file["id"]),
            )
        )
    return tuple(found)


def _fetcher(client: AsyncWebClient, file_id: str) -> Callable[[int], Awaitable[bytes]]:
    async def fetch(limit: int) -> bytes:
        info = (await client.files_info(file=file_id)).get("file") or {}
        return await download(str(info["url_private"]), client.token or "", limit)

    return fetch


async def download(url: str, token: str, limit: int) -> bytes:
    """The file at ``url`` read with the bot ``token``; reading stops one byte past ``limit`` (the
    rules then refuse it as too large)."""
    data = bytearray()
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        aiohttp.ClientSession(timeout=DOWNLOAD_TIMEOUT) as session,
        session.get(url, headers=headers) as response,
    ):
        response.raise_for_status()
        async for chunk in response.content.iter_chunked(CHUNK):
            data += chunk
            if len(data) > limit:
                break
    return bytes(data[: limit + 1])
