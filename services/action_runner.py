"""Carrying out the pending actions: the driver call outside any transaction, then its outcome.

Each claimed action is one call to the server driver or the registrar; what it answered is
recorded in the inventory (the server's power state, the domain's expiry at the registry) together
with marking the action done, in one transaction that only passes while this worker still holds
the claim. A failure (the driver's ``ServerError`` / ``RegistrarError``, or anything else) is kept
as the action's ``last_error`` and tried again after a backoff; after the last attempt the action
is ``failed`` and audited, for an operator (``hostbot actions``).

A registrar renewal tried again (the last attempt failed, or its outcome is unknown: the process
died, the answer was lost) first asks the registry for the expiry: a year already added is
recorded, not bought twice.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

from services import audit, pending_actions
from services.pending_actions import ActionRules, Claimed
from services.ports import DomainRef, Drivers, RegistrarError, ServerError, ServerRef
from storage.models import Domain, Server
from storage.uow import Database, UnitOfWork

log = logging.getLogger("hostbot.actions")

BATCH = 20
# What each server action is audited as; the power state recorded after suspend and terminate
# (after unsuspend, the machine's own, or ``running`` where the inventory is the machine).
SERVER_ACTIONS = {"suspend": "suspended", "unsuspend": "unsuspended", "terminate": "terminated"}


class ActionRunner:
    """Carries out pending actions with the drivers ``bot.bootstrap`` built for this process."""

    def __init__(self, db: Database, drivers: Drivers, rules: ActionRules) -> None:
        self.db = db
        self.drivers = drivers
        self.rules = rules
        self.worker = pending_actions.worker_id()

    async def carry_out(self, decided: Sequence[int]) -> int:
        """Right after a commit that decided ``decided`` (``pending_actions.committed``): those
        actions, and any left before them on the same targets. Never raises: what is not done
        now stays in the queue for the worker."""
        if not decided:
            return 0
        try:
            return await self._run(list(decided))
        except Exception:
            log.exception("pending actions %s left to the worker", list(decided))
            return 0

    async def run_due(self) -> int:
        """The worker's pass: every action that is due (new, retried or abandoned by a worker that
        stopped); returns how many were attempted."""
        return await self._run(None)

    async def _run(self, near: list[int] | None) -> int:
        attempted = 0
        while True:
            async with self.db.uow() as uow:
                claimed = await pending_actions.claim(
                    uow, self.worker, BATCH, self.rules.actions_lease_seconds, near
                )
            if not claimed:
                return attempted
            for action in claimed:
                await self._one(action)
            attempted += len(claimed)

    async def _one(self, action: Claimed) -> None:
        try:
            if action.kind in SERVER_ACTIONS:
                result = await self._server(action)
            elif action.kind == "renew_domain":
                result = await self._registrar(action)
            else:
                raise ValueError(f"unknown action {action.kind!r}")
        except Exception as err:
            reason = err.reason if isinstance(err, ServerError | RegistrarError) else repr(err)
            await self._failed(action, reason)
            return
        async with self.db.uow() as uow:
            if await pending_actions.finish(uow, action, self.worker, result):
                await self._record(uow, action, result)
                await uow.commit()

    async def _failed(self, action: Claimed, reason: str) -> None:
        log.warning("%s of %s failed (attempt %d): %s", action.kind, action.target, action.attempts, reason)
        async with self.db.uow() as uow:
            state = await pending_actions.fail(uow, action, self.worker, reason, self.rules)
            if state == "failed":
                await audit.record_all(
                    uow,
                    f"action.{action.kind}",
                    [(action.customer_id, action.target, {"action": action.id, "error": reason[:200]})],
                    outcome="error",
                )
            await uow.commit()

    async def _server(self, action: Claimed) -> dict[str, Any]:
        async with self.db.uow() as uow:
            server = await uow.session.get(Server, action.target_id)
        if server is None:
            return {"gone": True}
        ref = ServerRef(server.id, server.hostname, server.ip, server.mac)
        driver = self.drivers.servers
        if action.kind == "suspend":
            await driver.suspend(ref)
        elif action.kind == "terminate":
            await driver.terminate(ref)
        else:
            await driver.unsuspend(ref)
            status = await driver.status(ref)
            return {"power_state": status.power_state if status is not None else "running"}
        return {"power_state": SERVER_ACTIONS[action.kind]}

    async def _registrar(self, action: Claimed) -> dict[str, Any]:
        async with self.db.uow() as uow:
            domain = await uow.session.get(Domain, action.target_id)
        if domain is None:
            return {"gone": True}
        start, end = (dt.date.fromisoformat(action.params[k]) for k in ("start", "end"))
        ref = DomainRef(domain.name, start)
        registrar = self.drivers.registrar
        if action.attempts > 1 and (held := await registrar.expiry(ref)) >= end:
            return {"expires_on": held.isoformat(), "renewed_before": True}
        expires = await registrar.renew(ref, end.year - start.year)
        return {"expires_on": expires.isoformat()}

    async def _record(self, uow: UnitOfWork, action: Claimed, result: dict[str, Any]) -> None:
        """What the outside system now holds, in the inventory, and in the audit."""
        detail = {"action": action.id, **result}
        if result.get("gone"):
            await audit.record_all(
                uow, f"action.{action.kind}", [(action.customer_id, action.target, detail)]
            )
            return
        if action.kind in SERVER_ACTIONS:
            server = await uow.session.get(Server, action.target_id)
            if server is not None:
                server.power_state = result["power_state"]
            done = f"server.{SERVER_ACTIONS[action.kind]}"
            await audit.record_all(uow, done, [(action.customer_id, action.target, detail)])
            return
        expires = dt.date.fromisoformat(result["expires_on"])
        domain = await uow.session.get(Domain, action.target_id)
        if domain is not None:
            domain.registry_expires_on = expires
        expected = action.params["end"]
        outcome = "ok" if result["expires_on"] == expected else "error"  # the registry disagrees: look
        await audit.record_all(
            uow,
            "domain.registrar_renewed",
            [(action.customer_id, action.target, {**detail, "expected": expected})],
            outcome,
        )
