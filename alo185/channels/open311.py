"""Open311 GeoReport v2: services are categories, service requests are tickets.

The web layer (``admin/open311``) only picks the format; what each endpoint returns, how a
request is validated and how statuses map is here. Statuses: ``open`` while the ticket is being
worked on, ``closed`` once it is resolved, closed, redirected, cannot be done or a duplicate.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from pydantic import ConfigDict, Field, StringConstraints, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from alo185.channels import schemas
from alo185.org.models import District
from alo185.tickets import queries
from alo185.tickets.models import Category, Ticket, TicketAttachment

SPEC = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-11-21T00:00:00Z"
DEFAULT_DAYS = 90
MAX_RESULTS = 1000
MAX_IDS = 100  # service_request_id or service_code lists in one GET
MEDIA_URL_MAX = 300  # TicketAttachment.ref
# A ticket's fields by the names of the spec's parameters, for naming what was refused.
PARAMETERS = {"category": "service_code", "district": "attribute[ilce]", "mahalle": "attribute[mahalle]"}
# Singular names of list items in the XML form.
ITEMS = {
    "services": "service",
    "service_requests": "request",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
    "errors": "error",
}


class Open311Error(Exception):
    """The spec's error list: one error, or one for each refused field (``"name: why"``)."""

    def __init__(self, status: int, description: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(description)
        self.status, self.description, self.fields = status, description, fields or {}

    @classmethod
    def invalid(cls, error: ValidationError) -> Open311Error:
        fields = schemas.field_errors(error)
        return cls(400, schemas.refusal(fields), fields)

    def body(self) -> list[dict[str, Any]]:
        if self.fields:
            return [{"code": self.status, "description": f"{name}: {why}"} for name, why in self.fields.items()]
        return [{"code": self.status, "description": self.description}]


def _given(params: dict[str, str]) -> dict[str, str]:
    """Form parameters as the spec treats them: trimmed, and an empty one as not given."""
    trimmed = {name: value.strip() for name, value in params.items()}
    return {name: value for name, value in trimmed.items() if value}


def discovery(base_url: str, contact: str) -> dict[str, Any]:
    return {
        "changeset": CHANGESET,
        "contact": contact,
        "key_service": "API anahtarı için belediyenin bilgi işlem birimine başvurunuz.",
        "endpoints": [
            {
                "specification": SPEC,
                "url": f"{base_url.rstrip('/')}/open311/v2",
                "changeset": CHANGESET,
                "type": "production",
                "formats": ["text/xml", "application/json"],
            }
        ],
    }


def services(session: Session) -> list[dict[str, Any]]:
    rows = session.scalars(select(Category).where(Category.active.is_(True)).order_by(Category.code))
    return [
        {
            "service_code": c.code,
            "service_name": c.name,
            "description": c.name,
            "metadata": True,
            "type": "realtime",
            "keywords": "",
            "group": c.directorate.name if c.directorate is not None else "",
        }
        for c in rows
    ]


def _category(session: Session, code: str) -> Category:
    if len(code) > schemas.CODE_MAX or "\x00" in code:  # no category has such a code: not looked up
        raise Open311Error(404, f"service_code {code[: schemas.CODE_MAX]!r} not found")
    category = session.scalar(select(Category).where(Category.code == code, Category.active.is_(True)))
    if category is None:
        raise Open311Error(404, f"service_code {code!r} not found")
    return category


def definition(session: Session, code: str) -> dict[str, Any]:
    category = _category(session, code)
    districts = session.scalars(select(District.name).order_by(District.name)).all()
    return {
        "service_code": category.code,
        "attributes": [
            {
                "variable": True,
                "code": "ilce",
                "datatype": "singlevaluelist",
                "required": False,
                "datatype_description": "",
                "order": 1,
                "description": "İlçe",
                "values": [{"key": d, "name": d} for d in districts],
            },
            {
                "variable": True,
                "code": "mahalle",
                "datatype": "string",
                "required": False,
                "datatype_description": "Mahallenin adı",
                "order": 2,
                "description": "Mahalle",
            },
        ],
    }


Coordinate = Annotated[float, Field(allow_inf_nan=False)]
Url = Annotated[str, StringConstraints(max_length=MEDIA_URL_MAX, pattern=schemas.NO_NUL)]
Ids = Annotated[str, StringConstraints(max_length=MAX_IDS * 20, pattern=schemas.NO_NUL)]
Filter = Annotated[str, StringConstraints(max_length=40, pattern=schemas.NO_NUL)]


class RequestParams(schemas.Input):
    """A POST's parameters, with the limits every channel has; what the spec adds is in ``NewRequest``."""

    model_config = ConfigDict(extra="ignore")

    service_code: schemas.Code
    lat: Coordinate | None = Field(default=None, ge=-90, le=90)
    long: Coordinate | None = Field(default=None, ge=-180, le=180)
    address_string: schemas.Address = ""
    address_id: schemas.Address = ""
    description: schemas.Description
    district: schemas.Place | None = Field(default=None, alias="attribute[ilce]")
    mahalle: schemas.Place | None = Field(default=None, alias="attribute[mahalle]")
    phone: schemas.Phone | None = None
    first_name: schemas.Name = ""
    last_name: schemas.Name = ""
    media_url: Url = ""


@dataclass(frozen=True)
class NewRequest:
    service_code: str
    description: str
    lat: float | None
    lon: float | None
    address: str
    district: str | None
    mahalle: str | None
    phone: str | None
    name: str
    media_url: str

    @classmethod
    def from_params(cls, params: dict[str, str]) -> NewRequest:
        """Validate a POST's parameters the way the spec asks; ``Open311Error(400)`` names what is wrong."""
        try:
            given = RequestParams.model_validate(_given(params))
        except ValidationError as exc:
            raise Open311Error.invalid(exc) from exc
        if (given.lat is None) != (given.long is None):
            raise Open311Error(400, "lat and long go together", {"lat": "lat and long go together"})
        if given.lat is None and not given.address_string and not given.address_id:
            raise Open311Error(400, "a location is required: lat and long, or address_string, or address_id")
        return cls(
            service_code=given.service_code,
            description=given.description,
            lat=given.lat,
            lon=given.long,
            address=given.address_string,
            district=given.district,
            mahalle=given.mahalle,
            phone=given.phone,
            name=" ".join(p for p in (given.first_name, given.last_name) if p),
            media_url=given.media_url,
        )


class RequestQuery(schemas.Input):
    """A GET's filters: ids, or service codes, dates and a status."""

    model_config = ConfigDict(extra="ignore")

    service_request_id: Ids = ""
    service_code: Ids = ""
    start_date: Filter = ""
    end_date: Filter = ""
    status: Filter = ""


def create(session: Session, new: NewRequest, client: str) -> list[dict[str, Any]]:
    _category(session, new.service_code)
    try:
        ticket = queries.create_ticket(
            session,
            phone=new.phone,
            category_code=new.service_code,
            description=new.description,
            channel="web",
            district=new.district,
            mahalle=new.mahalle,
            actor="citizen",
        )
    except queries.FieldError as exc:
        name = PARAMETERS.get(exc.field, exc.field)
        raise Open311Error(400, f"{name}: {exc}", {name: str(exc)}) from exc
    ticket.lat, ticket.lon, ticket.address = new.lat, new.lon, new.address or None
    if new.name and ticket.citizen is not None and not ticket.citizen.full_name:
        ticket.citizen.full_name = new.name[:200]
    if new.media_url:
        session.add(TicketAttachment(ticket_id=ticket.id, kind="image", ref=new.media_url[:300], source="open311"))
    session.flush()
    notice = f"Başvurunuz alındı ({client}). Numara: {ticket.number}"
    return [{"service_request_id": ticket.number, "service_notice": notice, "account_id": None}]


def status_of(ticket: Ticket) -> str:
    return "closed" if ticket.status in queries.FINISHED else "open"


def as_request(ticket: Ticket) -> dict[str, Any]:
    category = ticket.category
    agency = ticket.directorate.name if ticket.directorate is not None else ""
    return {
        "service_request_id": ticket.number,
        "status": status_of(ticket),
        "status_notes": queries.PUBLIC_STATUS_TR[queries.public_status(ticket)],
        "service_name": category.name,
        "service_code": category.code,
        "description": ticket.description,
        "agency_responsible": agency,
        "service_notice": "",
        "requested_datetime": _iso(ticket.created_at),
        "updated_datetime": _iso(ticket.updated_at),
        "expected_datetime": _iso(ticket.due_at),
        "address": ticket.address or "",
        "address_id": "",
        "zipcode": "",
        "lat": ticket.lat,
        "long": ticket.lon,
        "media_url": "",
    }


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value is not None else None


def _date(raw: str, name: str) -> datetime | None:
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise Open311Error(400, f"{name} is not a W3C date: {raw!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def find(session: Session, params: dict[str, str], now: datetime) -> list[dict[str, Any]]:
    """GET requests: by ids, or by service code, dates (default the last 90 days) and status."""
    try:
        given = RequestQuery.model_validate(_given(params))
    except ValidationError as exc:
        raise Open311Error.invalid(exc) from exc
    query = select(Ticket).order_by(Ticket.created_at.desc()).limit(MAX_RESULTS)
    ids = _listed(given.service_request_id, "service_request_id")
    if ids:
        query = query.where(Ticket.number.in_(ids))
    else:
        end = _date(given.end_date, "end_date") or now
        start = _date(given.start_date, "start_date") or end - timedelta(days=DEFAULT_DAYS)
        if start > end:
            raise Open311Error(400, "start_date is after end_date")
        query = query.where(Ticket.created_at >= start, Ticket.created_at <= end)
        codes = _listed(given.service_code, "service_code")
        if codes:
            query = query.join(Category, Ticket.category_id == Category.id).where(Category.code.in_(codes))
        status = given.status
        if status == "open":
            query = query.where(Ticket.status.not_in(queries.FINISHED))
        elif status == "closed":
            query = query.where(Ticket.status.in_(queries.FINISHED))
        elif status:
            raise Open311Error(400, f"status is open or closed, not {status!r}")
    return [as_request(t) for t in session.scalars(query)]


def _listed(raw: str, name: str) -> list[str]:
    """A comma-separated parameter; bounded, so one GET cannot become a query of any size."""
    values = [v.strip() for v in raw.split(",") if v.strip()]
    if len(values) > MAX_IDS:
        raise Open311Error(400, f"{name}: at most {MAX_IDS} values", {name: f"at most {MAX_IDS} values"})
    return values


def one(session: Session, number: str) -> list[dict[str, Any]]:
    ticket = queries.find_by_number(session, number)  # no lookup for what is no ticket number
    if ticket is None:
        raise Open311Error(404, f"service_request_id {number!r} not found")
    return [as_request(ticket)]


def token(session: Session, value: str) -> list[dict[str, Any]]:
    """Requests get their id at once, so a token is the id itself."""
    one(session, value)
    return [{"service_request_id": value, "token": value}]


def to_xml(root: str, data: Any) -> bytes:
    element = ET.Element(root)
    _fill(element, data, ITEMS.get(root, "item"))
    text: bytes = ET.tostring(element, encoding="utf-8", xml_declaration=True)  # bytes for any encoding but "unicode"
    return text


def _fill(element: ET.Element, data: Any, item: str) -> None:
    if isinstance(data, dict):
        for key, value in data.items():
            _fill(ET.SubElement(element, key), value, ITEMS.get(key, "item"))
    elif isinstance(data, list):
        for value in data:
            _fill(ET.SubElement(element, item), value, "item")
    elif isinstance(data, bool):
        element.text = "true" if data else "false"
    elif data is not None:
        element.text = str(data)
