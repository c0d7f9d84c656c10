"""``hostbot alerts status`` shows what waits and what died; ``hostbot alerts requeue`` sends dead
letters again, each once, with a fresh count of attempts."""

from __future__ import annotations

import argparse
import datetime as dt

import pytest
from sqlalchemy import select, update

from bot.cli import cmd_alerts_requeue, cmd_alerts_status
from bot.config import Settings
from bot.core.dispatcher import Dispatcher
from services import clock
from services.alerts import outbox
from storage.models import Alert


async def _outbox(dispatcher: Dispatcher) -> dict[str, tuple[str, int]]:
    async with dispatcher.db.uow() as uow:
        return {a.key: (a.state, a.attempts) for a in (await uow.session.scalars(select(Alert))).all()}


@pytest.fixture
async def letters(dispatcher: Dispatcher) -> dict[str, int]:
    """Two dead letters and one alert waiting for its next attempt."""
    later = clock.now() + dt.timedelta(minutes=5)
    async with dispatcher.db.uow() as uow:
        for key in ("overdue:3:1", "overdue:6:1", "reply:1:2"):
            await outbox.add(uow, key, 1, key.split(":")[0], {})
        await uow.session.execute(
            update(Alert)
            .where(Alert.key != "reply:1:2")
            .values(state="dead", attempts=5, last_error="telegram: Forbidden")
        )
        await uow.session.execute(
            update(Alert)
            .where(Alert.key == "reply:1:2")
            .values(attempts=2, not_before=later, last_error="slack: timeout")
        )
        await uow.commit()
        rows = (await uow.session.execute(select(Alert.key, Alert.id))).all()
    return {key: alert_id for key, alert_id in rows}


async def test_status_lists_waiting_and_dead(
    settings: Settings, letters: dict[str, int], capsys: pytest.CaptureFixture[str]
) -> None:
    assert await cmd_alerts_status(settings, argparse.Namespace()) == 0
    out = capsys.readouterr().out
    assert "pending: 1  sending: 0  sent: 0  dead: 2  dropped: 0" in out
    waiting = out.split("waiting:\n")[1].split("dead letters:")[0]
    assert f"#{letters['reply:1:2']} reply:1:2 (reply, customer 1, pending, due " in waiting
    assert "2 attempts): slack: timeout" in waiting
    dead = out.split("dead letters:\n")[1]
    assert f"#{letters['overdue:3:1']} overdue:3:1 (customer 1, 5 attempts): telegram: Forbidden" in dead


async def test_requeue_named_then_all(
    dispatcher: Dispatcher, settings: Settings, letters: dict[str, int], capsys: pytest.CaptureFixture[str]
) -> None:
    first = letters["overdue:3:1"]
    args = argparse.Namespace(ids=[first, letters["reply:1:2"]], all=False)
    assert await cmd_alerts_requeue(settings, args) == 0
    assert f"requeued 1 dead letters: #{first}" in capsys.readouterr().out
    assert await _outbox(dispatcher) == {
        "overdue:3:1": ("pending", 0),
        "overdue:6:1": ("dead", 5),
        "reply:1:2": ("pending", 2),  # not dead: left as it was
    }
    assert await cmd_alerts_requeue(settings, argparse.Namespace(ids=[first], all=False)) == 0
    assert "requeued 0 dead letters" in capsys.readouterr().out
    assert await cmd_alerts_requeue(settings, argparse.Namespace(ids=[], all=True)) == 0
    assert f"#{letters['overdue:6:1']}" in capsys.readouterr().out
    assert {state for state, _n in (await _outbox(dispatcher)).values()} == {"pending"}
    assert await cmd_alerts_requeue(settings, argparse.Namespace(ids=[], all=False)) == 2
