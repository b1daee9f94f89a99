"""Routing checks against the registry (MSG1009/1010/1031-1036) and message builders."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import ClassVar

import msgspec
import orjson
import pytest

from openmhhs.codes import ResponseCode
from openmhhs.dip.build import MessageFactory, Sender, Site, correlation_of, fill_d0
from openmhhs.dip.catalogue import event_spec
from openmhhs.dip.parse import MessageRejected, encode, parse
from openmhhs.dip.routing import check_routing
from openmhhs.dip.schema import (
    B012,
    B071,
    IF031DSApp,
    IF031DSAppCustomBlock,
    IF032DSAppInitialResp,
    IF032DSAppInitialRespCustomBlock,
)
from openmhhs.ids import DipId, DipRole, GspGroup, MpanCore

NOW = datetime(2025, 6, 1, 12, tzinfo=UTC)
SUPPLIER, RS, SDS, DCC = "1111111111", "9000000001", "2222222222", "9000000002"
SITE = Site(MpanCore("2000056535971"), DipId("2000000000"), GspGroup("_H"))


class FakeDirectory:
    roles: ClassVar[dict[str, set[str]]] = {
        SUPPLIER: {"SUP", "SDS", "MDR"},
        RS: {"REGS"},
        SDS: {"SDS", "MDR"},
        DCC: {"DCC"},
    }

    def roles_of(self, dip_id: str, *, on: date | datetime) -> set[str]:
        return self.roles.get(dip_id, set())


def b071() -> B071:
    return B071(
        proposed_data_service_dip_id=SDS,
        proposed_data_service_mpid="SDSB",
        proposed_data_service_dip_effective_from_date="2025-06-10T00:00:00+01:00",
        contract_reference_data_service="C-1",
        appointment_scenario="COS",
        supplier_nominated_mdr_dip_id=None,
        supplier_nominated_mdr_mpid=None,
        supplier_nominated_mdr_effective_from_date=None,
        supplier_proposed_consent_granularity="H",
        supplier_proposed_domestic_indicator=True,
        traditional_fall_back_read_frequency=None,
    )


def dsapp(sender: str = SUPPLIER, role: str = "SUP", recipients: tuple[str, ...] = (RS,)) -> IF031DSApp:
    factory = MessageFactory(Sender(DipId(sender), DipRole(role)), unique_prefix="u")
    return factory.build(
        IF031DSApp,
        IF031DSAppCustomBlock(b071=b071()),
        site=SITE,
        recipients=[DipId(r) for r in recipients],
        now=NOW,
    )


def routing_code(message: IF031DSApp, *, submitted: bool = True) -> ResponseCode:
    with pytest.raises(MessageRejected) as raised:
        check_routing(
            message,
            event_spec("IF-031", "[DSApp]"),
            directory=FakeDirectory(),
            at=NOW,
            submitted=submitted,
        )
    return raised.value.code


def test_well_addressed_message_passes_routing() -> None:
    check_routing(dsapp(), event_spec("IF-031", "[DSApp]"), directory=FakeDirectory(), at=NOW, submitted=True)


def test_msg1009_unknown_sender() -> None:
    assert routing_code(dsapp(sender="3333333333")) is ResponseCode.MSG1009


def test_msg1010_sender_lacks_the_role_it_claims() -> None:
    assert routing_code(dsapp(sender=SDS, role="SUP")) is ResponseCode.MSG1010


def test_msg1010_role_does_not_send_this_event() -> None:
    assert routing_code(dsapp(sender=SUPPLIER, role="SDS")) is ResponseCode.MSG1010


def test_msg1031_unknown_primary_recipient() -> None:
    assert routing_code(dsapp(recipients=("4444444444",))) is ResponseCode.MSG1031


def test_msg1031_no_primary_recipient() -> None:
    assert routing_code(dsapp(recipients=())) is ResponseCode.MSG1031


def test_msg1032_primary_recipient_in_the_wrong_role() -> None:
    assert routing_code(dsapp(recipients=(SDS,))) is ResponseCode.MSG1032


def _with_a0(message: IF031DSApp, secondary: list[str | None], always: list[str | None]) -> IF031DSApp:
    common = message.common_block
    a0 = msgspec.structs.replace(common.a0, secondary_recipients=secondary, always=always)  # type: ignore[arg-type]
    return msgspec.structs.replace(message, common_block=msgspec.structs.replace(common, a0=a0))


def test_msg1033_and_msg1035_senders_may_not_set_dip_recipients() -> None:
    assert routing_code(_with_a0(dsapp(), [SDS], [])) is ResponseCode.MSG1033
    assert routing_code(_with_a0(dsapp(), [], [DCC])) is ResponseCode.MSG1035


def test_msg1033_to_1036_on_published_messages() -> None:
    assert routing_code(_with_a0(dsapp(), ["4444444444"], []), submitted=False) is ResponseCode.MSG1033
    assert routing_code(_with_a0(dsapp(), [], ["4444444444"]), submitted=False) is ResponseCode.MSG1035
    assert routing_code(_with_a0(dsapp(), [None], []), submitted=False) is ResponseCode.MSG1033


def test_sender_unique_reference_follows_the_official_pattern() -> None:
    reference = dsapp().common_block.s1.sender_unique_reference
    assert re.fullmatch(r"S-IF-031-1111111111-SUP-20250601-u[0-9]{8}", reference)
    pattern = r"^S-((IF|REP)-)?\d{3,4}-[0-9a-fA-F]{10}-[A-Z]{3,5}-\d{8}-[a-zA-Z0-9]+$"
    assert re.match(pattern, reference)


def test_references_are_unique_per_factory() -> None:
    factory = MessageFactory(Sender(DipId(SUPPLIER), DipRole("SUP")))
    refs = {factory.sender_unique_reference("IF-031", NOW) for _ in range(1000)}
    assert len(refs) == 1000


def test_reply_chains_the_correlation_id() -> None:
    request = dsapp()
    rs = MessageFactory(Sender(DipId(RS), DipRole("REGS")), unique_prefix="r")
    reply = rs.reply(
        IF032DSAppInitialResp,
        IF032DSAppInitialRespCustomBlock(b071=b071()),
        to=request,
        recipients=[DipId(SUPPLIER)],
        now=NOW,
    )
    assert reply.common_block.s1.sender_correlation_id == request.common_block.s1.sender_correlation_id
    assert correlation_of(reply) == correlation_of(request)
    assert reply.common_block.m0 == request.common_block.m0


def test_built_message_parses_and_times_are_25_characters() -> None:
    message = dsapp()
    parsed = parse(encode(message), now=NOW)
    s1 = parsed.message.common_block.s1  # type: ignore[attr-defined]
    assert len(s1.sender_timestamp) == 25 and s1.sender_timestamp.endswith("+00:00")
    assert "D0" not in orjson.loads(encode(message))["CommonBlock"]


def test_fill_d0_as_the_hub_publishes() -> None:
    published = fill_d0(
        dsapp(),
        transaction_id="T-IF-031-1111111111-SUP-20250601-1",
        timestamp=NOW,
        publication_id="PUB-031",
        initial_correlation_id="C-1",
        replay=True,
        secondary=[DipId(DCC)],
    )
    d0 = orjson.loads(encode(published))["CommonBlock"]["D0"]
    assert d0["replayIndicator"] is True and len(d0["transactionTimestamp"]) == 25
    assert published.common_block.a0.secondary_recipients == [DCC]  # type: ignore[union-attr]
    parse(encode(published), now=NOW)


def test_unknown_environment_refused_at_construction() -> None:
    with pytest.raises(ValueError):
        Sender(DipId(SUPPLIER), DipRole("SUP"), environment="LIVE")


def test_b012_is_available_for_engine_messages() -> None:
    assert B012(
        service_provider_appointment_requesting_supplier_dip_id=SUPPLIER,
        service_provider_appointment_requesting_supplier_mpid="SUPA",
    )
