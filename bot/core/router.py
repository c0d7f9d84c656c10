"""What one handlers module declares: its commands, its confirmations and its forms.

A ``Router`` only records; nothing is global. Whoever builds the bot collects the routers it
wants into one ``Registry`` (``Registry.from_routers``), which checks at start-up that every
confirmation belongs to exactly one command and has exactly one confirmer.

A confirmation is a frozen dataclass with typed fields: the button stores its class name and its
fields as JSON, and pressing it rebuilds the dataclass (checking every field) before the confirmer
gets it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import types
import typing
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.core.forms import Form
from bot.core.permissions import CAPABILITIES
from bot.core.types import Confirmable, Reply

Handler = Callable[..., Awaitable[Reply]]


@dataclass
class Command:
    """``func`` answers the command; a form's command has none: it starts ``form`` instead."""

    name: str
    func: Handler | None
    aliases: dict[str, tuple[str, ...]]
    summary: str
    usage: str = ""
    capability: str = "read"
    needs_account: bool = True
    bare: str | None = None
    confirms: tuple[type[Any], ...] = ()
    form: Form | None = None
    follow_up: Form | None = None
    sensitive: bool = False
    files: bool = False

    def alias_for(self, lang: str) -> str:
        return (self.aliases.get(lang) or self.aliases["en"])[0]

    def needs(self, bare: bool) -> str:
        """The capability a use needs: ``bare`` (when given) for the command alone, as a look."""
        return self.bare if self.bare is not None and bare else self.capability


@dataclass(frozen=True)
class Confirmation:
    """A confirmable action as assembled: its class, the command whose capability it needs, and
    the function that carries it out (called with the rebuilt dataclass as ``action``)."""

    name: str
    cls: type[Any]
    command: str
    func: Handler


class InvalidAction(Exception):
    """A stored confirmation that does not rebuild into its dataclass (wrong or missing fields)."""


@dataclass
class Router:
    """The commands, confirmers and forms of one handlers module, in declaration order."""

    commands: list[Command] = field(default_factory=list)
    confirmers: list[tuple[type[Any], Handler]] = field(default_factory=list)

    def command(
        self,
        name: str,
        *,
        aliases: dict[str, tuple[str, ...]],
        summary: str,
        usage: str = "",
        capability: str = "read",
        needs_account: bool = True,
        bare: str | None = None,
        confirms: type[Any] | tuple[type[Any], ...] = (),
        follow_up: Form | None = None,
        sensitive: bool = False,
        files: bool = False,
    ) -> Callable[[Handler], Handler]:
        """``capability``: what using the command needs (``bot.core.permissions``); ``bare``: what it
        needs without arguments, when that only shows something; ``confirms``: the confirmation
        dataclasses the command offers (each needs the command's capability when pressed);
        ``follow_up``: a form named like the command that the handler opens itself
        (``ctx.open_form``) to read what the user types next, such as a typed confirmation. Each
        answer needs the command's capability; it is never started by name nor shown as a dialog.
        ``sensitive``: the account's code word is asked for first, when it has one: before a
        confirmation is carried out, or, for a command that offers none, before it runs (not for a
        bare look). ``files``: the command takes the files sent with it (``Incoming.files``);
        any other refuses them."""
        _check_capabilities(name, capability, bare)
        classes = confirms if isinstance(confirms, tuple) else (confirms,)
        if follow_up is not None and follow_up.name != name:
            raise ValueError(f"the follow-up form of {name} must be named {name!r}")

        def record(func: Handler) -> Handler:
            self.commands.append(
                Command(
                    name,
                    func,
                    aliases,
                    summary,
                    usage,
                    capability,
                    needs_account,
                    bare,
                    classes,
                    None,
                    follow_up,
                    sensitive=sensitive,
                    files=files,
                )
            )
            return func

        return record

    def confirmer(self, action: type[Any]) -> Callable[[Handler], Handler]:
        """The function that carries out a confirmed ``action`` (a dataclass named in ``confirms``
        of one command); it asks for the rebuilt dataclass as ``action``."""

        def record(func: Handler) -> Handler:
            self.confirmers.append((action, func))
            return func

        return record

    def form(
        self,
        form: Form,
        *,
        aliases: dict[str, tuple[str, ...]],
        summary: str,
        capability: str = "read",
        needs_account: bool = True,
        confirms: type[Any] | tuple[type[Any], ...] = (),
        sensitive: bool = False,
    ) -> None:
        """The command ``form.name`` that starts the form; every answer needs its capability, and
        so do the confirmations its finish offers (``confirms``). ``sensitive``: as for a command
        (a form that offers no confirmation asks for the code word before it starts)."""
        _check_capabilities(form.name, capability, None)
        classes = confirms if isinstance(confirms, tuple) else (confirms,)
        self.commands.append(
            Command(
                form.name,
                None,
                aliases,
                summary,
                "",
                capability,
                needs_account,
                None,
                classes,
                form,
                sensitive=sensitive,
            )
        )


def _check_capabilities(name: str, capability: str, bare: str | None) -> None:
    if capability not in CAPABILITIES or (bare is not None and bare not in CAPABILITIES):
        raise ValueError(f"unknown capability for {name}: {capability!r} / {bare!r}")


# -- confirmation payloads -----------------------------------------------------------------------

_SCALARS: dict[Any, type[Any]] = {int: int, str: str, bool: bool}


def field_types(cls: type[Any]) -> dict[str, Any]:
    """The fields of a confirmation class and their types; raises ``TypeError`` for a class that is
    not a frozen dataclass or has a field type a JSON payload cannot carry back."""
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen:
        raise TypeError(f"confirmation {cls.__qualname__} must be a frozen dataclass")
    hints = typing.get_type_hints(cls)
    found = {f.name: hints[f.name] for f in dataclasses.fields(cls)}
    for name, hint in found.items():
        if not _supported(hint):
            raise TypeError(f"confirmation {cls.__qualname__}.{name}: unsupported type {hint!r}")
    return found


def _options(hint: Any) -> tuple[Any, bool]:
    """``X | None`` -> (X, True); anything else -> (hint, False)."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(hint)) == 2:
            return args[0], True
    return hint, False


def _supported(hint: Any) -> bool:
    inner, _optional = _options(hint)
    return inner in _SCALARS or inner is dt.date or inner is dict or typing.get_origin(inner) is dict


def dump(action: Confirmable) -> dict[str, Any]:
    """What a confirm button stores: the class name and the fields as JSON values."""
    params = {
        f.name: (value.isoformat() if isinstance(value, dt.date) else value)
        for f in dataclasses.fields(action)
        for value in [getattr(action, f.name)]
    }
    return {"name": type(action).__name__, "params": params}


def _value(hint: Any, raw: Any) -> Any:
    inner, optional = _options(hint)
    if raw is None:
        if optional:
            return None
        raise InvalidAction("missing value")
    if inner is dt.date:
        if not isinstance(raw, str):
            raise InvalidAction("not a date")
        try:
            return dt.date.fromisoformat(raw)
        except ValueError:
            raise InvalidAction("not a date") from None
    if inner is dict or typing.get_origin(inner) is dict:
        if not isinstance(raw, dict) or not all(isinstance(k, str) for k in raw):
            raise InvalidAction("not a mapping")
        return dict(raw)
    wanted = _SCALARS[inner]
    # bool is an int in Python; a JSON true is no id.
    if not isinstance(raw, wanted) or (wanted is int and isinstance(raw, bool)):
        raise InvalidAction(f"not {wanted.__name__}")
    return raw


def load(cls: type[Any], params: Any) -> Any:
    """The dataclass ``cls`` rebuilt from stored ``params``; ``InvalidAction`` when a field is
    missing, unknown or of the wrong type."""
    if not isinstance(params, Mapping):
        raise InvalidAction("parameters are not a mapping")
    hints = field_types(cls)
    if set(params) - set(hints):
        raise InvalidAction(f"unknown fields {sorted(set(params) - set(hints))}")
    values = {}
    for f in dataclasses.fields(cls):
        if f.name not in params:
            if f.default is dataclasses.MISSING:
                raise InvalidAction(f"missing field {f.name}")
            continue
        values[f.name] = _value(hints[f.name], params[f.name])
    return cls(**values)
