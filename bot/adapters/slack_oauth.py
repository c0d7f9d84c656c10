"""Slack installable by any workspace: slack-bolt's ``AsyncOAuthFlow`` at ``/slack/install`` and
``/slack/oauth_redirect``, with its installation store and state store in the project's database.

The stores are the project's own tables through its unit of work (``services.slack_installs``), not
slack-sdk's ``AsyncSQLAlchemyInstallationStore``: that one keeps bot tokens in clear, builds its
tables itself (``create_tables``, naive timestamps) beside the Alembic migrations both databases
run, and keeps every past install; and an uninstall must unlink the workspace's people and stop
sharing its channels, audited, in the same transaction as forgetting its token.

``Workspaces`` says which bot token speaks in which workspace, for slack-bolt's authorization of
each request and for every call the adapter makes (answers, alerts): the workspace's install, else
``SLACK_BOT_TOKEN`` for the provider's own workspace (the one ``auth.test`` names for it), or for
every workspace when the app is not installable (no ``SLACK_CLIENT_ID``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.authorization.async_authorize import AsyncAuthorize
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.error import BoltError
from slack_bolt.oauth.async_callback_options import AsyncCallbackOptions, AsyncFailureArgs, AsyncSuccessArgs
from slack_bolt.oauth.async_oauth_flow import AsyncOAuthFlow
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.oauth.installation_store import Installation
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.core.i18n import N_, accepted, use_locale
from bot.core.i18n import gettext as _
from services import slack_installs
from services.records import Database

log = logging.getLogger("hostbot.slack.oauth")
INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
# The pages answer a browser with a one-time code in its URL: never cached, never a Referer.
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
}

pages = Environment(
    loader=PackageLoader("bot", "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
pages.globals["_"] = _


class NotInstalled(Exception):
    """No bot token for the workspace: the app is not (or no longer) installed there."""

    def __init__(self, team: str) -> None:
        super().__init__(f"the app is not installed in Slack workspace {team!r}")
        self.team = team


@dataclass(frozen=True)
class Bot:
    """The app's bot in one workspace (the ids let slack-bolt skip the bot's own events)."""

    team_id: str
    token: str
    bot_id: str = ""
    bot_user_id: str = ""


class Workspaces:
    """Which bot token speaks in which workspace. ``client`` makes a Web API client for a token."""

    def __init__(self, settings: Settings, db: Database, client: Callable[[str], AsyncWebClient]) -> None:
        self.settings = settings
        self.db = db
        self.client = client
        self._own: Bot | None = None

    @property
    def installable(self) -> bool:
        return bool(self.settings.slack_client_id)

    async def bot(self, team: str) -> Bot | None:
        """The bot of ``team``, None where the app is not installed."""
        token = self.settings.slack_bot_token
        if not self.installable:
            return Bot(team, token) if token else None
        async with self.db.uow() as uow:
            found = await slack_installs.find(uow, self.settings.secret_key, team)
        if found is not None:
            return Bot(found.team_id, found.bot_token, found.bot_id, found.bot_user_id)
        own = await self.own()
        return own if own is not None and own.team_id == team else None

    async def own(self) -> Bot | None:
        """The provider's own workspace's bot (``SLACK_BOT_TOKEN``), asked of ``auth.test`` once."""
        token = self.settings.slack_bot_token
        if token and self._own is None:
            answer = await self.client(token).auth_test()
            self._own = Bot(
                str(answer["team_id"]), token, str(answer.get("bot_id") or ""), str(answer["user_id"])
            )
        return self._own

    async def client_for(self, team: str) -> AsyncWebClient:
        """A Web API client with ``team``'s bot token; ``NotInstalled`` where there is none."""
        bot = await self.bot(team)
        if bot is None:
            raise NotInstalled(team)
        return self.client(bot.token)

    async def forget(self, team: str, reason: str) -> None:
        """The app left ``team`` (``reason``: Slack's event): its install goes, its people are unlinked."""
        async with self.db.uow() as uow:
            unlinked = await slack_installs.uninstall(uow, team, reason)
        log.info("Slack workspace %s: %s, %d people unlinked", team, reason, unlinked)


class Authorize(AsyncAuthorize):
    """slack-bolt's authorization of each request: the bot of the workspace it comes from."""

    def __init__(self, workspaces: Workspaces) -> None:
        self.workspaces = workspaces

    async def __call__(
        self,
        *,
        context: AsyncBoltContext,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None,
        actor_enterprise_id: str | None = None,
        actor_team_id: str | None = None,
        actor_user_id: str | None = None,
    ) -> AuthorizeResult | None:
        bot = await self.workspaces.bot(team_id) if team_id else None
        if bot is None:
            return None
        return AuthorizeResult(
            enterprise_id=enterprise_id,
            team_id=bot.team_id,
            bot_token=bot.token,
            bot_id=bot.bot_id,
            bot_user_id=bot.bot_user_id,
            user_id=user_id,
        )


class Installations(AsyncInstallationStore):
    """Where ``AsyncOAuthFlow`` keeps a finished install: ``services.slack_installs``. Only bot
    installs of one workspace: an org-wide install or an expiring token (token rotation) is
    refused, and no user token is asked for or kept."""

    def __init__(self, db: Database, secret: str) -> None:
        self.db = db
        self.secret = secret

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_save(self, installation: Installation) -> None:
        if installation.is_enterprise_install or not installation.team_id:
            raise BoltError("an org-wide install is not supported: install the app in each workspace")
        if not installation.bot_token or installation.bot_refresh_token:
            raise BoltError("the install gave no bot token that lasts (turn token rotation off)")
        workspace = slack_installs.Workspace(
            team_id=installation.team_id,
            team_name=installation.team_name or "",
            app_id=installation.app_id or "",
            bot_id=installation.bot_id or "",
            bot_user_id=installation.bot_user_id or "",
            bot_scopes=",".join(installation.bot_scopes or []),
            bot_token=installation.bot_token,
            installer=installation.user_id or "",
        )
        async with self.db.uow() as uow:
            await slack_installs.save(uow, self.secret, workspace)
        log.info("Slack workspace %s installed the app", installation.team_id)


class States(AsyncOAuthStateStore):
    """The OAuth ``state`` of the installs under way, in the database (any replica may get the
    redirect), good once within ``ttl``."""

    def __init__(self, db: Database, ttl: dt.timedelta) -> None:
        self.db = db
        self.ttl = ttl

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        async with self.db.uow() as uow:
            return await slack_installs.issue_state(uow, self.ttl)

    async def async_consume(self, state: str) -> bool:
        async with self.db.uow() as uow:
            return await slack_installs.consume_state(uow, state)


class Pages:
    """What the installer's browser shows at the end, in its language (``Accept-Language``); the
    state's cookie is dropped either way (the state is used up or was no good)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def _page(
        self, request: AsyncBoltRequest, flow: AsyncOAuthSettings, status: int, text: Text
    ) -> BoltResponse:
        header = (request.headers.get("accept-language") or [""])[0]
        lang = accepted(header) or self.settings.default_language
        install = self.settings.public_base_url.rstrip("/") + INSTALL_PATH
        with use_locale(lang):
            body = pages.get_template("message.html").render(
                lang=lang,
                languages=[],  # the page's own links would lose the redirect's code and state
                title=_(text.title),
                message=_(text.message).format(
                    team=text.team, command=self.settings.slack_command, url=install
                ),
            )
        headers: dict[str, str | Sequence[str]] = {"Content-Type": "text/html; charset=utf-8", **HEADERS}
        headers["Set-Cookie"] = [flow.state_utils.build_set_cookie_for_deletion()]
        return BoltResponse(status=status, body=body, headers=headers)

    async def success(self, args: AsyncSuccessArgs) -> BoltResponse:
        team = args.installation.team_name or args.installation.team_id or ""
        return self._page(args.request, args.settings, 200, Text(INSTALLED, WELCOME, team))

    async def failure(self, args: AsyncFailureArgs) -> BoltResponse:
        log.warning("a Slack install did not complete: %s", args.reason)
        if args.reason == "access_denied":
            message = CANCELLED
        elif args.reason in ("invalid_browser", "invalid_state"):
            message = EXPIRED
        else:
            message = UNCONFIRMED
        return self._page(
            args.request, args.settings, args.suggested_status_code, Text(NOT_INSTALLED, message)
        )


@dataclass(frozen=True)
class Text:
    """A page's title and message, to translate; the message may name {team}, {command} and {url}."""

    title: str
    message: str
    team: str = ""


INSTALLED = N_("The app is installed")
WELCOME = N_(
    "It is now in the Slack workspace {team}. Everyone there can send {command} help to the app, "
    "and link their hosting account with {command} link."
)
NOT_INSTALLED = N_("The app is not installed")
CANCELLED = N_("The installation was cancelled in Slack. Nothing was changed.")
EXPIRED = N_("This install link has expired or was opened in another browser. Start again from {url}")
UNCONFIRMED = N_("Slack did not confirm the installation. Start again from {url}")


def oauth_flow(settings: Settings, db: Database, client: AsyncWebClient) -> AsyncOAuthFlow:
    """The install flow: ``/slack/install`` sends the browser to Slack with a new state (also in a
    cookie, so only the browser that started may finish); Slack sends it back to
    ``/slack/oauth_redirect`` with a code, exchanged (``oauth.v2.access`` through ``client``) for
    the workspace's bot token, which ``Installations`` keeps."""
    shown = Pages(settings)
    return AsyncOAuthFlow(
        client=client,
        logger=log,
        settings=AsyncOAuthSettings(
            client_id=settings.slack_client_id,
            client_secret=settings.slack_client_secret,
            scopes=[scope.strip() for scope in settings.slack_scopes.split(",") if scope.strip()],
            user_scopes=[],
            redirect_uri=settings.public_base_url.rstrip("/") + REDIRECT_PATH,
            install_path=INSTALL_PATH,
            install_page_rendering_enabled=False,
            redirect_uri_path=REDIRECT_PATH,
            callback_options=AsyncCallbackOptions(success=shown.success, failure=shown.failure),
            installation_store=Installations(db, settings.secret_key),
            installation_store_bot_only=True,
            state_store=States(db, dt.timedelta(seconds=settings.slack_install_ttl_seconds)),
            state_expiration_seconds=settings.slack_install_ttl_seconds,
            logger=log,
        ),
    )
