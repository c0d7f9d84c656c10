"""Signed requests to the Slack endpoint of the web app, as Slack sends them."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import urlencode

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient

from bot.adapters.slack import SlackAdapter
from tests.fakes.slack_api import FakeSlackAPI

SECRET = "test-signing-secret"
TEAM = "T0001"


def signed(body: str, secret: str = SECRET, at: int | None = None) -> dict[str, str]:
    stamp = str(at if at is not None else int(time.time()))
    digest = hmac.new(secret.encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={digest}"}


class SlackUser:
    """One Slack user of the test workspace (or of ``team``), posting to the app like Slack would."""

    def __init__(
        self, client: TestClient, adapter: SlackAdapter, api: FakeSlackAPI, user: str, team: str = TEAM
    ) -> None:
        self.client, self.adapter, self.api, self.user, self.team = client, adapter, api, user, team
        self._n = 0

    async def post(
        self, body: str, content_type: str, headers: dict[str, str] | None = None
    ) -> ClientResponse:
        response = await self.client.post(
            "/slack/events",
            data=body,
            headers={"Content-Type": content_type, **signed(body), **(headers or {})},
        )
        await self.adapter.drain()
        return response

    def _next(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}{self.user}{self._n}"

    async def command(self, text: str, channel: str = "D_DM", trigger: bool = False) -> ClientResponse:
        form = {
            "command": "/hosting",
            "text": text,
            "user_id": self.user,
            "team_id": self.team,
            "channel_id": channel,
            "response_url": self.api.hook(self._next("cmd")),
        }
        if trigger:
            form["trigger_id"] = self._next("trigger")
        return await self.post(urlencode(form), "application/x-www-form-urlencoded")

    async def event(
        self, event: dict[str, Any], event_id: str | None = None, retry: int | None = None
    ) -> ClientResponse:
        body = json.dumps(
            {
                "type": "event_callback",
                "team_id": self.team,
                "api_app_id": "A0001",
                "event_id": event_id or self._next("Ev"),
                "event": {"user": self.user, **event},
            }
        )
        headers = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"} if retry else {}
        return await self.post(body, "application/json", headers)

    async def dm(self, text: str, **kwargs: Any) -> ClientResponse:
        return await self.event(
            {"type": "message", "channel_type": "im", "channel": "D_DM", "text": text}, **kwargs
        )

    async def mention(self, text: str, channel: str) -> ClientResponse:
        return await self.event({"type": "app_mention", "channel": channel, "text": f"<@UBOT> {text}"})

    async def interact(self, payload: dict[str, Any]) -> ClientResponse:
        body = urlencode(
            {
                "payload": json.dumps(
                    {"user": {"id": self.user, "team_id": self.team}, "team": {"id": self.team}, **payload}
                )
            }
        )
        return await self.post(body, "application/x-www-form-urlencoded")

    async def press(
        self, button: dict[str, Any], channel: str = "D_DM", ts: str = "1.1", ephemeral: bool = False
    ) -> ClientResponse:
        payload: dict[str, Any] = {
            "type": "block_actions",
            "trigger_id": self._next("trigger"),
            "container": {
                "type": "message",
                "message_ts": ts,
                "channel_id": channel,
                "is_ephemeral": ephemeral,
            },
            "channel": {"id": channel},
            "actions": [
                {
                    "type": "button",
                    "action_id": button["action_id"],
                    "value": button.get("value"),
                    "block_id": "b",
                }
            ],
        }
        if ephemeral:
            payload["response_url"] = self.api.hook(self._next("press"))
        return await self.interact(payload)

    async def submit(self, view: dict[str, Any], values: dict[str, str]) -> ClientResponse:
        """Submit a modal as Slack does: the view with the typed or chosen values in its state."""
        state: dict[str, Any] = {}
        for block in view["blocks"]:
            if block["type"] != "input":
                continue
            value = values.get(block["block_id"], "")
            kind = block["element"]["type"]
            entry: dict[str, Any] = {"type": kind}
            if kind == "static_select":
                entry["selected_option"] = {"value": value} if value else None
            else:
                entry["value"] = value or None
            state[block["block_id"]] = {"value": entry}
        return await self.interact(
            {"type": "view_submission", "view": {**view, "id": "V0001", "state": {"values": state}}}
        )
