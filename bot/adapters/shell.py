"""The terminal adapter: lines in, replies out; buttons become numbered choices.

Works interactively and with piped input (scripted conversations); ends at end of input, or
quietly on Ctrl-C. A word ``@PATH`` naming a local file sends that file with the line
(``reply 12 see the log @/var/log/syslog``), as a photo or document would be on a platform.
"""

from __future__ import annotations

import asyncio
import codecs
import mimetypes
import os
import sys
import tempfile
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TextIO

from bot.core.dispatcher import Dispatcher
from bot.core.types import Button, Incoming, IncomingFile, Reply
from bot.lifecycle import Stop
from services import chat_records, linking
from services.ids import parse_id
from services.records import ChatIdentity


class Shell:
    def __init__(
        self, dispatcher: Dispatcher, user_id: str, language: str | None, out: TextIO = sys.stdout
    ) -> None:
        self.dispatcher = dispatcher
        self.user_id = user_id
        self.language = language
        self.out = out
        self.choices: list[Button] = []
        self.files = Path(tempfile.mkdtemp(prefix="hostbot-"))

    async def send(self, line: str) -> None:
        """Handle one typed line: a number presses the matching button of the last reply."""
        text = line.rstrip("\n")
        choice = parse_id(text.strip())  # "²" is no choice: only ASCII digits are
        if choice is not None and choice <= len(self.choices):
            button = self.choices[choice - 1]
            if button.url:
                self.out.write(f"{button.url}\n")
                return
            incoming = Incoming("shell", self.user_id, action_key=button.key, language=self.language)
        else:
            text, files = local_files(text)
            incoming = Incoming("shell", self.user_id, text=text, language=self.language, files=files)
        for reply in await self.dispatcher.handle(incoming):
            self.render(reply)

    def render(self, reply: Reply) -> None:
        self.out.write(reply.text + "\n")
        self.choices = reply.all_buttons()
        if self.choices:
            labels = [f"[{i}] {b.label}" for i, b in enumerate(self.choices, start=1)]
            self.out.write("  " + "  ".join(labels) + "\n")
        for attachment in reply.attachments:
            path = self.files / attachment.filename
            path.write_bytes(attachment.data)
            self.out.write(f"  📎 {path}\n")
        self.out.write("\n")
        self.out.flush()

    async def run(self, source: TextIO = sys.stdin, stop: Stop | None = None) -> None:
        """Until end of input (Ctrl-D) or ``stop`` (Ctrl-C): a line being handled is finished
        first, and an interactive session leaves on a fresh line."""
        interactive = source.isatty()
        stop = stop or Stop()
        lines: asyncio.Queue[str] = asyncio.Queue()
        reader = threading.Thread(
            target=_read_lines, args=(source.fileno(), asyncio.get_running_loop(), lines), daemon=True
        )
        reader.start()
        while True:
            if interactive:
                self.out.write("you> ")
                self.out.flush()
            line = await stop.first(lines.get())
            if not line:
                if interactive:
                    self.out.write("\n")
                    self.out.flush()
                return
            if line.strip():
                await self.send(line)


def local_files(line: str) -> tuple[str, tuple[IncomingFile, ...]]:
    """The line without its ``@PATH`` words that name a local file, and those files."""
    words, files = [], []
    for word in line.split(" "):
        path = Path(word[1:]).expanduser() if word.startswith("@") and len(word) > 1 else None
        if path is not None and path.is_file():
            media_type = mimetypes.guess_type(path.name)[0] or ""
            files.append(IncomingFile(path.name, media_type, path.stat().st_size, _reader(path)))
        else:
            words.append(word)
    return " ".join(words).strip() if files else line, tuple(files)


def _reader(path: Path) -> Callable[[int], Awaitable[bytes]]:
    async def fetch(limit: int) -> bytes:
        return await asyncio.to_thread(path.read_bytes)

    return fetch


def _read_lines(fd: int, loop: asyncio.AbstractEventLoop, lines: asyncio.Queue[str]) -> None:
    """Hand each line of ``fd`` to the loop, then "" at end of input. A daemon thread reading the
    descriptor itself: a blocked read keeps neither the process from leaving nor the lock of
    ``sys.stdin``'s buffer (which Python takes again when it shuts down)."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    pending = ""
    try:
        while chunk := os.read(fd, 65536):
            pending += decoder.decode(chunk)
            *complete, pending = pending.split("\n")
            for line in complete:
                loop.call_soon_threadsafe(lines.put_nowait, line + "\n")
        pending += decoder.decode(b"", final=True)
        if pending:
            loop.call_soon_threadsafe(lines.put_nowait, pending)
        loop.call_soon_threadsafe(lines.put_nowait, "")
    except RuntimeError:  # the loop is closed: the shell has already left
        return


async def link_local_user(dispatcher: Dispatcher, user_id: str, customer_id: int) -> None:
    """The terminal user is the operator trying things: bind it to the chosen customer as owner."""
    async with dispatcher.db.uow() as uow:
        ident: ChatIdentity = await chat_records.identity(uow, "shell", "", user_id)
        if ident.customer_id != customer_id:
            code = await linking.issue_code(uow, customer_id, "shell")
            await linking.redeem(uow, ident, code)
