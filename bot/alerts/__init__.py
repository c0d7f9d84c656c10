"""Proactive alerts: the bot speaks first when something needs attention.

What needs telling is decided in the service layer (``services.alerts``): ``finders`` apply the
rules (renewals, auto-renewals the balance will not cover, low balance, overdue invoices, unread
support replies) to the ``facts`` and write each finding into the ``outbox`` with a unique key.
This package does the chat side:

- ``messages`` turns an alert into a ``Reply`` in the customer's language, with buttons.
- ``dispatch`` holds the ``AlertSender``: it claims alerts and sends them through a ``Sender`` per platform (see ``senders``)
  to every chat linked to the customer, honouring ``RetryAfter``, with backoff and dead letters.
- ``worker`` runs a scan and a dispatch pass, once or periodically.
- ``notifier`` writes a landed payment into the outbox.
"""
