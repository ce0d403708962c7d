"""The OpenAPI 3.1 document of ``/api/v1`` (served at ``/api/v1/openapi.json``), generated from the models.

Bodies, parameters and responses are the JSON Schemas of the models the views parse and answer with
(``alo185/channels/schemas.py``), so the document cannot drift from what the API accepts. Which
categories and districts exist is the instance's data: the document lists them (``enum``), since a
code or a name it does not know is refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel

from alo185.channels import schemas


class _Components:
    """The document's ``components.schemas``, filled as models are referred to."""

    def __init__(self) -> None:
        self.schemas: dict[str, Any] = {}

    def ref(
        self, model: type[BaseModel], mode: Literal["validation", "serialization"] = "validation"
    ) -> dict[str, str]:
        schema = schemas.json_schema(model, mode)
        self.schemas.update(schema.pop("$defs", {}))
        name = str(schema.get("title", model.__name__))
        self.schemas[name] = schema
        return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = schemas.json_schema(model)
    required = set(schema.get("required", []))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": prop}
        for name, prop in schema["properties"].items()
    ]


def _with_values(prop: dict[str, Any], values: Sequence[str]) -> None:
    """Restrict a string property (or the string of an optional one) to the instance's values."""
    if not values:
        return
    target = next((s for s in prop.get("anyOf", []) if s.get("type") == "string"), prop)
    target["enum"] = list(values)


def document(base_url: str, categories: Sequence[str] = (), districts: Sequence[str] = ()) -> dict[str, Any]:
    components = _Components()
    error = {"description": "refused", "content": _json(components.ref(schemas.ApiError))}
    ticket = components.ref(schemas.TicketView, "serialization")
    category = components.ref(schemas.CategoryView, "serialization")
    new_ticket = components.ref(schemas.NewTicket)
    fields = components.schemas["NewTicket"]["properties"]
    _with_values(fields["category"], categories)
    _with_values(fields["district"], districts)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Alo 185 API", "version": "1.0.0", "description": "Başvurular (tickets) for channel apps."},
        "servers": [{"url": f"{base_url.rstrip('/')}/api/v1"}],
        "security": [{"bearer": []}],
        "paths": {
            "/categories": {
                "get": {
                    "summary": "Active categories",
                    "responses": {
                        "200": {
                            "description": "the categories",
                            "content": _json({"type": "array", "items": category}),
                        },
                        "401": error,
                    },
                }
            },
            "/tickets": {
                "post": {
                    "summary": "Record a ticket (routed by its category)",
                    "requestBody": {"required": True, "content": _json(new_ticket)},
                    "responses": {
                        "201": {"description": "recorded", "content": _json(ticket)},
                        "400": error,
                        "401": error,
                        "413": error,
                    },
                },
                "get": {
                    "summary": "Search by ticket number, phone number or words",
                    "parameters": _query_parameters(schemas.TicketSearch),
                    "responses": {
                        "200": {"description": "newest first", "content": _json({"type": "array", "items": ticket})},
                        "400": error,
                        "401": error,
                    },
                },
            },
            "/tickets/{number}": {
                "get": {
                    "summary": "One ticket",
                    "parameters": [{"name": "number", "in": "path", "required": True, "schema": {"type": "string"}}],
                    "responses": {
                        "200": {"description": "the ticket", "content": _json(ticket)},
                        "401": error,
                        "404": error,
                    },
                }
            },
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "alo185 apikey NAME"}},
            "schemas": components.schemas,
        },
    }
