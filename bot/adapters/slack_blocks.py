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
# Slack's limits for one message (Block Kit reference): blocks, characters in a section's text
# or in one of its fields, elements in an actions block. Slack also refuses a message whose blocks
# hold much more than 13,000 characters in all (``msg_blocks_too_long``, slackapi/bolt-js#2509),
# hence the lower ``MESSAGE_CHARS``.
MESSAGE_BLOCKS = 50
SECTION_CHARS = 3000
FIELD_CHARS = 2000
FIELDS_PER_SECTION = 10
ACTIONS_PER_BLOCK = 25
MESSAGE_CHARS = 12_000
_FIELD = re.compile(r"^([^:•\n]{1,40}):\s+(\S.*)$")


def escape(text: str) -> str:
    """Slack's mrkdwn reserves only these three characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def plain(text: str, limit: int = 150) -> dict[str, Any]:
    return {"type": "plain_text", "text": (text or "·")[:limit], "emoji": True}


@dataclass(frozen=True)
class Piece:
    """One block of a reply's text and the lines of the text it shows (the message's own text,
    which Slack shows in notifications). ``size``: the characters it puts in the message."""

    block: Block
    source: str
    size: int


def _section(lines: list[str]) -> Piece:
    text = escape("\n".join(lines))
    return Piece({"type": "section", "text": {"type": "mrkdwn", "text": text}}, "\n".join(lines), len(text))


def _field_text(label: str, value: str) -> str:
    return f"*{escape(label)}*\n{escape(value)}"


def _fields(lines: list[str], pairs: list[tuple[str, str]]) -> Piece:
    fields = [{"type": "mrkdwn", "text": _field_text(k, v)} for k, v in pairs]
    size = sum(len(f["text"]) for f in fields)
    return Piece({"type": "section", "fields": fields}, "\n".join(lines), size)


def _as_field(line: str) -> tuple[str, str] | None:
    """``Label: value`` that fits in one field, else None."""
    m = _FIELD.match(line)
    if m is None or len(_field_text(m.group(1), m.group(2))) > FIELD_CHARS:
        return None
    return m.group(1), m.group(2)


def _width(ch: str) -> int:
    """What one character takes once escaped."""
    return {"&": 5, "<": 4, ">": 4}.get(ch, 1)


def _cut(line: str) -> list[str]:
    """A line too long for a section, in pieces that fit, cut after a space where there is one."""
    cut: list[str] = []
    while len(escape(line)) > SECTION_CHARS:
        end, size = 0, 0
        while size + _width(line[end]) <= SECTION_CHARS:
            size += _width(line[end])
            end += 1
        space = line.rfind(" ", 0, end)
        end = space + 1 if space > 0 else end
        cut.append(line[:end])
        line = line[end:]
    return [*cut, line]


def pieces(text: str) -> list[Piece]:
    """Lines as sections of at most ``SECTION_CHARS``, cut between lines (a longer line after a
    space); two or more ``Label: value`` lines in a row as fields sections. Nothing is left out."""
    found: list[Piece] = []
    lines = text.split("\n")
    para: list[str] = []

    def flush() -> None:
        chunk: list[str] = []
        size = -1
        for line in (part for whole in para for part in _cut(whole)):
            if chunk and size + 1 + len(escape(line)) > SECTION_CHARS:
                keep(chunk)
                chunk, size = [], -1
            chunk.append(line)
            size += 1 + len(escape(line))
        keep(chunk)
        para.clear()

    def keep(chunk: list[str]) -> None:
        if any(line.strip() for line in chunk):  # blank lines alone show nothing
            found.append(_section(chunk))

    i = 0
    while i < len(lines):
        run: list[tuple[str, str]] = []
        while i + len(run) < len(lines) and (pair := _as_field(lines[i + len(run)])):
            run.append(pair)
        if len(run) >= 2 and i > 0:
            flush()
            start = 0
            while start < len(run):
                end, size = start, 0
                while end < len(run) and end - start < FIELDS_PER_SECTION:
                    size += len(_field_text(*run[end]))
                    if end > start and size > SECTION_CHARS:
                        break
                    end += 1
                found.append(_fields(lines[i + start : i + end], run[start:end]))
                start = end
            i += len(run)
            continue
        para.append(lines[i])
        i += 1
    flush()
    return found or [_section([" "])]


def text_blocks(text: str) -> list[Block]:
    """The blocks of ``text`` in one view (the App Home, which holds 100 blocks)."""
    return [piece.block for piece in pieces(text)]


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
    """A row of buttons per actions block (a row longer than Slack allows in several)."""
    blocks = []
    for row in reply.buttons:
        elements = [e for e in (button_element(b, reply.text) for b in row) if e is not None]
        for start in range(0, len(elements), ACTIONS_PER_BLOCK):
            blocks.append({"type": "actions", "elements": elements[start : start + ACTIONS_PER_BLOCK]})
    return blocks


def messages(reply: Reply) -> list[tuple[str, list[Block]]]:
    """The messages a reply takes, in order, as (text, blocks): its text cut between blocks where a
    message is full (``MESSAGE_BLOCKS``, ``MESSAGE_CHARS``), the buttons under the last piece of
    text, as Telegram shows a long answer. A message's text is its own piece of the reply (mrkdwn,
    escaped like the blocks, so that what a user typed cannot ping ``<!channel>`` or make a link)."""
    actions = action_blocks(reply)[: MESSAGE_BLOCKS - 1]  # 49 rows: more than any answer offers
    parts: list[list[Piece]] = [[]]
    for piece in pieces(reply.text):
        current = parts[-1]
        full = len(current) >= MESSAGE_BLOCKS or sum(p.size for p in current) + piece.size > MESSAGE_CHARS
        if current and full:
            parts.append([])
        parts[-1].append(piece)
    last = parts[-1]
    room = MESSAGE_BLOCKS - len(actions)
    if len(last) > room:
        parts[-1:] = [last[:-room], last[-room:]]
    out = [(escape("\n".join(p.source for p in part)), [p.block for p in part]) for part in parts]
    out[-1][1].extend(actions)
    return out


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
