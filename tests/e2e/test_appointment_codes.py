"""Every Registration Service and SDS code the appointment engine answers, triggered through
``openmhhs submit`` as a participant would, each beside its valid neighbour."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from tests.conftest import CliHarness
from tests.market_harness import AURORA, BEACON, CIRRUS, DAWN, METERWISE, TODAY, Market

D = timedelta(days=1)


@pytest.fixture
def market(cli: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Market:
    monkeypatch.setenv("OPENMHHS_TODAY", TODAY.isoformat())
    m = Market(cli, tmp_path)
    m.contract()
    return m


# --- the design note's four SDS decision cases ---------------------------------------------


def test_accept_with_nominated_mdr(market: Market) -> None:
    core = market.mpan()
    outcome = market.submit(market.dsapp(core, mdr=CIRRUS))
    assert outcome["results"][0]["code"] == "SP000"
    (accepted,) = market.produced(outcome, "[DSAppAccepted]")
    assert accepted["CustomBlock"]["B019"]["assignedMDRMPID"] == "MDRC"
    assert market.timeline(core)[0]["mdr_mpid"] == "MDRC"


def test_accept_blank_with_default_mdr(market: Market) -> None:
    core = market.mpan()
    outcome = market.submit(market.dsapp(core))
    assert outcome["results"][0]["code"] == "SP000"
    (accepted,) = market.produced(outcome, "[DSAppAccepted]")
    assert accepted["CustomBlock"]["B019"]["assignedMDRDIPID"] == BEACON


def test_reject_blank_by_contract_ds001(market: Market) -> None:
    market.contract("C-NOMINATE", blank_mdr="reject", default=None)
    core = market.mpan()
    assert market.code(market.dsapp(core, ref="C-NOMINATE")) == "DS001"
    assert market.code(market.dsapp(core, ref="C-NOMINATE", mdr=CIRRUS)) == "SP000"


def test_reject_unsupported_nominated_mdr_ds001(market: Market) -> None:
    core = market.mpan()
    assert market.code(market.dsapp(core, mdr=AURORA)) == "DS001"  # a valid MDR, not in the contract
    assert market.code(market.dsapp(core, mdr=BEACON)) == "SP000"


# --- Registration Service validation of IF-031 (IF-032 R0) -----------------------------------


def test_reg0000_mpan_check_digit_and_unknown(market: Market) -> None:
    core = market.mpan()
    bad = core[:12] + str((int(core[12]) + 1) % 10)
    assert market.code(market.dsapp(bad)) == "REG0000"
    from tests.market_harness import new_mpan

    assert market.code(market.dsapp(new_mpan())) == "REG0000"  # valid core, not registered
    assert market.code(market.dsapp(core)) == "SP000"


def test_reg1019_outside_requesters_responsibility(market: Market) -> None:
    core = market.mpan()
    market.cli("mpan", "supplier", core, "--supplier", DAWN, "--from", (TODAY + 10 * D).isoformat(), ok=True)
    assert market.code(market.dsapp(core, effective=TODAY + 12 * D)) == "REG1019"
    assert market.code(market.dsapp(core, effective=TODAY + 9 * D)) == "SP000"


def test_reg1021_requester_is_not_a_supplier_of_the_mpan(market: Market) -> None:
    core = market.mpan()
    assert market.code(market.dsapp(core, supplier=DAWN)) == "REG1021"
    assert market.code(market.dsapp(core)) == "SP000"


def test_reg1024_retrospective(market: Market) -> None:
    core = market.mpan()
    assert market.code(market.dsapp(core, effective=TODAY - D)) == "REG1024"
    assert market.code(market.dsapp(core, effective=TODAY)) == "SP000"


def test_reg1025_usp_only_with_current_provider(market: Market) -> None:
    core = market.mpan()
    market.appoint(core)
    assert (
        market.code(market.dsapp(core, sds=AURORA, sds_mpid="SUPA", scenario="USP", mdr=CIRRUS)) == "REG1025"
    )
    assert market.code(market.dsapp(core, scenario="USP", mdr=CIRRUS)) == "SP000"


def test_reg1026_csp_cannot_propose_current_provider(market: Market) -> None:
    market.contract("C-AURORA-SELF", sds=AURORA, mdrs=(AURORA,), default=AURORA)
    core = market.mpan()
    market.appoint(core)
    assert market.code(market.dsapp(core)) == "REG1026"
    assert market.code(market.dsapp(core, sds=AURORA, sds_mpid="SUPA", ref="C-AURORA-SELF")) == "SP000"


def test_reg1031_provider_incompatible_with_segment(market: Market) -> None:
    core = market.mpan()
    assert market.code(market.dsapp(core, sds=CIRRUS, sds_mpid="MDRC")) == "REG1031"  # an MDR, not an SDS
    advanced = market.mpan(segment="A")
    assert market.code(market.dsapp(advanced)) == "REG1031"  # an SDS cannot serve the advanced segment
    assert market.code(market.dsapp(core)) == "SP000"


def test_reg1032_cos_must_start_on_the_supply_start_date(market: Market) -> None:
    core = market.mpan()
    market.appoint(core)
    ssd = TODAY + 5 * D
    market.cli("mpan", "supplier", core, "--supplier", DAWN, "--from", ssd.isoformat(), ok=True)
    market.contract("C-DAWN-1", supplier=DAWN)
    assert (
        market.code(market.dsapp(core, supplier=DAWN, scenario="COS", ref="C-DAWN-1", effective=ssd + D))
        == "REG1032"
    )
    assert (
        market.code(market.dsapp(core, supplier=DAWN, scenario="COS", ref="C-DAWN-1", effective=ssd))
        == "SP000"
    )


def test_reg1032_effective_from_not_a_day_start(market: Market) -> None:
    core = market.mpan()
    assert market.code(market.dsapp(core, effective_text="2025-07-01T09:30:00+01:00")) == "REG1032"
    assert market.code(market.dsapp(core, effective_text="2025-06-30T23:00:00+00:00")) == "SP000"


def test_reg1033_scenario_not_valid(market: Market) -> None:
    core = market.mpan()
    market.appoint(core)
    assert market.code(market.dsapp(core, scenario="ALG")) == "REG1033"
    assert (
        market.code(market.dsapp(core, scenario="COS", effective=TODAY + D)) == "REG1033"
    )  # no change of supplier
    assert market.code(market.dsapp(core, scenario="USP")) == "REG1033"  # USP without an MDR
    assert market.code(market.dsapp(core, scenario="USP", mdr=CIRRUS)) == "SP000"


def test_reg1034_prospective_appointment_in_the_past(market: Market) -> None:
    core = market.mpan()
    market.cli("mpan", "supplier", core, "--supplier", DAWN, "--from", (TODAY + 3 * D).isoformat(), ok=True)
    market.contract("C-DAWN-1", supplier=DAWN)
    assert (
        market.code(market.dsapp(core, supplier=DAWN, scenario="COS", ref="C-DAWN-1", effective=TODAY - D))
        == "REG1034"
    )
    assert (
        market.code(
            market.dsapp(core, supplier=DAWN, scenario="COS", ref="C-DAWN-1", effective=TODAY + 3 * D)
        )
        == "SP000"
    )


def test_reg1036_mdr_effective_from_outside_ownership(market: Market) -> None:
    core = market.mpan()
    market.cli("mpan", "supplier", core, "--supplier", DAWN, "--from", (TODAY + 10 * D).isoformat(), ok=True)
    assert market.code(market.dsapp(core, mdr=CIRRUS, mdr_from=TODAY + 11 * D)) == "REG1036"
    assert market.code(market.dsapp(core, mdr=CIRRUS, mdr_from=TODAY)) == "SP000"


def test_reg1083_new_appointments_mdr_must_start_with_it(market: Market) -> None:
    core = market.mpan()
    assert market.code(market.dsapp(core, mdr=CIRRUS, mdr_from=TODAY + 2 * D)) == "REG1083"
    assert market.code(market.dsapp(core, mdr=CIRRUS, mdr_from=TODAY)) == "SP000"


def test_reg1084_scenario_for_the_current_supplier_only(market: Market) -> None:
    core = market.mpan()
    market.cli("mpan", "supplier", core, "--supplier", DAWN, "--from", (TODAY + 3 * D).isoformat(), ok=True)
    market.contract("C-DAWN-1", supplier=DAWN)
    assert (
        market.code(market.dsapp(core, supplier=DAWN, ref="C-DAWN-1", effective=TODAY + 3 * D)) == "REG1084"
    )  # CSP
    assert (
        market.code(
            market.dsapp(core, supplier=DAWN, scenario="COS", ref="C-DAWN-1", effective=TODAY + 3 * D)
        )
        == "SP000"
    )


def test_reg1091_proposed_data_service_mpid_mismatch(market: Market) -> None:
    core = market.mpan()
    assert market.code(market.dsapp(core, sds_mpid="SDSX")) == "REG1091"
    assert market.code(market.dsapp(core, sds_mpid="SDSB")) == "SP000"


def test_reg1092_supplier_nominated_mdr_mpid_mismatch(market: Market) -> None:
    core = market.mpan()
    assert market.code(market.dsapp(core, mdr=CIRRUS, mdr_mpid="MDRZ")) == "REG1092"  # MDRZ ended 1 June
    assert market.code(market.dsapp(core, mdr=CIRRUS, mdr_mpid="MDRC")) == "SP000"


def test_reg1081_supplier_nominated_mdr_not_valid(market: Market) -> None:
    core = market.mpan()
    assert market.code(market.dsapp(core, mdr=DAWN, mdr_mpid="DAWN")) == "REG1081"


def test_reg1099_more_than_28_days_ahead(market: Market) -> None:
    core = market.mpan()
    assert market.code(market.dsapp(core, effective=TODAY + 29 * D)) == "REG1099"
    assert market.code(market.dsapp(core, effective=TODAY + 28 * D)) == "SP000"


def test_reg1082_supplier_led_mdr_change_too_far_ahead(market: Market) -> None:
    core = market.mpan()
    market.appoint(core)
    assert market.code(market.dsapp(core, scenario="USP", mdr=CIRRUS, mdr_from=TODAY + 6 * D)) == "REG1082"
    assert market.code(market.dsapp(core, scenario="USP", mdr=CIRRUS, mdr_from=TODAY + 5 * D)) == "SP000"


def test_reg1098_usp_with_the_current_mdr(market: Market) -> None:
    core = market.mpan()
    market.appoint(core)
    assert market.code(market.dsapp(core, scenario="USP", mdr=BEACON)) == "REG1098"


# --- the provider's IF-034 (an external SDS answers) -------------------------------------------


@pytest.fixture
def external_sds(market: Market) -> Market:
    market.cli("participants", "mode", BEACON, "external", ok=True)
    return market


def _ask(market: Market, core: str) -> dict[str, object]:
    outcome = market.submit(market.dsapp(core))
    assert outcome["results"][0]["code"] == "MSG0000"  # waiting for the SDS
    (request,) = market.produced(outcome, "[DSAppSPRequest]")
    return request


def test_external_sds_accepts(external_sds: Market) -> None:
    core = external_sds.mpan()
    request = _ask(external_sds, core)
    assert external_sds.code(external_sds.sds_answer(request)) == "SP000"
    assert external_sds.timeline(core)[0]["dip_id"] == BEACON


def test_reg1093_sds_nominated_mdr_mpid_mismatch(external_sds: Market) -> None:
    core = external_sds.mpan()
    request = _ask(external_sds, core)
    assert external_sds.code(external_sds.sds_answer(request, mdr=CIRRUS, mdr_mpid="MDRZ")) == "REG1093"


def test_reg1094_invalid_response_code(external_sds: Market) -> None:
    core = external_sds.mpan()
    request = _ask(external_sds, core)
    assert (
        external_sds.code(external_sds.sds_answer(request, code="SP001")) == "REG1094"
    )  # A with a rejection
    core = external_sds.mpan()
    request = _ask(external_sds, core)
    assert (
        external_sds.code(external_sds.sds_answer(request, mdr=None)) == "REG1094"
    )  # accepted without an MDR
    core = external_sds.mpan()
    request = _ask(external_sds, core)
    assert (
        external_sds.code(external_sds.sds_answer(request, response="R", code="SP042", mdr=None)) == "REG1094"
    )


def test_answer_to_no_request_changes_nothing(external_sds: Market) -> None:
    core = external_sds.mpan()
    request = _ask(external_sds, core)
    external_sds.code(external_sds.sds_answer(request))
    again = external_sds.sds_answer(request)  # a second answer: the request is settled
    assert external_sds.code(again) == "OMH0503"
    assert len(external_sds.timeline(core)) == 1


def test_reg1089_subsequent_appointment_received(external_sds: Market) -> None:
    core = external_sds.mpan()
    _ask(external_sds, core)
    outcome = external_sds.submit(external_sds.dsapp(core, mdr=CIRRUS))
    (superseded,) = external_sds.produced(outcome, "[DSAppRejected]")
    assert superseded["CustomBlock"]["B007"]["proposedAppointmentResponseCode"] == "REG1089"


# --- SDS decisions (SP codes) --------------------------------------------------------------------


def test_sp001_no_contract_with_the_supplier(market: Market) -> None:
    core = market.mpan(supplier=DAWN)
    assert market.code(market.dsapp(core, supplier=DAWN, ref=None)) == "SP001"
    market.contract("C-DAWN-1", supplier=DAWN)
    assert market.code(market.dsapp(core, supplier=DAWN, ref="C-DAWN-1")) == "SP000"


def test_sp002_contract_reference_not_the_suppliers(market: Market) -> None:
    core = market.mpan()
    assert market.code(market.dsapp(core, ref="C-NOBODY")) == "SP002"
    assert market.code(market.dsapp(core, ref=None)) == "SP000"  # the only contract applies


def test_sp003_contract_does_not_cover_the_connection_type(market: Market) -> None:
    market.contract("C-AURORA-W", connection_type=["W"])
    lv_ct = market.mpan(connection_type="L")
    assert market.code(market.dsapp(lv_ct, ref="C-AURORA-W")) == "SP003"  # C-AURORA-1 would cover it
    assert market.code(market.dsapp(lv_ct, ref="C-AURORA-1")) == "SP000"


def test_sp004_connection_type_not_supported(market: Market) -> None:
    market.contract("C-AURORA-W", connection_type=["W"])
    unusual = market.mpan(connection_type="U")
    assert market.code(market.dsapp(unusual)) == "SP004"


def test_sp005_segment_not_supported(market: Market, tmp_path: Path) -> None:
    import orjson

    extra = [
        {
            "companyRegNumber": "02222222",
            "companyName": "Beacon Smart Data Services Ltd",
            "companyDetails": [
                {
                    "MPID": "SDSB",
                    "marketRole": "N",
                    "DIPID": BEACON,
                    "DIPRole": "SDS",
                    "datetimeFrom": "2025-04-01T00:00:00+01:00",
                    "datetimeTo": None,
                },
                {
                    "MPID": "SDSB",
                    "marketRole": None,
                    "DIPID": BEACON,
                    "DIPRole": "MDR",
                    "datetimeFrom": "2025-04-01T00:00:00+01:00",
                    "datetimeTo": None,
                },
                {
                    "MPID": "SDSB",
                    "marketRole": "A",
                    "DIPID": BEACON,
                    "DIPRole": "ADS",
                    "datetimeFrom": "2025-04-01T00:00:00+01:00",
                    "datetimeTo": None,
                },
            ],
        }
    ]
    path = tmp_path / "beacon-ads.json"
    path.write_bytes(orjson.dumps(extra))
    market.cli("isd", "import", str(path), "--mode", "merge", ok=True)
    advanced = market.mpan(segment="A")
    assert market.code(market.dsapp(advanced)) == "SP005"


def test_sp006_meter_type_not_supported(market: Market) -> None:
    market.contract("C-SMETS2", meter_type=["S2AD"])
    smets1 = market.mpan(meter_type="S1")
    assert market.code(market.dsapp(smets1, ref="C-SMETS2")) == "SP006"
    assert market.code(market.dsapp(market.mpan(), ref="C-SMETS2")) == "SP000"


def test_sp007_out_of_operational_area(market: Market) -> None:
    market.contract("C-NORTH", gsp_group=["_G", "_P"])
    assert market.code(market.dsapp(market.mpan(), ref="C-NORTH")) == "SP007"


def test_sp008_address_insufficient(market: Market) -> None:
    assert market.code(market.dsapp(market.mpan(postcode=" "))) == "SP008"


def test_sp009_meter_not_dcc_enrolled(market: Market) -> None:
    assert market.code(market.dsapp(market.mpan(dcc_flag="N"))) == "SP009"
    market.contract("C-NON-DCC", no_dcc_enrolment=True)
    assert market.code(market.dsapp(market.mpan(dcc_flag="N"), ref="C-NON-DCC")) == "SP000"


def test_sp010_domestic_indicator_not_supported(market: Market) -> None:
    market.contract("C-HOMES", domestic_only=True)
    core = market.mpan()
    assert market.code(market.dsapp(core, ref="C-HOMES", domestic=False)) == "SP010"
    assert market.code(market.dsapp(core, ref="C-HOMES", domestic=True)) == "SP000"


def test_sp011_insufficient_lead_time(market: Market) -> None:
    market.contract("C-NOTICE", min_lead_days=5)
    core = market.mpan()
    assert market.code(market.dsapp(core, ref="C-NOTICE", effective=TODAY + 4 * D)) == "SP011"
    assert market.code(market.dsapp(core, ref="C-NOTICE", effective=TODAY + 5 * D)) == "SP000"


def test_sp099_contract_not_in_force(market: Market) -> None:
    market.contract("C-LATER", **{"from": (TODAY + 10 * D).isoformat()})
    core = market.mpan()
    assert market.code(market.dsapp(core, ref="C-LATER")) == "SP099"
    assert market.code(market.dsapp(core, ref="C-LATER", effective=TODAY + 10 * D)) == "SP000"


def test_ds003_fallback_read_frequency_missing(market: Market) -> None:
    market.contract("C-FALLBACK", requires_fallback_frequency=True)
    core = market.mpan()
    assert market.code(market.dsapp(core, ref="C-FALLBACK")) == "DS003"
    assert market.code(market.dsapp(core, ref="C-FALLBACK", fallback="M")) == "SP000"


def test_ds004_ds006_supplier_led_mdr_change_notice(market: Market) -> None:
    market.contract("C-NOTICE-MDR", mdr_notice_days=2, mdr_max_notice_days=4)
    core = market.mpan()
    market.appoint(core, ref="C-NOTICE-MDR")
    assert (
        market.code(market.dsapp(core, ref="C-NOTICE-MDR", scenario="USP", mdr=CIRRUS, mdr_from=TODAY + D))
        == "DS004"
    )
    assert (
        market.code(
            market.dsapp(core, ref="C-NOTICE-MDR", scenario="USP", mdr=CIRRUS, mdr_from=TODAY + 5 * D)
        )
        == "DS006"
    )
    assert (
        market.code(
            market.dsapp(core, ref="C-NOTICE-MDR", scenario="USP", mdr=CIRRUS, mdr_from=TODAY + 3 * D)
        )
        == "SP000"
    )


# --- SDS-led MDR changes (IF-034 [SDS-MDRUpdate]) --------------------------------------------------


def test_sds_mdr_update_accepted_splits_the_timeline(market: Market) -> None:
    core = market.mpan()
    market.appoint(core)
    outcome = market.submit(market.mdr_update(core, effective=TODAY + 2 * D))
    assert outcome["results"][0]["code"] == "SP000"
    assert market.produced(outcome, "[DCC-MDROutcome]")[0]["CustomBlock"]["B066"]["assignedMDRMPID"] == "MDRC"
    ds = [p for p in market.timeline(core) if p["service"] == "DS"]
    assert [(p["mdr_mpid"], p["from"], p["to"]) for p in ds] == [
        ("SDSB", TODAY.isoformat(), (TODAY + 2 * D).isoformat()),
        ("MDRC", (TODAY + 2 * D).isoformat(), None),
    ]


def test_reg1080_mdr_update_only_by_the_current_data_service(market: Market) -> None:
    core = market.mpan()
    market.appoint(core)
    assert market.code(market.mdr_update(core, sds=AURORA)) == "REG1080"


def test_reg1081_mdr_update_to_an_invalid_mdr(market: Market) -> None:
    core = market.mpan()
    market.appoint(core)
    assert market.code(market.mdr_update(core, mdr=DAWN, mdr_mpid="DAWN")) == "REG1081"


def test_reg1082_mdr_update_more_than_five_days_ahead(market: Market) -> None:
    core = market.mpan()
    market.appoint(core)
    assert market.code(market.mdr_update(core, effective=TODAY + 6 * D)) == "REG1082"
    assert market.code(market.mdr_update(core, effective=TODAY + 5 * D)) == "SP000"


def test_reg1083_mdr_update_across_a_scheduled_change(market: Market) -> None:
    core = market.mpan()
    market.appoint(core)
    ssd = TODAY + 3 * D
    market.cli("mpan", "supplier", core, "--supplier", DAWN, "--from", ssd.isoformat(), ok=True)
    market.contract("C-DAWN-1", supplier=DAWN)
    assert (
        market.code(market.dsapp(core, supplier=DAWN, scenario="COS", ref="C-DAWN-1", effective=ssd))
        == "SP000"
    )
    assert market.code(market.mdr_update(core, effective=ssd + D)) == "REG1083"
    assert market.code(market.mdr_update(core, effective=ssd - D)) == "SP000"


def test_reg1084_mdr_update_names_the_current_supplier(market: Market) -> None:
    core = market.mpan()
    market.appoint(core)
    assert market.code(market.mdr_update(core, supplier=DAWN)) == "REG1084"


def test_reg1093_mdr_update_mpid_mismatch(market: Market) -> None:
    core = market.mpan()
    market.appoint(core)
    assert market.code(market.mdr_update(core, mdr_mpid="MDRZ")) == "REG1093"


def test_reg1098_mdr_update_to_the_current_mdr(market: Market) -> None:
    core = market.mpan()
    market.appoint(core)
    assert market.code(market.mdr_update(core, mdr=BEACON)) == "REG1098"


def test_sds_refuses_its_own_change_ds004_ds005_ds006(market: Market) -> None:
    market.contract("C-NOTICE-MDR", mdr_notice_days=2, mdr_max_notice_days=4)
    core = market.mpan()
    market.appoint(core, ref="C-NOTICE-MDR")

    def change(day: object) -> str:
        result = market.cli(
            "sds",
            "mdr-change",
            "--sds",
            BEACON,
            "--mpan",
            core,
            "--mdr",
            CIRRUS,
            "--from",
            str(day),
            "--json",
        )
        import orjson

        data = orjson.loads(result.stdout)
        return str(data["error"]["code"] if "error" in data else data["code"])

    assert change(TODAY - D) == "DS005"
    assert change(TODAY + D) == "DS004"
    assert change(TODAY + 5 * D) == "DS006"
    assert change(TODAY + 3 * D) == "SP000"


# --- DIP-level refusals ------------------------------------------------------------------------------


def test_msg1006_resubmission_changes_nothing(market: Market) -> None:
    core = market.mpan()
    message = market.dsapp(core)
    first = market.submit(message)
    again = market.submit(message)
    assert first["results"][0]["code"] == "SP000"
    assert again["results"][0]["code"] == "MSG1006"
    assert again["produced"] == []
    assert len(market.timeline(core)) == 1


def test_msg1010_supplier_sending_as_an_sds(market: Market) -> None:
    core = market.mpan()
    forged = market.factory(DAWN, "SDS")
    from openmhhs.dip.schema import IF031DSApp

    message = forged.build(
        IF031DSApp,
        market.dsapp(core).custom_block,
        site=market.site(core),
        recipients=[market.dsapp(core).common_block.a0.primary_recipients[0]],
        now=market.now,
    )  # type: ignore[union-attr, list-item, arg-type]
    assert market.code(message) == "MSG1010"


def test_metering_service_appointment_and_gap_report(market: Market) -> None:
    core = market.mpan()
    assert market.cli.json("gaps", "--on", TODAY.isoformat()) != []
    market.appoint(core)
    gaps = market.cli.json("gaps", "--on", TODAY.isoformat())
    assert core not in [g["mpan"] for g in gaps]
    services = {p["service"]: p for p in market.timeline(core)}
    assert services["MS"]["dip_id"] == METERWISE and services["MS"]["mdr_dip_id"] is None
