"""What an admin API token may do: its own module so that the CLI's parser names the scopes
without importing the back office's documents."""

from __future__ import annotations

from typing import Literal, get_args

Scope = Literal["read", "write", "money"]
SCOPES: tuple[Scope, ...] = get_args(Scope)
