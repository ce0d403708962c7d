"""The operator console: its page (``/console``) and its JSON API."""
