"""The file store of ticket attachments (``ATTACHMENTS_DIR``): one file per attachment, named by a
random key (two hex digits of it as a subfolder), readable by this user only. Nothing of the
customer's file name reaches the path, and nothing here is ever executed or served by the web app."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

_KEY = re.compile(r"[0-9a-f]{32}")
_SHARD = re.compile(r"[0-9a-f]{2}")


class FolderFiles:
    """Keeps files under ``root`` (created on first use, mode 0700)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        if not _KEY.fullmatch(key):
            raise KeyError(key)
        return self.root / key[:2] / key

    async def put(self, data: bytes) -> str:
        key = secrets.token_hex(16)
        await asyncio.to_thread(self._write, self._path(key), data)
        return key

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        """Written whole under a temporary name, then renamed: a reader never sees half a file."""
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = path.with_name(path.name + ".part")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)

    async def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            raise KeyError(key) from None

    async def delete(self, key: str) -> None:
        try:
            await asyncio.to_thread(self._path(key).unlink, True)
        except KeyError:
            return

    async def kept_before(self, moment: dt.datetime) -> AsyncIterator[list[str]]:
        """One subfolder's keys at a time (at most 1/256 of the store in memory); a half-written
        ``.part`` left by a crash is removed here too, it can never become a file."""
        for shard in await asyncio.to_thread(self._shards):
            keys = await asyncio.to_thread(self._older, shard, moment.timestamp())
            if keys:
                yield keys

    def _shards(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        return sorted(p for p in self.root.iterdir() if _SHARD.fullmatch(p.name) and p.is_dir())

    @staticmethod
    def _older(shard: Path, before: float) -> list[str]:
        keys: list[str] = []
        with os.scandir(shard) as entries:
            for entry in entries:
                try:
                    if entry.stat().st_mtime >= before:
                        continue
                except FileNotFoundError:
                    continue
                if _KEY.fullmatch(entry.name):
                    keys.append(entry.name)
                elif entry.name.endswith(".part") and _KEY.fullmatch(entry.name.removesuffix(".part")):
                    Path(entry.path).unlink(missing_ok=True)
        return keys
