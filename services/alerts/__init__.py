"""What needs telling and the outbox it waits in: the alert rules, the facts they read and the queue's
queries. Sending, pacing and the wording live with the chat side (bot.alerts)."""
