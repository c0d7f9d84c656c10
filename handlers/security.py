"""Security settings: the account's code word, the chats linked to it (``sessions``), and the networks
its pay pages open from. Every change is confirmed, audited and protected by the code word itself."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from bot.core import formatting
from bot.core.context import Context
from bot.core.i18n import current
from bot.core.i18n import gettext as _
from bot.core.permissions import ROLES
from bot.core.registry import Registry, fold
from bot.core.router import Router
from bot.core.types import Button, Reply, UsageError
from handlers.common import bare, confirmation
from services import codeword, networks, sessions
from services.audit import Actor
from services.errors import N_, InvalidState, NotFound
from services.ids import parse_id
from services.records import Customer, UnitOfWork

router = Router()

SET_WORDS = frozenset(
    {"set", "change", "new", "definir", "changer", "nouveau", "atur", "ubah", "baru", "ayarla", "degistir"}
)
OFF_WORDS = frozenset({"off", "remove", "delete", "supprimer", "retirer", "hapus", "kaldir", "sil"})
ADD_WORDS = frozenset({"add", "allow", "ajouter", "autoriser", "tambah", "izinkan", "ekle", "izinver"})
CLEAR_WORDS = frozenset({"clear", "all", "tout", "tous", "semua", "hepsi", "temizle"})
REVOKE_WORDS = frozenset(
    {
        "revoke",
        "unlink",
        "remove",
        "revoquer",
        "retirer",
        "delier",
        "cabut",
        "putuskan",
        "hapus",
        "kaldir",
        "kes",
    }
)
ROLE_NAMES = {
    "owner": N_("owner"),
    "admin": N_("admin"),
    "member": N_("member"),
    "guest": N_("guest"),
}
PLATFORMS = {"telegram": "Telegram", "slack": "Slack"}


def _group_refusal() -> Reply:
    return Reply(_("Set your code word in a direct chat with me, so that nobody else reads it."))


# -- code word -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SetCodeWord:
    """A new code word, as its salted hash (the word itself is never kept)."""

    hashed: str


@dataclass(frozen=True)
class RemoveCodeWord:
    """Removing the account's code word."""


def _code_word_status(guard: codeword.Guard, customer: Customer, registry: Registry) -> Reply:
    name = registry.commands["codeword"].alias_for(current())
    if not guard.is_set:
        text = _(
            "Your account has no code word. With one, I ask for it before the most sensitive actions "
            "(deleting an invoice, revoking a chat, changing security settings, reinstalling a server). "
            "To set one: /{command} set WORD"
        ).format(command=name)
        return Reply(text, private=True)
    lines = [
        _(
            "Your account has a code word: I ask for it before the most sensitive actions. "
            "To change it: /{command} set WORD; to remove it: /{command} off"
        ).format(command=name)
    ]
    if guard.locked_until is not None:
        lines.append(
            _("After too many wrong code words, those actions are locked until {time}.").format(
                time=formatting.datetime(guard.locked_until, customer.timezone)
            )
        )
    return Reply("\n".join(lines), private=True)


@router.command(
    "codeword",
    aliases={
        "en": ("codeword", "code word"),
        "fr": ("motsecret", "mot secret"),
        "id": ("katarahasia", "kata rahasia"),
        "tr": ("gizlikelime", "gizli kelime"),
    },
    summary=N_("the code word I ask for before the most sensitive actions: set, change or remove it"),
    usage=N_("[set WORD | off]"),
    capability="settings",
    confirms=(SetCodeWord, RemoveCodeWord),
    sensitive=True,
)
async def code_word(
    ctx: Context, uow: UnitOfWork, customer: Customer, args: list[str], registry: Registry
) -> Reply:
    guard = await codeword.guard(uow, customer.id)
    if not args:
        return _code_word_status(guard, customer, registry)
    verb = fold(args[0])
    if verb in SET_WORDS and len(args) > 1:
        if ctx.incoming.is_group:
            return _group_refusal()
        hashed = await codeword.hash_new(" ".join(args[1:]))
        text = _(
            "Make this your account's code word? From now on I ask for it before the most sensitive "
            "actions. If your chat app lets you, delete your message with the word."
        )
        if guard.is_set:
            text = _(
                "Replace your account's code word with this one? Delete your message with the word if you can."
            )
        return confirmation(text, _("Set code word"), SetCodeWord(hashed))
    if verb in OFF_WORDS and len(args) == 1:
        if not guard.is_set:
            return Reply(_("Your account has no code word."))
        text = _("Remove your account's code word? Sensitive actions will then only need a confirmation.")
        return confirmation(text, _("Remove code word"), RemoveCodeWord())
    raise UsageError()


@router.confirmer(SetCodeWord)
async def confirm_set_code_word(uow: UnitOfWork, actor: Actor, action: SetCodeWord) -> Reply:
    await codeword.set_word(uow, actor.customer_id, action.hashed, actor)
    return Reply(_("Your code word is set. I will ask for it before the most sensitive actions."))


@router.confirmer(RemoveCodeWord)
async def confirm_remove_code_word(uow: UnitOfWork, actor: Actor, action: RemoveCodeWord) -> Reply:
    await codeword.remove(uow, actor.customer_id, actor)
    return Reply(_("Your account no longer has a code word."))


# -- linked chats --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RevokeChat:
    """Unlinking a person's chat (``identity_id``) from the account."""

    identity_id: int


@dataclass(frozen=True)
class StopSharing:
    """Stopping a group chat (``binding_id``) from sharing the account."""

    binding_id: int


def _platform(code: str) -> str:
    return _("terminal") if code == "shell" else PLATFORMS.get(code, code)


def _seen(moment: dt.datetime | None, customer: Customer) -> str:
    return formatting.datetime(moment, customer.timezone) if moment is not None else _("never")


def _chat_line(chat: sessions.LinkedChat, customer: Customer, own: int) -> str:
    if chat.channel:
        return _(
            "c{ref} · {platform} group {who}, shared: everyone there reads as a guest · since {since}"
        ).format(
            ref=chat.ref,
            platform=_platform(chat.platform),
            who=chat.who,
            since=formatting.datetime(chat.linked_at, customer.timezone),
        )
    line = _("{ref} · {platform} user {who} · {role} · linked {linked} · last seen {seen}").format(
        ref=chat.ref,
        platform=_platform(chat.platform),
        who=chat.who,
        role=_(ROLE_NAMES.get(chat.role, chat.role)),
        linked=formatting.datetime(chat.linked_at, customer.timezone),
        seen=_seen(chat.last_seen_at, customer),
    )
    return f"{line} " + _("(this chat)") if chat.ref == own else line


def _outranks(role: str, mine: str) -> bool:
    return role in ROLES and mine in ROLES and ROLES.index(role) > ROLES.index(mine)


@router.command(
    "sessions",
    aliases={
        "en": ("sessions", "linked chats"),
        "fr": ("sessions", "discussions liees"),
        "id": ("sesi", "obrolan tertaut"),
        "tr": ("oturumlar", "bağlı sohbetler"),
    },
    summary=N_("every chat linked to the account, with its role and when it was last seen; revoke one"),
    usage=N_("[revoke NUMBER]"),
    capability="settings",
    confirms=(RevokeChat, StopSharing),
    sensitive=True,
)
async def linked_chats(
    ctx: Context, uow: UnitOfWork, customer: Customer, actor: Actor, args: list[str]
) -> Reply:
    if not args:
        chats = await sessions.listing(uow, customer.id)
        lines = [_("Chats linked to the account of {name}:").format(name=customer.name)]
        lines += [_chat_line(chat, customer, ctx.identity.id) for chat in chats]
        buttons = [
            [Button(_("Revoke {ref}").format(ref=f"c{c.ref}" if c.channel else c.ref), command=_revoke(c))]
            for c in chats
            if c.channel or c.ref != ctx.identity.id
        ]
        return Reply("\n".join(lines), buttons=buttons, private=True)
    if fold(args[0]) not in REVOKE_WORDS or len(args) != 2:
        raise UsageError()
    ref = bare(args[1])
    if fold(ref).startswith("c"):
        return await _stop_sharing(ctx, uow, actor, ref[1:])
    person = await sessions.person(uow, _number(ref), actor)
    if _outranks(person.role, ctx.role):
        raise InvalidState(N_("Only an owner can revoke an owner's chat."))
    text = _(
        "Unlink {platform} user {who} ({role}) from the account? That chat will have to be linked again."
    ).format(
        platform=_platform(person.platform),
        who=person.user_id,
        role=_(ROLE_NAMES.get(person.role, person.role)),
    )
    return confirmation(text, _("Revoke"), RevokeChat(person.id))


def _revoke(chat: sessions.LinkedChat) -> str:
    return f"sessions revoke c{chat.ref}" if chat.channel else f"sessions revoke {chat.ref}"


def _number(text: str) -> int:
    found = parse_id(text)
    if found is None:
        raise NotFound()
    return found


async def _stop_sharing(ctx: Context, uow: UnitOfWork, actor: Actor, ref: str) -> Reply:
    binding = await sessions.channel(uow, _number(ref), actor)
    if not ctx.may("linking"):
        raise InvalidState(N_("Only an owner can stop sharing a group chat."))
    text = _("Stop sharing the account in the {platform} group {who}?").format(
        platform=_platform(binding.platform), who=binding.chat_id
    )
    return confirmation(text, _("Stop sharing"), StopSharing(binding.id))


@router.confirmer(RevokeChat)
async def confirm_revoke_chat(ctx: Context, uow: UnitOfWork, actor: Actor, action: RevokeChat) -> Reply:
    person = await sessions.person(uow, action.identity_id, actor)
    if _outranks(person.role, ctx.role):
        raise InvalidState(N_("Only an owner can revoke an owner's chat."))
    await sessions.revoke_person(uow, person.id, actor)
    if person.id == ctx.identity.id:
        ctx.customer = None
    return Reply(_("That chat is no longer linked to the account."))


@router.confirmer(StopSharing)
async def confirm_stop_sharing(ctx: Context, uow: UnitOfWork, actor: Actor, action: StopSharing) -> Reply:
    if not ctx.may("linking"):
        raise InvalidState(N_("Only an owner can stop sharing a group chat."))
    await sessions.revoke_channel(uow, action.binding_id, actor)
    return Reply(_("That group chat no longer shares the account."))


# -- allowed networks ----------------------------------------------------------------------------


@dataclass(frozen=True)
class AllowNetwork:
    network: str


@dataclass(frozen=True)
class RemoveNetwork:
    """One network removed; None: every one (pay pages open from anywhere again)."""

    network: str | None


ADD_VERB = {"en": "add", "fr": "ajouter", "id": "tambah", "tr": "ekle"}  # each one is in ADD_WORDS


def _networks_text(allowed: list[str], registry: Registry) -> str:
    if not allowed:
        lang = current()
        command = f"{registry.commands['networks'].alias_for(lang)} {ADD_VERB.get(lang, 'add')}"
        return _(
            "Your account's payment pages open from anywhere. To allow only some networks: /{command} 203.0.113.0/24"
        ).format(command=command)
    return "\n".join(
        [_("Your account's payment pages open only from these networks:"), *(f"• {n}" for n in allowed)]
    )


@router.command(
    "networks",
    aliases={
        "en": ("networks", "allowed networks", "ip ranges"),
        "fr": ("reseaux", "reseaux autorises"),
        "id": ("jaringan", "jaringan diizinkan"),
        "tr": ("ağlar", "izinli ağlar"),
    },
    summary=N_("the networks (IP ranges) your payment pages may be opened from"),
    usage=N_("[add NETWORK | remove NETWORK | remove all]"),
    capability="settings",
    confirms=(AllowNetwork, RemoveNetwork),
    sensitive=True,
)
async def allowed_networks(uow: UnitOfWork, customer: Customer, args: list[str], registry: Registry) -> Reply:
    allowed = await networks.allowed(uow, customer.id)
    if not args:
        return Reply(_networks_text(allowed, registry))
    verb = fold(args[0])
    if verb in ADD_WORDS and len(args) == 2:
        network = networks.parse(args[1])
        text = _(
            "Allow {network}? Your account's payment pages will then open only from the networks "
            "on the list; from anywhere else they are refused."
        ).format(network=network)
        return confirmation(text, _("Allow"), AllowNetwork(network))
    if verb in OFF_WORDS and len(args) == 2 and fold(args[1]) in CLEAR_WORDS:
        text = _("Remove every network? Your account's payment pages will open from anywhere again.")
        return confirmation(text, _("Remove"), RemoveNetwork(None))
    if verb in OFF_WORDS and len(args) == 2:
        network = networks.parse(args[1])
        if network not in allowed:
            return Reply(_("{network} is not on the list.").format(network=network))
        return confirmation(
            _("Remove {network} from the list?").format(network=network), _("Remove"), RemoveNetwork(network)
        )
    raise UsageError()


@router.confirmer(AllowNetwork)
async def confirm_allow_network(
    uow: UnitOfWork, actor: Actor, action: AllowNetwork, registry: Registry
) -> Reply:
    allowed = await networks.add(uow, actor.customer_id, networks.parse(action.network), actor)
    return Reply(_networks_text(allowed, registry))


@router.confirmer(RemoveNetwork)
async def confirm_remove_network(
    uow: UnitOfWork, actor: Actor, action: RemoveNetwork, registry: Registry
) -> Reply:
    network = networks.parse(action.network) if action.network is not None else None
    return Reply(_networks_text(await networks.remove(uow, actor.customer_id, network, actor), registry))
