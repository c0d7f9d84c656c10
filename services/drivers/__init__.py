"""Real drivers for the ports in ``services.ports``, chosen by settings."""
