"""What every channel accepts: the same fields with the same limits, checked before anything is written.

The web form, the API, Open311 and WhatsApp parse their input with models built from the types here,
so a description, an address or a phone number has one limit wherever it comes from. A refusal names
each field it refuses (``field_errors``). The API's OpenAPI document is generated from the models
here (``admin/api/openapi.py``), so it cannot drift from what the API accepts.

The limits are written as JSON Schema can say them (lengths, patterns, enums), so that what the
document promises is exactly what is accepted: a request valid by the document is not refused for
its form, one invalid by it is.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from alo185.core.phone import normalize
from alo185.tickets.models import Channel, TicketType

DESCRIPTION_MAX = 4000  # the citizen's words: the form's textarea, the API, Open311, a WhatsApp text
ADDRESS_MAX = 500
PLACE_MAX = 100  # a district's or a mahalle's name
NAME_MAX = 200  # Citizen.full_name
CODE_MAX = 64  # Category.code
PHONE_MAX = 32
QUERY_MAX = 200  # the words of a search
SEARCH_LIMIT_MAX = 200
SEARCH_LIMIT_DEFAULT = 50
# A request's body on the machine channels (API, Open311, webhooks): far above any honest request,
# far below what would tie up a worker. Larger bodies are refused with 413 before they are read.
MAX_BODY_BYTES = 1024 * 1024

# No NUL anywhere: PostgreSQL cannot store it in text, and no citizen types one.
NO_NUL = r"^[^\x00]*$"
# Some text besides spaces (and no NUL): "   " is no description.
SOME_TEXT = r"^[^\x00]*[^\s\x00][^\x00]*$"
# A Turkish number as people write it: +90/90/0 or none, then ten digits in the usual groups.
# Every string this matches is a number ``core.phone.normalize`` accepts.
PHONE_PATTERN = r"^(?:\+?90 ?|\(?0 ?)?\(?[1-9][0-9]{2}\)?[ .-]?[0-9]{3}[ .-]?[0-9]{2}[ .-]?[0-9]{2}$"


def _e164(raw: str) -> str:
    """The pattern already admits only numbers; this keeps the promise if the pattern is ever loosened."""
    if normalize(raw) is None:
        raise ValueError("not a phone number")
    return raw


Description = Annotated[str, StringConstraints(min_length=1, max_length=DESCRIPTION_MAX, pattern=SOME_TEXT)]
Address = Annotated[str, StringConstraints(max_length=ADDRESS_MAX, pattern=NO_NUL)]
Place = Annotated[str, StringConstraints(max_length=PLACE_MAX, pattern=NO_NUL)]
Name = Annotated[str, StringConstraints(max_length=NAME_MAX, pattern=NO_NUL)]
Code = Annotated[str, StringConstraints(min_length=1, max_length=CODE_MAX, pattern=SOME_TEXT)]
Phone = Annotated[str, StringConstraints(max_length=PHONE_MAX, pattern=PHONE_PATTERN), AfterValidator(_e164)]


class Input(BaseModel):
    """A channel's input, immutable once parsed: no number taken as text, nothing trimmed."""

    model_config = ConfigDict(frozen=True, str_strip_whitespace=False)


class NewTicket(Input):
    """``POST /api/v1/tickets``: a ticket recorded and routed by its category."""

    model_config = ConfigDict(extra="forbid", title="NewTicket")

    category: Code = Field(description="a category code (GET /categories)")
    description: Description
    phone: Phone | None = Field(default=None, description="the citizen's number, any Turkish format")
    channel: Channel = Channel.WEB
    type: TicketType = TicketType.ISTEK
    district: Place | None = Field(default=None, description="a district's name")
    mahalle: Place | None = None
    address: Address | None = None


class TicketSearch(Input):
    """``GET /api/v1/tickets``: a ticket number, a phone number or words, and how many at most."""

    model_config = ConfigDict(extra="ignore", title="TicketSearch")

    q: Annotated[str, StringConstraints(min_length=1, max_length=QUERY_MAX, pattern=SOME_TEXT)] = Field(
        description="a ticket number, a phone number or words"
    )
    limit: int = Field(default=SEARCH_LIMIT_DEFAULT, ge=1, le=SEARCH_LIMIT_MAX)


class WebForm(Input):
    """The citizens' web form (``/basvuru``): what ``NewTicket`` takes, the citizen's name and the consent."""

    model_config = ConfigDict(extra="ignore", title="WebForm")

    name: Name = ""
    phone: Phone
    category: Code
    district: Place = ""
    mahalle: Place = ""
    address: Address = ""
    description: Description
    consent: bool = False


class CategoryView(BaseModel):
    """An active category, as the API lists it."""

    model_config = ConfigDict(title="Category")

    code: str
    name: str
    in_jurisdiction: bool


class HistoryStep(BaseModel):
    """A change of the ticket's status."""

    at: str
    status: str


class TicketView(BaseModel):
    """A ticket as the API shows it to the channel that recorded or looks it up."""

    model_config = ConfigDict(title="Ticket")

    number: str
    status: str
    status_text: str
    category: str
    directorate: str | None
    channel: str
    description: str
    district: str | None
    created_at: str = Field(json_schema_extra={"format": "date-time"})
    due_at: str | None = Field(json_schema_extra={"format": "date-time"})
    public_answer: str | None
    tracking_url: str
    history: list[HistoryStep]


class ApiError(BaseModel):
    """A refusal: ``error`` says it in one line; ``fields`` names each refused field with why."""

    model_config = ConfigDict(title="Error")

    error: str
    message: str | None = Field(default=None, description="more about an HTTP error (405, 413…)")
    fields: dict[str, str] | None = None


# Readable reasons for the patterns above, instead of the pattern itself.
_PATTERN_REASONS = {
    PHONE_PATTERN: "not a phone number (05xx xxx xx xx)",
    SOME_TEXT: "must contain some text (and no NUL character)",
    NO_NUL: "must not contain a NUL character",
}


def field_errors(error: ValidationError) -> dict[str, str]:
    """Each refused field by the name the client used (``a.0.b`` inside lists and objects), with why."""
    found: dict[str, str] = {}
    for item in error.errors(include_url=False, include_input=False):
        name = ".".join(str(part) for part in item["loc"]) or "body"
        why = item["msg"]
        if item["type"] == "string_pattern_mismatch":
            why = _PATTERN_REASONS.get(str(item.get("ctx", {}).get("pattern")), why)
        found.setdefault(name, why)
    return found


def refusal(fields: dict[str, str]) -> str:
    """One line for a client that reads only ``error``: every field with its reason."""
    return "; ".join(f"{name}: {why}" for name, why in fields.items())


def json_schema(model: type[BaseModel], mode: Any = "validation") -> dict[str, Any]:
    """The model's JSON Schema with references into an OpenAPI document's components."""
    return model.model_json_schema(ref_template="#/components/schemas/{model}", mode=mode)
