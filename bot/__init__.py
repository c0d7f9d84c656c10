"""hostbot: run a hosting account from a chat."""
