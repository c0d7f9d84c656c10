"""Block Kit for Slack: a ``Reply`` as sections, fields and buttons; the App Home; the form modals.

Pure functions of their arguments (strings in the current locale), so they are easy to check.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.core.forms import Form, Step
from bot.core.i18n import gettext as _
from bot.core.types import Button, Reply

Block = dict[str, Any]
SECTION_LIMIT = 2900
FIELDS_PER_SECTION = 10
_FIELD = re.compile(r"^([^:•\n]{1,40}):\s+(\S.{0,1900})$")


def escape(text: str) -> str:
    """Slack's mrkdwn reserves only these three characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def plain(text: str, limit: int = 150) -> dict[str, Any]:
    return {"type": "plain_text", "text": (text or "·")[:limit], "emoji": True}


def _section(lines: list[str]) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": escape("\n".join(lines))[:3000]}}


def _fields(pairs: list[tuple[str, str]]) -> Block:
    return {
        "type": "section",
        "fields": [{"type": "mrkdwn", "text": f"*{escape(k)}*\n{escape(v)}"} for k, v in pairs],
    }


def text_blocks(text: str) -> list[Block]:
    """Paragraphs as sections; two or more ``Label: value`` lines in a row as a fields section."""
    blocks: list[Block] = []
    lines = text.split("\n")
    i = 0
    para: list[str] = []

    def flush() -> None:
        while para:
            chunk: list[str] = []
            while para and (not chunk or len("\n".join([*chunk, para[0]])) <= SECTION_LIMIT):
                chunk.append(para.pop(0)[:SECTION_LIMIT])
            if any(line.strip() for line in chunk):
                blocks.append(_section(chunk))

    while i < len(lines):
        run: list[tuple[str, str]] = []
        while i + len(run) < len(lines) and (m := _FIELD.match(lines[i + len(run)])):
            run.append((m.group(1), m.group(2)))
        if len(run) >= 2 and i > 0:
            flush()
            for start in range(0, len(run), FIELDS_PER_SECTION):
                blocks.append(_fields(run[start : start + FIELDS_PER_SECTION]))
            i += len(run)
            continue
        para.append(lines[i])
        i += 1
    flush()
    return blocks or [_section([" "])]


def button_element(button: Button, question: str) -> dict[str, Any] | None:
    """A button whose action id and value are the opaque key; a link; or nothing (no key yet)."""
    element: dict[str, Any] = {"type": "button", "text": plain(button.label, 75)}
    if button.url:
        digest = hashlib.sha256(button.url.encode()).hexdigest()[:16]
        element.update(url=button.url, action_id=f"url:{digest}")
        return element
    if not button.key:
        return None
    element.update(action_id=f"key:{button.key}", value=button.key)
    if button.confirm is not None:
        element["style"] = "primary"
        element["confirm"] = {
            "title": plain(_("Please confirm"), 100),
            "text": plain(question, 300),
            "confirm": plain(button.label, 30),
            "deny": plain(_("Cancel"), 30),
        }
    return element


def action_blocks(reply: Reply) -> list[Block]:
    blocks = []
    for row in reply.buttons:
        elements = [e for e in (button_element(b, reply.text) for b in row) if e is not None]
        if elements:
            blocks.append({"type": "actions", "elements": elements[:25]})
    return blocks


def message(reply: Reply) -> tuple[str, list[Block]]:
    """The notification text (mrkdwn too: escaped like the blocks, so what a user typed cannot
    ping ``<!channel>`` or make a link) and the blocks of a message."""
    return escape(reply.text[:3000]), (text_blocks(reply.text) + action_blocks(reply))[:50]


def modal_button(form: Form) -> dict[str, Any]:
    return {
        "type": "button",
        "text": plain(_(form.title), 75),
        "action_id": f"modal:{form.name}",
        "value": form.name,
    }


def home_view(reply: Reply, forms: Sequence[Form]) -> dict[str, Any]:
    """The App Home tab: the overview, its buttons, and the forms as modals."""
    blocks = text_blocks(reply.text) + action_blocks(reply)
    if forms:
        blocks.append({"type": "actions", "elements": [modal_button(form) for form in forms]})
    return {"type": "home", "blocks": blocks[:100]}


def _input(block_id: str, label: str, element: dict[str, Any], optional: bool = False) -> Block:
    return {
        "type": "input",
        "block_id": block_id,
        "label": plain(label, 2000),
        "optional": optional,
        "element": {**element, "action_id": "value"},
    }


def _text(multiline: bool = False, hint: str | None = None) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "plain_text_input", "multiline": multiline}
    if hint:
        element["placeholder"] = plain(hint)
    return element


def _select(options: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "type": "static_select",
        "options": [{"text": plain(label, 75), "value": value} for value, label in options],
    }


@dataclass(frozen=True)
class Origin:
    """Where the modal was opened from, carried through Slack in ``private_metadata``."""

    channel: str = ""
    is_group: bool = False

    def dump(self) -> str:
        return json.dumps({"channel": self.channel, "group": self.is_group})

    @classmethod
    def load(cls, raw: str | None) -> Origin:
        """What ``dump`` wrote; anything else (it comes back through the request) is the user's DM."""
        try:
            data = json.loads(raw) if raw else {}
        except ValueError:
            data = {}
        if not isinstance(data, dict):
            data = {}
        return cls(str(data.get("channel", "")), bool(data.get("group", False)))


def _field(step: Step) -> Block:
    element = (
        _select([(value, _(label)) for value, label in step.choices])
        if step.choices
        else _text(step.multiline, step.hint)
    )
    # A step asked only for some answers (``when``) is left empty for the others.
    return _input(step.name, _(step.label), element, optional=step.optional or step.when is not None)


def modal(form: Form, origin: Origin) -> dict[str, Any]:
    """The modal for ``form``, drawn from its declaration: one field per step (a select when the
    step has choices), block ids being the step names."""
    blocks = [_field(step) for step in form.steps]
    return {
        "type": "modal",
        "callback_id": f"form:{form.name}",
        "private_metadata": origin.dump(),
        "title": plain(_(form.title), 24),
        "submit": plain(_("Send"), 24),
        "close": plain(_("Cancel"), 24),
        "blocks": blocks,
    }


def answers(view: dict[str, Any]) -> dict[str, str]:
    """The submitted values by step name (an empty optional field -> none)."""
    values = view.get("state", {}).get("values", {})
    found: dict[str, str] = {}
    for block in view.get("blocks", []):
        block_id = block.get("block_id")
        if block.get("type") != "input" or block_id is None:
            continue
        state = values.get(block_id, {}).get("value", {})
        value = (state.get("selected_option") or {}).get("value") or state.get("value") or ""
        found[block_id] = value.strip() or "none"
    return found
