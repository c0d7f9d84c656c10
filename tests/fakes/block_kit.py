"""What Slack checks in a message's Block Kit payload, for the fake Web API to refuse as Slack does
(``invalid_blocks``, ``msg_blocks_too_long``), and what the tests check beyond: markup that should
never reach a user (unescaped ``<``, a placeholder left in a translation).

The limits are those of Slack's Block Kit reference; the total of about 13,000 characters of
block text is what Slack answers ``msg_blocks_too_long`` to (slackapi/bolt-js#2509)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

MESSAGE_BLOCKS = 50
SECTION_CHARS = 3000
FIELD_CHARS = 2000
FIELDS = 10
ACTION_ELEMENTS = 25
BLOCKS_CHARS = 13_000
TEXT_CHARS = 40_000
BUTTON_LABEL = 75
ACTION_ID = 255
BUTTON_VALUE = 2000
URL_CHARS = 3000
CONFIRM_LIMITS = {"title": 100, "text": 300, "confirm": 30, "deny": 30}
_ENTITY = re.compile(r"&(?!amp;|lt;|gt;)")
_PLACEHOLDER = re.compile(r"\{[a-z_]+\}|%\([a-z_]+\)[sd]")


def decoded(raw: Any) -> list[dict[str, Any]]:
    """The blocks as the Web API receives them: a JSON string in a form, a list in JSON."""
    if raw is None or raw == "":
        return []
    return list(json.loads(raw) if isinstance(raw, str) else raw)


def texts(blocks: list[dict[str, Any]]) -> Iterator[str]:
    """Every mrkdwn or plain text a message's blocks show, in order."""
    for block in blocks:
        if block.get("text"):
            yield block["text"]["text"]
        for field in block.get("fields", []):
            yield field["text"]
        for element in block.get("elements", []):
            if element.get("type") == "button":
                yield element["text"]["text"]
            elif "text" in element and isinstance(element["text"], str):
                yield element["text"]


def _button(element: dict[str, Any]) -> Iterator[str]:
    label = element.get("text", {}).get("text", "")
    if element.get("text", {}).get("type") != "plain_text" or not label or len(label) > BUTTON_LABEL:
        yield f"button label {label!r}"
    action_id = element.get("action_id", "")
    if not action_id or len(action_id) > ACTION_ID:
        yield f"action_id {action_id!r}"
    if len(element.get("value", "")) > BUTTON_VALUE:
        yield "button value too long"
    url = element.get("url")
    if url is not None and (len(url) > URL_CHARS or not url.startswith(("http://", "https://"))):
        yield f"button url {url!r}"
    for part, limit in CONFIRM_LIMITS.items():
        if "confirm" in element and not 0 < len(element["confirm"][part]["text"]) <= limit:
            yield f"confirm {part} length"


def _block(block: dict[str, Any]) -> Iterator[str]:
    kind = block.get("type")
    if kind == "section":
        text = block.get("text", {}).get("text")
        fields = block.get("fields", [])
        if text is None and not fields:
            yield "section without text or fields"
        if text == "":
            yield "empty section"
        if text is not None and len(text) > SECTION_CHARS:
            yield f"section of {len(text)} characters"
        if len(fields) > FIELDS or any(len(f["text"]) > FIELD_CHARS for f in fields):
            yield "fields over the limits"
    elif kind == "actions":
        elements = block.get("elements", [])
        if not 0 < len(elements) <= ACTION_ELEMENTS:
            yield f"actions block of {len(elements)} elements"
        for element in elements:
            yield from _button(element)
    elif kind not in ("context", "divider", "header", "image"):
        yield f"block type {kind!r}"


def refusal(text: str, raw_blocks: Any) -> str | None:
    """The error Slack answers a message with, or None when it takes it."""
    if len(text) > TEXT_CHARS:
        return "msg_too_long"
    blocks = decoded(raw_blocks)
    if not blocks:
        return None if text.strip() else "no_text"
    if len(blocks) > MESSAGE_BLOCKS:
        return "invalid_blocks"
    action_ids = [e.get("action_id") for b in blocks for e in b.get("elements", []) if "action_id" in e]
    if len(action_ids) != len(set(action_ids)) or any(True for b in blocks for _ in _block(b)):
        return "invalid_blocks"
    if sum(len(t) for t in texts(blocks)) > BLOCKS_CHARS:
        return "msg_blocks_too_long"
    return None


def problems(text: str, raw_blocks: Any) -> list[str]:
    """Everything wrong with a message as hostbot should send it: what Slack refuses, then what
    it would show as is (an unescaped ``&``, ``<`` or ``>``, a placeholder left unformatted)."""
    blocks = decoded(raw_blocks)
    found = [f"{problem} in {block}" for block in blocks for problem in _block(block)]
    refused = refusal(text, raw_blocks)
    if refused:
        found.append(refused)
    for part in [text, *(t for block in blocks for t in _mrkdwn(block))]:
        if "<" in part or ">" in part or _ENTITY.search(part):
            found.append(f"unescaped markup in {part[:80]!r}")
    found += [f"placeholder left in {t[:80]!r}" for t in [text, *texts(blocks)] if _PLACEHOLDER.search(t)]
    return found


def _mrkdwn(block: dict[str, Any]) -> Iterator[str]:
    if block.get("text", {}).get("type") == "mrkdwn":
        yield block["text"]["text"]
    for field in block.get("fields", []):
        yield field["text"]
