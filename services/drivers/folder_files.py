"""The file store of ticket attachments (``ATTACHMENTS_DIR``): one file per attachment, named by a
random key (two hex digits of it as a subfolder), readable by this user only. Nothing of the
customer's file name reaches the path, and nothing here is ever executed or served by the web app."""

from __future__ import annotations

import asyncio
import os
import re
import secrets
from pathlib import Path

_KEY = re.compile(r"[0-9a-f]{32}")


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
