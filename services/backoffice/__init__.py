"""What the provider's staff do from outside the chat: write and read the records by hostbot id or by
the provider's own ``external_id``, issue invoices and credit notes, adjust balances, revoke chat
links, read the audit log.

The documents here (pydantic models) are the one declaration of each record's shape: the admin HTTP
API (``bot.admin``) validates requests and generates its OpenAPI document from them, and ``hostbot
import`` / ``export`` read and write files of the same shapes (``services.backoffice.bundle``).
Nothing here commits: the caller (one API call, one import file) commits or rolls back as a whole.
"""
