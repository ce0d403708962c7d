"""Open311 GeoReport v2: services are categories, service requests are tickets.

The web layer (``admin/open311``) only picks the format; what each endpoint returns, how a
request is validated and how statuses map is here. Statuses: ``open`` while the ticket is being
worked on, ``closed`` once it is resolved, closed, redirected, cannot be done or a duplicate.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from alo185.org.models import District
from alo185.tickets import queries
from alo185.tickets.models import Category, Ticket, TicketAttachment

SPEC = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-11-21T00:00:00Z"
DEFAULT_DAYS = 90
MAX_RESULTS = 1000
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
    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status, self.description = status, description

    def body(self) -> list[dict[str, Any]]:
        return [{"code": self.status, "description": self.description}]


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
        code = params.get("service_code", "").strip()
        if not code:
            raise Open311Error(400, "service_code is required")
        lat, lon = _coordinate(params, "lat"), _coordinate(params, "long")
        address = params.get("address_string", "").strip()
        if (lat is None) != (lon is None):
            raise Open311Error(400, "lat and long go together")
        if lat is None and not address and not params.get("address_id"):
            raise Open311Error(400, "a location is required: lat and long, or address_string, or address_id")
        description = params.get("description", "").strip()
        if not description or len(description) > 4000:
            raise Open311Error(400, "description is required (at most 4000 characters)")
        name = " ".join(p for p in (params.get("first_name", ""), params.get("last_name", "")) if p).strip()
        return cls(
            service_code=code,
            description=description,
            lat=lat,
            lon=lon,
            address=address,
            district=params.get("attribute[ilce]") or None,
            mahalle=params.get("attribute[mahalle]") or None,
            phone=params.get("phone", "").strip() or None,
            name=name,
            media_url=params.get("media_url", "").strip(),
        )


def _coordinate(params: dict[str, str], name: str) -> float | None:
    raw = params.get(name, "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise Open311Error(400, f"{name} is not a number: {raw!r}") from None
    if abs(value) > (90 if name == "lat" else 180):
        raise Open311Error(400, f"{name} is out of range: {raw}")
    return value


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
    except ValueError as exc:
        raise Open311Error(400, str(exc)) from exc
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


def _date(params: dict[str, str], name: str) -> datetime | None:
    raw = params.get(name, "").strip()
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise Open311Error(400, f"{name} is not a W3C date: {raw!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def find(session: Session, params: dict[str, str], now: datetime) -> list[dict[str, Any]]:
    """GET requests: by ids, or by service code, dates (default the last 90 days) and status."""
    query = select(Ticket).order_by(Ticket.created_at.desc()).limit(MAX_RESULTS)
    ids = [i.strip() for i in params.get("service_request_id", "").split(",") if i.strip()]
    if ids:
        query = query.where(Ticket.number.in_(ids))
    else:
        end = _date(params, "end_date") or now
        start = _date(params, "start_date") or end - timedelta(days=DEFAULT_DAYS)
        if start > end:
            raise Open311Error(400, "start_date is after end_date")
        query = query.where(Ticket.created_at >= start, Ticket.created_at <= end)
        codes = [c.strip() for c in params.get("service_code", "").split(",") if c.strip()]
        if codes:
            query = query.join(Category, Ticket.category_id == Category.id).where(Category.code.in_(codes))
        status = params.get("status", "").strip()
        if status == "open":
            query = query.where(Ticket.status.not_in(queries.FINISHED))
        elif status == "closed":
            query = query.where(Ticket.status.in_(queries.FINISHED))
        elif status:
            raise Open311Error(400, f"status is open or closed, not {status!r}")
    return [as_request(t) for t in session.scalars(query)]


def one(session: Session, number: str) -> list[dict[str, Any]]:
    ticket = session.scalar(select(Ticket).where(Ticket.number == number))
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
