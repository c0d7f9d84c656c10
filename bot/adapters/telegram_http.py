"""python-telegram-bot's HTTP transport on aiohttp instead of httpx.

The bot already runs aiohttp for its web server, and each Bot API call through PTB's default
``HTTPXRequest`` cost several milliseconds of CPU in httpx/httpcore (whose pool scans every pooled
connection per request); aiohttp's client does the same call for a fraction of that (see
``bench/telegram_webhook.py``). A call without files goes as one JSON body (which the Bot API
takes as well as form fields): encoding it costs less than URL-encoding every field. PTB keeps building the requests, raising its errors (429 as
``RetryAfter``, 403 as ``Forbidden`` ...) and parsing the results: only the wire changes.
"""

from __future__ import annotations

import json

import aiohttp
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

Seconds = float | None
JSON = {"Content-Type": "application/json"}


class AiohttpRequest(BaseRequest):
    """One pooled ``aiohttp.ClientSession`` per instance (PTB uses one for calls, one for polling).

    Timeouts follow PTB's meaning: ``connect`` to open a connection, ``read`` to wait for the
    answer, ``pool`` to wait for a free pooled connection (``None``: wait as long as it takes, so a
    reply is late rather than lost). aiohttp has no separate write timeout: an upload is bounded by
    ``media_write_timeout`` as a whole instead.
    """

    def __init__(
        self,
        connections: int = 16,
        read_timeout: Seconds = 5.0,
        connect_timeout: Seconds = 5.0,
        pool_timeout: Seconds = None,
        media_write_timeout: Seconds = 20.0,
    ) -> None:
        self._connections = connections
        self._read_timeout = read_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> Seconds:
        return self._read_timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._connections),
                headers={"User-Agent": self.USER_AGENT},
                timeout=aiohttp.ClientTimeout(total=None),
            )

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: object = BaseRequest.DEFAULT_NONE,
        write_timeout: object = BaseRequest.DEFAULT_NONE,
        connect_timeout: object = BaseRequest.DEFAULT_NONE,
        pool_timeout: object = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("AiohttpRequest is not initialized")
        files = request_data.multipart_data if request_data else None
        body: aiohttp.FormData | bytes = json.dumps(request_data.parameters if request_data else {}).encode()
        if files:
            assert request_data is not None
            form = aiohttp.FormData(request_data.json_parameters)
            for name, (filename, content, mimetype) in files.items():
                form.add_field(name, content, filename=filename, content_type=mimetype)
            body = form
        timeout = aiohttp.ClientTimeout(
            total=self._given(write_timeout, self._media_write_timeout) if files else None,
            connect=self._pool_and_connect(pool_timeout, connect_timeout),
            sock_connect=self._given(connect_timeout, self._connect_timeout),
            sock_read=self._given(read_timeout, self._read_timeout),
        )
        try:
            headers = None if files else JSON
            async with self._session.request(
                method, url, data=body, headers=headers, timeout=timeout
            ) as response:
                return response.status, await response.read()
        except TimeoutError as err:
            raise TimedOut from err
        except aiohttp.ClientError as err:
            raise NetworkError(f"aiohttp.{type(err).__name__}: {err}") from err

    @staticmethod
    def _given(value: object, default: Seconds) -> Seconds:
        """A timeout passed for this call, else the instance's default."""
        if isinstance(value, int | float) or value is None:
            return value
        return default

    def _pool_and_connect(self, pool: object, connect: object) -> Seconds:
        """aiohttp's ``connect`` covers waiting for the pool and opening the connection."""
        waiting = self._given(pool, self._pool_timeout)
        opening = self._given(connect, self._connect_timeout)
        return None if waiting is None else waiting + (opening or 0.0)
