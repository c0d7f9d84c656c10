"""Business rules: plain async functions over a unit of work. No chat, no web."""
