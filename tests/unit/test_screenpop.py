"""The screen-pop's content: what AgentCalled says, and who the caller is in the database."""

from __future__ import annotations

from sqlalchemy import select

from alo185 import db, services
from alo185.models import Citizen
from alo185.settings import Settings
from alo185.tickets.queries import create_ticket
from queue_manager import screenpop

AGENT_CALLED = {
    "Event": "AgentCalled",
    "Timestamp": "1795270000.500000",
    "Channel": "Local/k1@alo185-sim-caller-00000001;1",
    "CallerIDNum": "+905321234567",
    "Uniqueid": "t123",
    "Queue": "temizlik",
    "Interface": "Local/2-1@alo185-sim-operator/n",
    "MemberName": "Test operatör 1",
    "ChanVariable": ["ALO185_IVR_PATH=kvkk>language:1>main:3", "ALO185_LANG=tr", "ALO185_CATEGORY=cop-toplama"],
}


def test_what_ami_tells() -> None:
    pop = screenpop.from_agent_called(AGENT_CALLED, joined_at=1795269990.0, now=1795270001.0)
    assert (pop["uniqueid"], pop["queue"], pop["member"]) == ("t123", "temizlik", "Test operatör 1")
    assert (pop["caller"], pop["caller_masked"]) == ("+905321234567", "+90 532 *** ** 67")
    assert (pop["ivr_path"], pop["lang"], pop["category"]) == ("kvkk>language:1>main:3", "tr", "cop-toplama")
    assert pop["wait_s"] == 10.5 and pop["callback"] is False
    assert screenpop.channel_for(pop["member"]) == "alo185:screenpop:Test operatör 1"
    one_var = screenpop.from_agent_called({**AGENT_CALLED, "ChanVariable": "ALO185_LANG=en"}, None, 0)
    assert one_var["lang"] == "en" and one_var["wait_s"] is None and one_var["ivr_path"] == ""


def test_who_the_caller_is(database_url: str) -> None:
    services.prepare_database(Settings(db_url=database_url))
    sessions = db.session_factory(database_url)
    with sessions.begin() as s:
        s.add(Citizen(phone="+905321234567", full_name="Ayşe Demir", platform_role="muhtar"))
        s.flush()
        number = create_ticket(
            s, phone="+905321234567", category_code="yol-cukur", description="x", channel="phone"
        ).number
    details = screenpop.caller_details(sessions, "+905321234567")
    assert details["citizen"]["name"] == "Ayşe Demir" and details["platform_role"] == "muhtar"
    assert (
        [t["number"] for t in details["open_tickets"]] == [number] == [t["number"] for t in details["recent_tickets"]]
    )
    assert details["open_tickets"][0]["status"] == "sent_to_directorate"
    assert screenpop.caller_details(sessions, "+905320000000")["citizen"] is None
    with sessions() as s:
        assert s.scalar(select(Citizen.id).where(Citizen.phone == "+905320000000")) is None
