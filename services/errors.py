"""Domain errors carry an untranslated message id; the chat layer translates and formats them."""

from __future__ import annotations

from typing import Any


def N_(message: str) -> str:
    """Mark a string for extraction into the catalogs; translated later, where it is shown."""
    return message


class DomainError(Exception):
    message = N_("That did not work. Please try again.")

    def __init__(self, message: str | None = None, **params: Any) -> None:
        super().__init__(message or self.message)
        if message is not None:
            self.message = message
        self.params = params


class NotFound(DomainError):
    """Also raised for records of other customers, so the two cannot be told apart."""

    message = N_("Not found. Check the number and try again.")


class InvalidState(DomainError):
    message = N_("That is not possible right now.")


class InsufficientBalance(DomainError):
    message = N_("Your balance of {balance} does not cover {amount}.")


class PermissionDenied(DomainError):
    message = N_("Your role in this account does not allow that. Ask an owner or admin.")
