"""Slack installable by any workspace, end to end: the browser's install flow through slack-bolt's
``AsyncOAuthFlow`` (state in a cookie and the query, Slack's redirect, the code exchanged at the
fake Web API's ``oauth.v2.access``), then two workspaces at once, each answered and alerted with its
own bot token, and an uninstall that unlinks its people."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot import bootstrap
from bot.adapters.slack import SLACK_KEY, SlackAdapter
from bot.alerts.dispatch import AlertSender
from bot.config import Settings
from bot.core.dispatcher import Dispatcher
from services import chat_records, clock, linking, sealing, slack_installs
from services.alerts import outbox
from storage.models import AuditEntry, ChannelBinding, ChatIdentity, Invoice, SlackInstallation
from storage.uow import Database
from tests.fakes.slack_api import Call, FakeSlackAPI
from tests.support.slack_client import SECRET, SlackUser, signed

# slack-sdk sends oauth.v2.access's client credentials with aiohttp's BasicAuth, which warns.
pytestmark = pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning")
BASE = "https://bot.example.com"
COOKIE = "slack-app-oauth-state"
OWN = "xoxb-own-workspace"  # SLACK_BOT_TOKEN, the provider's own workspace T0001
TOKENS = {"TAAA": "xoxb-111-aaa-workspace-a", "TBBB": "xoxb-222-bbb-workspace-b"}


@pytest.fixture
async def api() -> AsyncIterator[FakeSlackAPI]:
    fake = await FakeSlackAPI(bots={OWN: "T0001"}).start()
    yield fake
    await fake.stop()


def installable(settings: Settings, api: FakeSlackAPI, **more: object) -> Settings:
    return settings.model_copy(
        update={
            "slack_client_id": api.client_id,
            "slack_client_secret": api.client_secret,
            "slack_signing_secret": SECRET,
            "slack_api_url": api.api_url,
            "slack_pace_per_channel": "1000/second",
            "public_base_url": BASE,
            **more,
        }
    )


@pytest.fixture
async def web(
    db: Database, settings: Settings, dispatcher: Dispatcher, api: FakeSlackAPI
) -> AsyncIterator[tuple[TestClient, SlackAdapter]]:
    """The app installable by any workspace, with no token of its own."""
    dispatcher.settings = installable(settings, api)
    web_app = bootstrap.web_app(bootstrap.assemble(dispatcher.settings, db, dispatcher))
    async with TestClient(TestServer(web_app)) as client:
        yield client, web_app[SLACK_KEY]


async def start_install(client: TestClient, **headers: str) -> tuple[ClientResponse, str]:
    """The browser opens /slack/install: sent on to Slack with a state, also set in a cookie."""
    response = await client.get("/slack/install", allow_redirects=False, headers=headers)
    state = response.cookies[COOKIE].value if COOKIE in response.cookies else ""
    return response, state


async def finish_install(
    client: TestClient, state: str, code: str, cookie: str | None = None, **headers: str
) -> ClientResponse:
    """Slack sends the browser back with the code and the state; the browser brings its cookie
    (``cookie``: what the cookie holds, the state by default; "" for a browser without it)."""
    jar = {"Cookie": f"{COOKIE}={state if cookie is None else cookie}"} if cookie != "" else {}
    return await client.get(
        "/slack/oauth_redirect", params={"code": code, "state": state}, headers={**jar, **headers}
    )


async def install(client: TestClient, api: FakeSlackAPI, team: str) -> None:
    _response, state = await start_install(client)
    api.grant(f"code-{team}", team, TOKENS[team], name=f"Agency {team[-1]}")
    response = await finish_install(client, state, f"code-{team}")
    assert response.status == 200, await response.text()


async def link(db: Database, team: str, user: str, customer_id: int) -> int:
    async with db.uow() as uow:
        ident = await chat_records.identity(uow, "slack", team, user)
        await linking.redeem(uow, ident, await linking.issue_code(uow, customer_id, "slack", "owner"))
        return ident.id


def by_token(api: FakeSlackAPI, token: str, *methods: str) -> list[Call]:
    return [c for c in api.of(*methods) if c.token == token]


async def test_install_flow_keeps_the_workspace_and_its_sealed_token(
    web: tuple[TestClient, SlackAdapter], api: FakeSlackAPI, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    client, _adapter = web
    caplog.set_level(logging.DEBUG)
    response, state = await start_install(client)
    assert response.status == 302 and state
    to_slack = urlsplit(response.headers["Location"])
    asked = parse_qs(to_slack.query)
    assert f"{to_slack.scheme}://{to_slack.netloc}{to_slack.path}" == "https://slack.com/oauth/v2/authorize"
    assert asked["client_id"] == [api.client_id] and asked["state"] == [state]
    assert asked["redirect_uri"] == [f"{BASE}/slack/oauth_redirect"]
    assert asked["scope"][0].split(",") == Settings(_env_file=None).slack_scopes.split(",")  # type: ignore[call-arg]
    cookie = response.cookies[COOKIE]
    assert cookie["httponly"] and cookie["secure"] and int(cookie["max-age"]) == 600

    api.grant("code-1", "TAAA", TOKENS["TAAA"], name="Agence <A>")
    done = await finish_install(client, state, "code-1", **{"Accept-Language": "fr-FR,en;q=0.5"})
    page = await done.text()
    assert done.status == 200 and "L’application est installée" in page and "Agence &lt;A&gt;" in page
    assert done.headers["Cache-Control"] == "no-store" and done.headers["Referrer-Policy"] == "no-referrer"
    assert done.cookies[COOKIE].value == "deleted"  # the state is used up
    [exchange] = api.of("oauth.v2.access")
    assert (
        exchange.args["code"] == "code-1" and exchange.args["redirect_uri"] == f"{BASE}/slack/oauth_redirect"
    )
    assert [c.token for c in api.of("auth.test")] == [TOKENS["TAAA"]]  # the new token's bot id

    async with db.uow() as uow:
        [row] = (await uow.session.scalars(select(SlackInstallation))).all()
        audited = (
            await uow.session.scalars(select(AuditEntry).where(AuditEntry.action == "slack.install"))
        ).all()
    assert (row.team_id, row.team_name, row.bot_id, row.bot_user_id, row.installer) == (
        "TAAA",
        "Agence <A>",
        "BBOT",
        "UBOT",
        "UADMIN",
    )
    assert "xoxb" not in row.bot_token  # sealed, under its own key
    assert sealing.unseal("test-secret-key", row.bot_token, sealing.SLACK_TOKENS) == TOKENS["TAAA"]
    with pytest.raises(sealing.Unreadable):
        sealing.unseal("test-secret-key", row.bot_token)  # the login details' key opens nothing here
    assert [(a.target, a.detail) for a in audited] == [("slack:TAAA", {"installer": "UADMIN"})]
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("hostbot"))
    assert "TAAA" in logged and TOKENS["TAAA"] not in logged


async def test_a_state_is_good_once_in_the_browser_that_started_and_not_after_it_expired(
    web: tuple[TestClient, SlackAdapter], api: FakeSlackAPI, db: Database
) -> None:
    client, _adapter = web
    api.grant("code-1", "TAAA", TOKENS["TAAA"])
    _response, state = await start_install(client)
    other_browser = await finish_install(client, state, "code-1", cookie="")
    forged = await finish_install(client, "not-a-state", "code-1")
    cancelled = await client.get("/slack/oauth_redirect", params={"error": "access_denied", "state": state})
    assert (other_browser.status, forged.status, cancelled.status) == (400, 401, 200)
    assert "expired or was opened in another browser" in await other_browser.text()
    assert f"{BASE}/slack/install" in await forged.text()
    assert "cancelled in Slack" in await cancelled.text()
    assert api.of("oauth.v2.access") == []  # no code is exchanged without a good state

    first = await finish_install(client, state, "code-1")
    again = await finish_install(client, state, "code-1")
    assert (first.status, again.status) == (200, 401)
    assert len(api.of("oauth.v2.access")) == 1

    _response, stale = await start_install(client)
    with clock.frozen(clock.now() + dt.timedelta(seconds=601)):  # SLACK_INSTALL_TTL_SECONDS is 600
        assert (await finish_install(client, stale, "code-2")).status == 401
    async with db.uow() as uow:
        assert [r.team_id for r in (await uow.session.scalars(select(SlackInstallation))).all()] == ["TAAA"]


async def test_a_code_slack_does_not_confirm_installs_nothing(
    web: tuple[TestClient, SlackAdapter], api: FakeSlackAPI, db: Database
) -> None:
    client, _adapter = web
    _response, state = await start_install(client, **{"Accept-Language": "tr"})
    refused = await finish_install(client, state, "never-granted", **{"Accept-Language": "tr"})
    assert refused.status == 401 and 'lang="tr"' in await refused.text()
    async with db.uow() as uow:
        assert (await uow.session.scalars(select(SlackInstallation))).all() == []


async def test_two_workspaces_at_once_each_answered_with_its_own_token(
    web: tuple[TestClient, SlackAdapter], api: FakeSlackAPI, db: Database
) -> None:
    client, adapter = web
    await install(client, api, "TAAA")
    await install(client, api, "TBBB")
    await link(db, "TAAA", "UANA", 1)
    await link(db, "TBBB", "UBUDI", 2)
    ana = SlackUser(client, adapter, api, "UANA", team="TAAA")
    budi = SlackUser(client, adapter, api, "UBUDI", team="TBBB")
    api.calls.clear()

    await asyncio.gather(ana.dm("balance"), budi.dm("balance"), ana.dm("invoices"), budi.dm("orders"))
    a, b = TOKENS["TAAA"], TOKENS["TBBB"]
    to_ana = by_token(api, a, "chat.postMessage")
    to_budi = by_token(api, b, "chat.postMessage")
    assert len(to_ana) == len(to_budi) == 2 and len(api.of("chat.postMessage")) == 4
    assert any("€" in c.text for c in to_ana) and any("IDR" in c.text or "Rp" in c.text for c in to_budi)
    assert {c.token for c in api.of("users.info") if c.args["user"] == "UANA"} == {a}
    assert {c.token for c in api.of("users.info") if c.args["user"] == "UBUDI"} == {b}

    listing = next(c for c in to_ana if "Paid" in c.buttons())
    await ana.press(listing.buttons()["Paid"])
    assert [c.token for c in api.of("chat.update")] == [a]
    await budi.mention("balance", channel="CBUDI")  # not shared: answered privately, in Budi's workspace
    assert {c.token for c in api.calls if c.method.startswith(("chat.", "conversations.", "users."))} == {
        a,
        b,
    }


async def test_alerts_go_out_with_the_token_of_each_users_workspace(
    web: tuple[TestClient, SlackAdapter], api: FakeSlackAPI, db: Database
) -> None:
    client, adapter = web
    await install(client, api, "TAAA")
    await install(client, api, "TBBB")
    await link(db, "TAAA", "UANA", 1)
    await link(db, "TBBB", "UBUDI", 2)
    async with db.uow() as uow:
        for customer in (1, 2):
            invoice = await uow.session.scalar(
                select(Invoice).where(Invoice.customer_id == customer).limit(1)
            )
            assert invoice is not None
            params = {"invoice": invoice.id, "amount": 500, "currency": invoice.currency}
            await outbox.add(uow, f"credited:test{customer}", customer, "payment_credited", params)
        await uow.commit()
    app = bootstrap.assemble(adapter.settings, db, adapter.dispatcher)
    api.calls.clear()
    handled = await AlertSender(db, app.settings, app.seller, bootstrap.senders(slack=adapter)).run_pass()
    sent = api.of("chat.postMessage")
    assert handled == 2
    assert sorted((c.args["channel"], c.token) for c in sent) == [
        ("UANA", TOKENS["TAAA"]),
        ("UBUDI", TOKENS["TBBB"]),
    ]


async def test_uninstall_forgets_the_workspace_and_unlinks_its_people(
    web: tuple[TestClient, SlackAdapter], api: FakeSlackAPI, db: Database
) -> None:
    client, adapter = web
    await install(client, api, "TAAA")
    await install(client, api, "TBBB")
    ana_id = await link(db, "TAAA", "UANA", 1)
    budi_id = await link(db, "TBBB", "UBUDI", 2)
    ana = SlackUser(client, adapter, api, "UANA", team="TAAA")
    await ana.mention("share channel", channel="CTEAM")
    async with db.uow() as uow:
        assert await uow.session.scalar(select(ChannelBinding.workspace)) == "TAAA"

    async def event(team: str, payload: dict[str, object]) -> int:
        body = json.dumps(
            {
                "type": "event_callback",
                "team_id": team,
                "api_app_id": "A0001",
                "event_id": f"Ev{team}",
                "event": payload,
            }
        )
        sent = await client.post(
            "/slack/events", data=body, headers={"Content-Type": "application/json", **signed(body)}
        )
        await adapter.drain()
        return sent.status

    assert await event("TAAA", {"type": "app_uninstalled"}) == 200
    assert await event("TAAA", {"type": "app_uninstalled"}) == 200  # Slack may tell twice: no harm
    # Only users' tokens revoked in B: the bot stays.
    assert await event("TBBB", {"type": "tokens_revoked", "tokens": {"oauth": ["UBUDI"]}}) == 200
    async with db.uow() as uow:
        left = (await uow.session.scalars(select(SlackInstallation.team_id))).all()
        ana_row = await uow.session.get(ChatIdentity, ana_id)
        budi_row = await uow.session.get(ChatIdentity, budi_id)
        bindings = (await uow.session.scalars(select(ChannelBinding))).all()
        audit = (await uow.session.scalars(select(AuditEntry).order_by(AuditEntry.id))).all()
    assert left == ["TBBB"] and bindings == []
    assert ana_row is not None and ana_row.customer_id is None and ana_row.linked_at is None
    assert budi_row is not None and budi_row.customer_id == 2
    forgotten = [
        (a.action, a.customer_id, a.target, a.detail.get("reason")) for a in audit if a.detail.get("reason")
    ]
    assert forgotten == [
        ("unlink", 1, f"identity:{ana_id}", "app_uninstalled"),
        ("channel.unbind", 1, "chat:slack:CTEAM", "app_uninstalled"),
        ("slack.uninstall", None, "slack:TAAA", "app_uninstalled"),
    ]

    api.calls.clear()
    await ana.dm("balance")  # the app is gone from A: nothing is said there, with any token
    assert api.of("chat.postMessage", "users.info") == []

    assert await event("TBBB", {"type": "tokens_revoked", "tokens": {"bot": ["UBOT"]}}) == 200
    async with db.uow() as uow:
        assert (await uow.session.scalars(select(SlackInstallation))).all() == []
        budi_row = await uow.session.get(ChatIdentity, budi_id)
    assert budi_row is not None and budi_row.customer_id is None


async def test_the_providers_own_workspace_keeps_its_bot_token_beside_the_installs(
    db: Database, settings: Settings, dispatcher: Dispatcher, api: FakeSlackAPI
) -> None:
    dispatcher.settings = installable(settings, api, slack_bot_token=OWN)
    web_app = bootstrap.web_app(bootstrap.assemble(dispatcher.settings, db, dispatcher))
    async with TestClient(TestServer(web_app)) as client:
        adapter = web_app[SLACK_KEY]
        await install(client, api, "TAAA")
        await link(db, "T0001", "USTAFF", 1)
        await link(db, "TAAA", "UANA", 1)
        await SlackUser(client, adapter, api, "USTAFF", team="T0001").dm("balance")
        await SlackUser(client, adapter, api, "UANA", team="TAAA").dm("balance")
        await SlackUser(client, adapter, api, "UX", team="TNOTINSTALLED").dm("balance")
    assert [(c.args["channel"], c.token) for c in api.of("chat.postMessage")] == [
        ("D_DM", OWN),
        ("D_DM", TOKENS["TAAA"]),
    ]
    assert [c.token for c in api.of("auth.test")] == [TOKENS["TAAA"], OWN]  # its workspace, asked once


async def test_installs_and_states_through_the_service(db: Database) -> None:
    """The service alone: a reinstall replaces the token, a token sealed under another key is no install."""
    workspace = slack_installs.Workspace("TAAA", "A", "A0001", "B1", "U1", "chat:write", "xoxb-1-first")
    async with db.uow() as uow:
        await slack_installs.save(uow, "key-one", workspace)
    async with db.uow() as uow:
        await slack_installs.save(
            uow, "key-one", slack_installs.Workspace(**{**workspace.__dict__, "bot_token": "xoxb-1-second"})
        )
    async with db.uow() as uow:
        found = await slack_installs.find(uow, "key-one", "TAAA")
        assert found is not None and found.bot_token == "xoxb-1-second"
        assert await slack_installs.find(uow, "key-two", "TAAA") is None
        assert await slack_installs.find(uow, "key-one", "TOTHER") is None
    async with db.uow() as uow:
        state = await slack_installs.issue_state(uow, dt.timedelta(minutes=10))
    async with db.uow() as uow:
        assert await slack_installs.consume_state(uow, state)
    async with db.uow() as uow:
        assert not await slack_installs.consume_state(uow, state)


def test_the_manifest_asks_for_the_scopes_urls_and_events_of_an_install() -> None:
    manifest = (Path(__file__).parents[2] / "slack" / "manifest.yml").read_text()
    bot_scopes = re.search(r"\n    bot:\n((?:      - \S+\n)+)", manifest)
    assert bot_scopes is not None
    declared = [line.removeprefix("      - ") for line in bot_scopes.group(1).splitlines()]
    assert ",".join(declared) == Settings(_env_file=None).slack_scopes  # type: ignore[call-arg]
    assert "    - https://bot.example.com/slack/oauth_redirect\n" in manifest
    for event in ("app_uninstalled", "tokens_revoked"):
        assert f"      - {event}\n" in manifest


def test_an_installable_app_needs_both_of_its_credentials() -> None:
    alone = Settings(_env_file=None, slack_client_id="1111.2222")  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="SLACK_CLIENT_SECRET"):
        bootstrap.slack_wanted(alone)
    assert bootstrap.slack_wanted(alone.model_copy(update={"slack_client_secret": "s3cret-value"}))
    assert not bootstrap.slack_wanted(Settings(_env_file=None))  # type: ignore[call-arg]
