"""The channels' JSON API (``/api/v1``): token auth, tickets and categories, an OpenAPI document."""
