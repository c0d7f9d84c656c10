"""Neutral message types: adapters turn native events into ``Incoming`` and render ``Reply``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol


@dataclass(frozen=True)
class Submission:
    """A whole form filled in at once (a platform's dialog): ``values`` by step name; None only
    asks whether the sender may open the form (a reply that ``opens_form``: they may)."""

    form: str
    values: Mapping[str, str] | None = None


@dataclass(frozen=True)
class IncomingFile:
    """A file sent with a message, as the platform describes it (``name``, ``media_type``, ``size``
    in bytes: what the sender's app claims). ``fetch`` downloads it, given the most bytes wanted
    (an adapter may stop reading past them); called only once the description passes the rules."""

    name: str
    media_type: str
    size: int
    fetch: Callable[[int], Awaitable[bytes]] = field(compare=False, repr=False)


@dataclass(frozen=True)
class Incoming:
    """One thing a user did: typed ``text`` or pressed the button whose opaque key is ``action_key``.

    ``view``: not a message but a screen being refreshed (Slack's App Home): ``text`` runs as a
    command and a form the user has open elsewhere stays open. ``linked_only``: say nothing to a
    user who is not linked (Telegram groups, where strangers must not make the bot talk).
    ``submission``: a form sent whole from a dialog instead of ``text``. ``reply_to``: the platform's
    id of the bot's message this one answers (a reply on Telegram, a thread in Slack). ``files``: the
    files sent with it (a photo, a document), whose caption is ``text``."""

    platform: str
    user_id: str
    text: str | None = None
    action_key: str | None = None
    workspace: str = ""
    chat_id: str = ""
    language: str | None = None
    is_group: bool = False
    update_id: str | None = None
    view: bool = False
    linked_only: bool = False
    submission: Submission | None = None
    reply_to: str | None = None
    files: tuple[IncomingFile, ...] = ()


class Confirmable(Protocol):
    """A prepared paying or destructive action, run once when its button is pressed: an instance
    of a frozen dataclass a command declares (``confirms=``) and a confirmer carries out."""

    __dataclass_fields__: ClassVar[dict[str, Any]]


@dataclass
class Button:
    """What pressing does is exactly one of: re-run ``command``, answer the open form with ``answer``,
    open ``url``, run ``confirm`` once, or ``cancel`` the confirmation offered beside it. ``edit``: the
    command's answer replaces the message that holds the button (paging, filters).
    ``key`` is filled in by the dispatcher: it is all the platform ever sees."""

    label: str
    command: str | None = None
    answer: str | None = None
    url: str | None = None
    confirm: Confirmable | None = None
    cancel: bool = False
    edit: bool = False
    key: str | None = None


@dataclass(frozen=True)
class Attachment:
    """A file sent after the reply's text; an ``image/png`` or ``image/jpeg`` one is shown as a
    picture where the platform can. ``title``: what it shows, in words (the title and alt text
    Slack shows, the caption of a Telegram photo)."""

    filename: str
    content_type: str
    data: bytes
    title: str = ""


@dataclass
class Reply:
    """``private``: only for the user, never in a group (attachments always are). ``replace``: edit the message whose button
    was pressed instead of sending a new one (list paging and filters). ``errors``: a form submission's
    refused fields, by step name, each with its reason (nothing was done). ``opens_form``: the
    answer to a ``Submission`` without values when the sender may open its dialog (nothing to show).
    ``language``: the language the dispatcher answered in, for the labels an adapter renders
    around the reply (so it need not look the sender up again); None: the current locale."""

    text: str
    buttons: list[list[Button]] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    private: bool = False
    replace: bool = False
    errors: dict[str, str] = field(default_factory=dict)
    opens_form: bool = False
    language: str | None = None

    def all_buttons(self) -> list[Button]:
        return [b for row in self.buttons for b in row]

    @property
    def for_requester_only(self) -> bool:
        """What goes to the requester's direct messages, never to a shared chat: the private
        (pay links, login details, billing addresses) and every document (PDFs, QR codes)."""
        return self.private or bool(self.attachments)


class UsageError(Exception):
    """Wrong or missing arguments: the dispatcher answers with the command's usage line."""
