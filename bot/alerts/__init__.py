"""Proactive alerts: the bot speaks first when something needs attention.

- ``finders`` look at the accounts (renewals, auto-renewals the balance will not cover, low
  balance, overdue invoices, unread support replies) and write each finding into the outbox with a
  unique key, in the same transaction that read the facts: finding the same thing again is a no-op.
- ``outbox`` owns the ``alerts`` table: insert-if-absent, claiming with a lease
  (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), counts for ``hostbot alerts status``.
- ``messages`` turns an alert into a ``Reply`` in the customer's language, with buttons.
- ``dispatch`` holds the ``AlertSender``: it claims alerts and sends them through a ``Sender`` per platform (see ``senders``)
  to every chat linked to the customer, honouring ``RetryAfter``, with backoff and dead letters.
- ``worker`` runs a scan and a dispatch pass, once or periodically.
"""
