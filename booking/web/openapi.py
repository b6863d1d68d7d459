"""The OpenAPI 3.0 description of the JSON API, served at /api/v1/openapi.json."""

from __future__ import annotations

from typing import Any


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


TOKEN = {"name": "token", "in": "path", "required": True, "schema": {"type": "string", "maxLength": 200}}
NULLABLE_TEXT = {"type": "string", "nullable": True}

SPEC: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {
        "title": "Termine API",
        "version": "1.0.0",
        "description": "Book, look up and cancel appointments of the office. Times are ISO 8601 "
        "with the office's UTC offset; a start without offset is office local time.",
    },
    "servers": [{"url": "/api/v1"}],
    "paths": {
        "/services": {
            "get": {
                "summary": "What can be booked",
                "responses": {
                    "200": {
                        "description": "The services",
                        "content": {
                            "application/json": {
                                "schema": {"type": "array", "items": {"$ref": "#/components/schemas/Service"}}
                            }
                        },
                    }
                },
            }
        },
        "/slots": {
            "get": {
                "summary": "Slots of a service on some days, with free places",
                "parameters": [
                    {"name": "service", "in": "query", "required": True, "schema": {"type": "string"}},
                    {
                        "name": "from",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "string", "format": "date"},
                    },
                    {
                        "name": "to",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "string", "format": "date"},
                    },
                    {
                        "name": "language",
                        "in": "query",
                        "required": False,
                        "description": "Count only places with a counsellor who speaks this language "
                        "(a language code, e.g. de, ar, fa_AF); a service without counsellors has its "
                        "places in de only",
                        "schema": {"type": "string"},
                    },
                ],
                "responses": {
                    "200": {
                        "description": "The slots",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Slots"}}},
                    },
                    "400": _error(
                        "Unknown service (unknown_service), a bad, reversed or over-long range "
                        "(bad_range), or an unknown language code (bad_language)"
                    ),
                    "429": _error("Too many requests"),
                },
            }
        },
        "/challenge": {
            "get": {
                "summary": "A proof-of-work challenge (ALTCHA's open format), for offices with proof_of_work",
                "description": "Find the number n (0 <= n <= maxnumber) with SHA-256(salt + n) == challenge "
                "(hex), then send base64 of the JSON {algorithm, challenge, number, salt, signature} as the "
                "field altcha of POST /bookings. It expires (the salt says when: expires=<unix time>) and "
                "books once.",
                "responses": {
                    "200": {
                        "description": "A new challenge",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Challenge"}}
                        },
                    }
                },
            }
        },
        "/bookings": {
            "post": {
                "summary": "Book a place",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/BookingRequest"}}
                    },
                },
                "responses": {
                    "201": {
                        "description": "Booked; or pending (with email verification on), holding its place "
                        "until `hold_until`: only the link in its email confirms it, and the answer carries "
                        "no key to it",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "oneOf": [
                                        {"$ref": "#/components/schemas/Booking"},
                                        {"$ref": "#/components/schemas/PendingBooking"},
                                    ]
                                }
                            }
                        },
                    },
                    "400": _error("The body is not a JSON object"),
                    "409": _error(
                        "Every place of the slot is taken, or no counsellor speaking the "
                        "counselling_language is free (error: slot_full)"
                    ),
                    "413": _error("The body is over 64 KiB"),
                    "422": {
                        "description": "Invalid fields; also altcha: missing, wrong, expired or already "
                        "used when the office asks for proof of work",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/ValidationErrors"}}
                        },
                    },
                    "429": _error("Too many requests"),
                },
            }
        },
        "/bookings/{token}": {
            "get": {
                "summary": "A booking",
                "parameters": [TOKEN],
                "responses": {
                    "200": {
                        "description": "The booking",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Booking"}}},
                    },
                    "404": _error("Unknown token"),
                },
            },
            "delete": {
                "summary": "Cancel a booking (cancelling twice is harmless)",
                "parameters": [TOKEN],
                "responses": {
                    "200": {
                        "description": "Cancelled",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["status"],
                                    "properties": {"status": {"type": "string", "enum": ["cancelled"]}},
                                }
                            }
                        },
                    },
                    "404": _error("Unknown token"),
                    "409": _error("The appointment has already begun (error: already_begun)"),
                },
            },
        },
    },
    "components": {
        "schemas": {
            "Error": {
                "type": "object",
                "required": ["error"],
                "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
            },
            "ValidationErrors": {
                "type": "object",
                "required": ["errors"],
                "properties": {
                    "errors": {
                        "type": "object",
                        "additionalProperties": {"type": "array", "items": {"type": "string"}},
                    }
                },
            },
            "Service": {
                "type": "object",
                "required": ["id", "name", "duration_minutes", "capacity", "languages"],
                "properties": {
                    "id": {"type": "string"},
                    "name": {"type": "string"},
                    "duration_minutes": {"type": "integer"},
                    "capacity": {
                        "type": "integer",
                        "description": "Parallel places at best: its counsellors, else the office file's",
                    },
                    "languages": {
                        "type": "array",
                        "items": {"type": "string"},
                        "description": "The languages of counselling it is offered in",
                    },
                },
            },
            "Slot": {
                "type": "object",
                "required": ["start", "end", "available"],
                "properties": {
                    "start": {"type": "string", "format": "date-time"},
                    "end": {"type": "string", "format": "date-time"},
                    "available": {"type": "integer", "minimum": 0},
                },
            },
            "Slots": {
                "type": "object",
                "required": ["service", "timezone", "slots"],
                "properties": {
                    "service": {"type": "string"},
                    "timezone": {"type": "string"},
                    "slots": {"type": "array", "items": {"$ref": "#/components/schemas/Slot"}},
                },
            },
            "BookingRequest": {
                "type": "object",
                "required": ["service", "start", "name", "email"],
                "properties": {
                    "service": {"type": "string"},
                    "start": {"type": "string"},
                    "name": {"type": "string"},
                    "email": {"type": "string"},
                    "phone": {"type": "string"},
                    "note": {"type": "string"},
                    "language": {"type": "string"},
                    "counselling_language": {
                        "type": "string",
                        "nullable": True,
                        "description": "The booking gets a counsellor who speaks it (else 409)",
                    },
                    "interpreter": {
                        "type": "string",
                        "nullable": True,
                        "description": "An interpreter is needed for this language (no effect on places)",
                    },
                    "altcha": {
                        "type": "string",
                        "description": "A solved challenge of GET /challenge (base64 of JSON: algorithm, "
                        "challenge, number, salt, signature); required when the office asks for proof of "
                        "work, else ignored",
                    },
                },
            },
            "Challenge": {
                "type": "object",
                "required": ["algorithm", "challenge", "salt", "signature", "maxnumber"],
                "properties": {
                    "algorithm": {"type": "string", "enum": ["SHA-256"]},
                    "challenge": {"type": "string"},
                    "salt": {"type": "string"},
                    "signature": {"type": "string"},
                    "maxnumber": {"type": "integer", "minimum": 1},
                },
            },
            "Booking": {
                "type": "object",
                "required": ["reference", "token", "service", "start", "end", "status", "manage_url"],
                "properties": {
                    "reference": {"type": "string"},
                    "token": {"type": "string"},
                    "service": {"type": "string"},
                    "start": {"type": "string", "format": "date-time"},
                    "end": {"type": "string", "format": "date-time"},
                    "status": {"type": "string", "enum": ["confirmed", "cancelled"]},
                    "name": {"type": "string"},
                    "email": NULLABLE_TEXT,
                    "phone": NULLABLE_TEXT,
                    "note": NULLABLE_TEXT,
                    "language": {"type": "string"},
                    "counselling_language": NULLABLE_TEXT,
                    "interpreter": NULLABLE_TEXT,
                    "manage_url": {"type": "string"},
                },
            },
            "PendingBooking": {
                "type": "object",
                "required": ["reference", "service", "start", "end", "status", "hold_until"],
                "properties": {
                    "reference": {"type": "string"},
                    "service": {"type": "string"},
                    "start": {"type": "string", "format": "date-time"},
                    "end": {"type": "string", "format": "date-time"},
                    "status": {"type": "string", "enum": ["pending", "expired"]},
                    "hold_until": {"type": "string", "format": "date-time"},
                    "language": {"type": "string"},
                    "counselling_language": NULLABLE_TEXT,
                    "interpreter": NULLABLE_TEXT,
                },
            },
        }
    },
}

# Whatever reads the database answers 503 while it cannot be reached (booking/connections.py).
for _path, _operations in SPEC["paths"].items():
    if _path != "/challenge":
        for _operation in _operations.values():
            _operation["responses"]["503"] = _error(
                "The database cannot be reached (unavailable); try again after Retry-After"
            )
