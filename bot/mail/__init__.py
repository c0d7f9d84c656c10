"""Mail: composing the outbox's rows in their reader's language, and sending them through the mail port."""
