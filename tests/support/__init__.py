"""Drivers the tests talk to the bot through: a chat, the CLI, the pay site, the platforms."""
