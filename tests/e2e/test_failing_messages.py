"""A message whose handling fails, or whose values the market cannot hold, is answered with a
code and never stops the messages behind it (issue 12, finding 1)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest

from openmhhs.dip import schema as s
from openmhhs.registration.service import RegistrationService
from tests.conftest import CliHarness
from tests.market_harness import TODAY, Market


@pytest.fixture
def market(cli: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Market:
    monkeypatch.setenv("OPENMHHS_TODAY", TODAY.isoformat())
    return Market(cli, tmp_path)


def _with_correlation(message: Any, correlation: str) -> Any:
    common = message.common_block
    s1 = msgspec.structs.replace(common.s1, sender_correlation_id=correlation)
    return msgspec.structs.replace(message, common_block=msgspec.structs.replace(common, s1=s1))


def _with_provider(message: s.IF031DSApp, dip_id: str) -> s.IF031DSApp:
    b071 = msgspec.structs.replace(message.custom_block.b071, proposed_data_service_dip_id=dip_id)
    return msgspec.structs.replace(message, custom_block=s.IF031DSAppCustomBlock(b071=b071))


def test_unholdable_values_are_refused_with_a_code_and_the_rest_are_delivered(market: Market) -> None:
    market.contract()
    cores = [market.mpan() for _ in range(4)]
    far = market.dsapp(cores[0], effective_text="9999-12-31T23:59:59-23:59")
    foreign = _with_provider(market.dsapp(cores[1]), "éééééééééé")
    first = market.dsapp(cores[2])
    reused = _with_correlation(market.dsapp(cores[3]), first.common_block.s1.sender_correlation_id)
    outcome = market.submit(far, foreign, first, reused)
    codes = [r["code"] for r in outcome["results"]]
    assert codes == ["RCP1022", "RCP1022", "SP000", "MSG1012"], outcome["results"]
    assert "already names an earlier exchange" in outcome["results"][3]["message"]
    answers = market.produced(outcome, "[DSAppInitialResp]")
    refused = [a for a in answers if a["CommonBlock"]["R0"]["responseCode"] == "R"]
    assert len(refused) == 2  # the sender of each IF-031 its RS refused gets IF-032 R
    assert all(a["CommonBlock"]["R0"]["responseMessages"][0][:7] == "RCP1022" for a in refused)
    assert [row["service"] for row in market.timeline(cores[2])] == ["DS"]
    again = market.submit(market.dsapp(cores[0]))  # a sound request for the same MPAN still goes
    assert again["results"][0]["code"] == "SP000"


def test_failed_delivery_is_visible_and_requeued_after_a_fix(
    market: Market, monkeypatch: pytest.MonkeyPatch
) -> None:
    market.contract()
    cores = [market.mpan() for _ in range(3)]
    real = RegistrationService.receive

    def broken(self: RegistrationService, delivered: Any, ctx: Any, uow: Any) -> Any:
        if delivered.message.common_block.m0.mpan_core == cores[0]:
            raise ValueError("a bug in the handler")
        return real(self, delivered, ctx, uow)

    monkeypatch.setattr(RegistrationService, "receive", broken)
    outcome = market.submit(*[market.dsapp(core) for core in cores])
    assert [r["code"] for r in outcome["results"]] == ["RCP1000", "SP000", "SP000"]
    (parked,) = market.cli.json("market", "deliveries")
    assert (parked["state"], parked["code"], parked["mpan"]) == ("failed", "RCP1000", cores[0])
    assert "a bug in the handler" in parked["reason"]
    monkeypatch.setattr(RegistrationService, "receive", real)  # the fix
    assert market.cli.json("market", "requeue", str(parked["delivery"]))["requeued"] == 1
    assert market.cli.json("market", "deliveries") == []
    assert [row["service"] for row in market.timeline(cores[0])] == ["DS"]
    # one answer per request: the failure sent no rejection, the requeued delivery its acceptance
    answers = [
        m
        for m in market.cli.json("messages", "--mpan", cores[0])
        if m["CommonBlock"]["S0"]["eventCode"] == "[DSAppInitialResp]"
    ]
    assert len(answers) == 1, answers
