"""One module per platform: native event -> Incoming, Reply -> native message."""
