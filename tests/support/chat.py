"""A test driver that talks to the dispatcher like an adapter would (the shell's `testbot`)."""

from __future__ import annotations

from bot.core.dispatcher import Dispatcher
from bot.core.types import Button, Incoming, Reply
from services import chat_records, linking


class Chat:
    def __init__(self, dispatcher: Dispatcher, user_id: str, language: str | None = None) -> None:
        self.dispatcher = dispatcher
        self.user_id = user_id
        self.language = language
        self.last: Reply | None = None

    @classmethod
    async def linked(
        cls, dispatcher: Dispatcher, user_id: str, customer_id: int, role: str = "owner"
    ) -> Chat:
        async with dispatcher.db.uow() as uow:
            ident = await chat_records.identity(uow, "test", "", user_id)
            code = await linking.issue_code(uow, customer_id, "test", role)
            await linking.redeem(uow, ident, code)
        return cls(dispatcher, user_id)

    async def say(self, text: str | None) -> Reply:
        return await self._send(Incoming("test", self.user_id, text=text, language=self.language))

    async def press_key(self, key: str | None) -> Reply:
        return await self._send(Incoming("test", self.user_id, action_key=key, language=self.language))

    def button(self, label: str, reply: Reply | None = None) -> Button:
        reply = reply or self.last
        assert reply is not None
        for b in reply.all_buttons():
            if b.label == label:
                return b
        raise AssertionError(f"no button {label!r} in {[b.label for b in reply.all_buttons()]}")

    async def press(self, label: str, reply: Reply | None = None) -> Reply:
        return await self.press_key(self.button(label, reply).key)

    async def _send(self, incoming: Incoming) -> Reply:
        replies = await self.dispatcher.handle(incoming)
        assert len(replies) == 1, replies
        self.last = replies[0]
        return replies[0]
