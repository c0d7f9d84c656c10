"""Who may do what: the permission matrix, as data (README, "Security", shows the same table).

Every command, confirmation, button and form answer names one capability; the dispatcher checks it
against the sender's role in one place. ``guest`` is whoever writes in a chat shared with an account
(``share channel``) without being linked to that account: they may read, nothing more.
"""

from __future__ import annotations

ROLES = ("guest", "member", "admin", "owner")

# capability -> the lowest role that has it (every role above has it too)
MATRIX: dict[str, str] = {
    "read": "guest",  # balance, invoices and their PDFs, orders, domains, tickets, usage, alerts shown
    "tickets": "member",  # open a ticket
    "language": "member",  # one's own language, unlinking one's own chat
    "settings": "admin",  # alerts, quiet hours, threshold, auto-renew, the account's language, reverse DNS
    "money": "admin",  # pay links, paying, renewing, extending, top-ups, quotes, plan changes
    "destructive": "admin",  # deleting an invoice
    "servers": "admin",  # starting, stopping, rebooting, reinstalling a server; its console and login
    "linking": "owner",  # sharing a chat with everyone in it, or stopping
}
CAPABILITIES = frozenset(MATRIX)


def allows(role: str, capability: str) -> bool:
    """Whether ``role`` has ``capability``; unknown roles and capabilities have nothing."""
    if role not in ROLES or capability not in MATRIX:
        return False
    return ROLES.index(role) >= ROLES.index(MATRIX[capability])
