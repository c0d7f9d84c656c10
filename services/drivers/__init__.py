"""Drivers for the ports in ``services.ports``; ``bot.bootstrap`` picks one per port from the settings."""
