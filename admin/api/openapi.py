"""The OpenAPI 3.1 document of ``/api/v1`` (served at ``/api/v1/openapi.json``)."""

from __future__ import annotations

from typing import Any

_ERROR = {"description": "refused", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
_TICKET = {"application/json": {"schema": {"$ref": "#/components/schemas/Ticket"}}}


def document(base_url: str) -> dict[str, Any]:
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
                            "content": {
                                "application/json": {
                                    "schema": {"type": "array", "items": {"$ref": "#/components/schemas/Category"}}
                                }
                            },
                        },
                        "401": _ERROR,
                    },
                }
            },
            "/tickets": {
                "post": {
                    "summary": "Record a ticket (routed by its category)",
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/NewTicket"}}},
                    },
                    "responses": {"201": {"description": "recorded", "content": _TICKET}, "400": _ERROR, "401": _ERROR},
                },
                "get": {
                    "summary": "Search by ticket number, phone number or words",
                    "parameters": [
                        {"name": "q", "in": "query", "required": True, "schema": {"type": "string"}},
                        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200}},
                    ],
                    "responses": {
                        "200": {
                            "description": "newest first",
                            "content": {
                                "application/json": {
                                    "schema": {"type": "array", "items": {"$ref": "#/components/schemas/Ticket"}}
                                }
                            },
                        },
                        "400": _ERROR,
                        "401": _ERROR,
                    },
                },
            },
            "/tickets/{number}": {
                "get": {
                    "summary": "One ticket",
                    "parameters": [{"name": "number", "in": "path", "required": True, "schema": {"type": "string"}}],
                    "responses": {
                        "200": {"description": "the ticket", "content": _TICKET},
                        "401": _ERROR,
                        "404": _ERROR,
                    },
                }
            },
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "alo185 apikey NAME"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
                "Category": {
                    "type": "object",
                    "properties": {
                        "code": {"type": "string"},
                        "name": {"type": "string"},
                        "in_jurisdiction": {"type": "boolean"},
                    },
                },
                "NewTicket": {
                    "type": "object",
                    "required": ["category", "description"],
                    "properties": {
                        "category": {"type": "string", "description": "a category code"},
                        "description": {"type": "string", "maxLength": 4000},
                        "phone": {"type": "string", "description": "the citizen's number, any Turkish format"},
                        "channel": {
                            "type": "string",
                            "enum": ["phone", "whatsapp", "web", "email", "social", "walk_in", "platform"],
                        },
                        "type": {"type": "string", "enum": ["istek", "sikayet", "oneri", "bilgi", "ihbar", "tesekkur"]},
                        "district": {"type": "string"},
                        "mahalle": {"type": "string"},
                        "address": {"type": "string"},
                    },
                },
                "Ticket": {
                    "type": "object",
                    "properties": {
                        "number": {"type": "string"},
                        "status": {"type": "string"},
                        "status_text": {"type": "string"},
                        "category": {"type": "string"},
                        "directorate": {"type": ["string", "null"]},
                        "channel": {"type": "string"},
                        "description": {"type": "string"},
                        "district": {"type": ["string", "null"]},
                        "created_at": {"type": "string", "format": "date-time"},
                        "due_at": {"type": ["string", "null"], "format": "date-time"},
                        "public_answer": {"type": ["string", "null"]},
                        "tracking_url": {"type": "string"},
                        "history": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {"at": {"type": "string"}, "status": {"type": "string"}},
                            },
                        },
                    },
                },
            },
        },
    }
