"""Text messages in the admin: the outbox (numbers as the role may see them) and the Turkish templates, editable."""
