"""A reply as Slack messages (``slack_blocks.messages``): within Slack's limits whatever the text,
cut between blocks, nothing lost, the buttons under the last message."""

from __future__ import annotations

import re

from bot.adapters import slack_blocks as kit
from bot.core.types import Button, Reply
from tests.fakes.block_kit import problems, texts


def _unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _letters(text: str) -> str:
    """The text without what rendering may change: spaces, line breaks, the field's ``:`` and ``*``."""
    return re.sub(r"[\s:*]", "", text)


def test_a_short_reply_is_one_message_with_its_buttons() -> None:
    reply = Reply("Your balance: €10.00", buttons=[[Button("Top up", key="k-topup-01")]])
    [(text, blocks)] = kit.messages(reply)
    assert text == "Your balance: €10.00" and [b["type"] for b in blocks] == ["section", "actions"]


def test_every_message_within_the_limits_and_nothing_lost_in_order() -> None:
    lines = ["Title & <summary>"]
    lines += [f"Label {n}: value {n} & more" for n in range(120)]
    lines += ["", "word " * 1500, "y" * 7000, "<&>" * 1500, ""]
    lines += [f"paragraph {n} <b>" for n in range(300)]
    text = "\n".join(lines)
    keys = [f"k-{n:04d}-key" for n in range(60)]
    parts = kit.messages(Reply(text, buttons=[[Button(k, key=k) for k in keys]]))
    assert len(parts) > 2
    for part_text, blocks in parts:
        assert not problems(part_text, blocks), problems(part_text, blocks)
    assert all(b["type"] != "actions" for _, blocks in parts[:-1] for b in blocks)
    pressed = [e["value"] for b in parts[-1][1] if b["type"] == "actions" for e in b["elements"]]
    assert pressed == keys  # 60 buttons of one row in three actions blocks, in order
    shown = "".join(
        _unescape(t) for _, blocks in parts for b in blocks if b["type"] == "section" for t in texts([b])
    )
    assert _letters(shown) == _letters(text)
    assert _letters("".join(_unescape(t) for t, _ in parts)) == _letters(text)


def test_cut_between_lines_and_a_long_line_after_a_space() -> None:
    lines = [f"line {n:03d} " + "z" * 90 for n in range(300)]
    parts = kit.messages(Reply("\n".join(lines)))
    assert len(parts) == 3
    assert [line for t, _ in parts for line in t.split("\n")] == lines
    long = "word " * 1000
    [(_, blocks)] = kit.messages(Reply(long))
    sections = [b["text"]["text"] for b in blocks]
    assert len(sections) == 2 and all(s.endswith("word ") for s in sections[:-1])
    assert "".join(sections) == long


def test_buttons_move_to_a_message_of_their_own_text_when_the_last_is_full() -> None:
    """95 fields sections: 50 in the first message, 45 left, too many for the 10 actions blocks
    beside them; the last 40 go with the buttons into a message of their own."""
    text = "Title\n" + "\n\n".join(f"Item {n}:  x\nOther {n}: y" for n in range(95))
    rows = [[Button(f"r{n}", key=f"k-row-{n:04d}")] for n in range(10)]
    parts = kit.messages(Reply(text, buttons=rows))
    assert [len(blocks) for _, blocks in parts] == [50, 6, 50]
    *_, (last_text, last) = parts
    assert last_text.endswith("Other 94: y") and last[0]["type"] == "section"
    assert [b["type"] for b in last].count("actions") == 10
