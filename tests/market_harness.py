"""A market in a fresh database, driven through the command line as a test team would:
the ISD with every role, MPANs, contracts, and IF-031/IF-034 messages to submit."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from importlib.resources import files
from pathlib import Path
from typing import Any

import orjson

from openmhhs.days import LONDON, day_start, format_dip_datetime
from openmhhs.dip import schema as s
from openmhhs.dip.build import MessageFactory, Sender
from openmhhs.dip.parse import encode
from openmhhs.dip.schema import IF034DSAppSPResponse, IF034SDSMDRUpdate
from openmhhs.dip.vocabulary import Scenario
from openmhhs.ids import DipId, DipRole, MpanCore, Mpid
from openmhhs.supplier.requests import request_data_service, request_metering_service
from tests.conftest import CliHarness

AURORA, BEACON, CIRRUS, DAWN, METERWISE = "1111111111", "2222222222", "3333333333", "4444444444", "5555555555"
RS, DCC, LDSO = "9000000001", "9000000002", "9000000020"
MPIDS = {AURORA: "SUPA", BEACON: "SDSB", CIRRUS: "MDRC", DAWN: "DAWN", METERWISE: "MTRW"}
TODAY = date(2025, 7, 1)

_stems = itertools.count(1)


def new_mpan() -> MpanCore:
    """A fresh area-20 MPAN (GSP Group _H)."""
    return MpanCore.from_stem(f"20{next(_stems):010d}")


class RawSite:
    """M0 as a participant writes it, even for an MPAN core that is not valid."""

    def __init__(self, core: str) -> None:
        self.core = core

    def m0(self) -> s.M0:
        return s.M0(mpan_core=self.core, distributor_dip_id=LDSO, gsp_group_id="_H")


class Market:
    def __init__(self, cli: CliHarness, tmp: Path, today: date = TODAY) -> None:
        self.cli = cli
        self.tmp = tmp
        self.today = today
        self._files = itertools.count()
        self.factories: dict[tuple[str, str], MessageFactory] = {}
        isd = tmp / "market_isd.json"
        isd.write_bytes(files("openmhhs.data").joinpath("market_isd.json").read_bytes())
        cli("isd", "import", str(isd), ok=True)

    @property
    def now(self) -> datetime:
        return datetime(self.today.year, self.today.month, self.today.day, 12, tzinfo=LONDON).astimezone(UTC)

    def factory(self, dip_id: str, role: str) -> MessageFactory:
        key = (dip_id, role)
        if key not in self.factories:
            self.factories[key] = MessageFactory(
                Sender(DipId(dip_id), DipRole(role)), unique_prefix=f"t{len(self.factories)}"
            )
        return self.factories[key]

    # -- set-up ------------------------------------------------------------------------------
    def mpan(self, *, supplier: str = AURORA, since: date | None = None, **options: str) -> MpanCore:
        core = new_mpan()
        args = [
            "mpan",
            "add",
            core,
            "--distributor",
            LDSO,
            "--gsp",
            "_H",
            "--supplier",
            supplier,
            "--from",
            (since or self.today - timedelta(days=60)).isoformat(),
        ]
        options = {"postcode": "SW1A 1AA", **options}  # an SDS needs one (SP008 otherwise)
        for key, value in options.items():
            args += (
                [f"--{key.replace('_', '-')}", value]
                if value not in ("", None)
                else [f"--{key.replace('_', '-')}"]
            )
        self.cli(*args, ok=True)
        return core

    def contract(
        self,
        ref: str = "C-AURORA-1",
        *,
        sds: str = BEACON,
        supplier: str = AURORA,
        mdrs: tuple[str, ...] = (BEACON, CIRRUS),
        default: str | None = BEACON,
        **options: Any,
    ) -> None:
        args = ["contract", "add", "--sds", sds, "--supplier", supplier, "--ref", ref]
        for mdr in mdrs:
            args += ["--mdr", mdr]
        if default:
            args += ["--default-mdr", default]
        for key, value in options.items():
            flag = f"--{key.replace('_', '-')}"
            if value is True:
                args.append(flag)
            elif isinstance(value, (list, tuple)):
                for item in value:
                    args += [flag, str(item)]
            else:
                args += [flag, str(value)]
        self.cli(*args, ok=True)

    def site(self, core: str) -> RawSite:
        return RawSite(core)

    # -- messages --------------------------------------------------------------------------
    def dsapp(
        self,
        core: str,
        *,
        supplier: str = AURORA,
        sds: str = BEACON,
        sds_mpid: str | None = None,
        effective: date | None = None,
        scenario: str = "CSP",
        ref: str | None = "C-AURORA-1",
        mdr: str | None = None,
        mdr_mpid: str | None = None,
        mdr_from: date | None = None,
        domestic: bool = True,
        fallback: str | None = None,
        effective_text: str | None = None,
    ) -> s.IF031DSApp:
        message = request_data_service(
            self.factory(supplier, "SUP"),
            site=self.site(core),
            rs=DipId(RS),
            sds=DipId(sds),
            sds_mpid=Mpid(sds_mpid or MPIDS.get(sds, "SDSB")),
            effective_from=effective or self.today,
            scenario=Scenario(scenario),
            contract_reference=ref,
            now=self.now,
            mdr=DipId.parse_optional(mdr),
            mdr_mpid=Mpid.parse_optional(mdr_mpid or (MPIDS.get(mdr) if mdr else None)),
            mdr_from=mdr_from,
            domestic=domestic,
            fallback_frequency=fallback,
        )
        if effective_text is not None:
            import msgspec

            b071 = msgspec.structs.replace(
                message.custom_block.b071, proposed_data_service_dip_effective_from_date=effective_text
            )
            message = msgspec.structs.replace(message, custom_block=s.IF031DSAppCustomBlock(b071=b071))
        return message

    def msapp(
        self, core: str, *, supplier: str = AURORA, effective: date | None = None, scenario: str = "CSP"
    ) -> s.IF031MSApp:
        return request_metering_service(
            self.factory(supplier, "SUP"),
            site=self.site(core),
            rs=DipId(RS),
            ms=DipId(METERWISE),
            ms_mpid=Mpid("MTRW"),
            effective_from=effective or self.today,
            scenario=Scenario(scenario),
            contract_reference=None,
            now=self.now,
        )

    def mdr_update(
        self,
        core: str,
        *,
        sds: str = BEACON,
        mdr: str = CIRRUS,
        mdr_mpid: str | None = None,
        effective: date | None = None,
        supplier: str = AURORA,
    ) -> IF034SDSMDRUpdate:
        return self.factory(sds, "SDS").build(
            s.IF034SDSMDRUpdate,
            s.IF034SDSMDRUpdateCustomBlock(
                b012=s.B012(
                    service_provider_appointment_requesting_supplier_dip_id=supplier,
                    service_provider_appointment_requesting_supplier_mpid=MPIDS[supplier],
                ),
                b018=s.B018(
                    sds_nominated_mdr_dip_id=mdr,
                    sds_nominated_mdr_mpid=mdr_mpid or MPIDS.get(mdr, "ZZZZ"),
                    sds_nominated_mdr_requested_effective_from_date=format_dip_datetime(
                        day_start(effective or self.today)
                    ),
                ),
            ),
            site=self.site(core),
            recipients=[DipId(RS)],
            now=self.now,
        )

    def sds_answer(
        self,
        request: dict[str, Any],
        *,
        response: str = "A",
        code: str = "SP000",
        mdr: str | None = BEACON,
        mdr_mpid: str | None = None,
        mdr_from: date | None = None,
    ) -> IF034DSAppSPResponse:
        """An external SDS's IF-034 to an IF-033 (a JSON message from ``produced``)."""
        ask = s.IF033DSAppSPRequest
        import msgspec

        request_struct = msgspec.convert(request, ask)
        custom = request_struct.custom_block
        b018: Any = msgspec.UNSET
        if mdr is not None:
            b018 = s.B018(
                sds_nominated_mdr_dip_id=mdr,
                sds_nominated_mdr_mpid=mdr_mpid or MPIDS.get(mdr, "ZZZZ"),
                sds_nominated_mdr_requested_effective_from_date=format_dip_datetime(
                    day_start(mdr_from or self.today)
                ),
            )
        return self.factory(request_struct.custom_block.b071.proposed_data_service_dip_id, "SDS").reply(
            s.IF034DSAppSPResponse,
            s.IF034DSAppSPResponseCustomBlock(
                b007=s.B007(response_code=response, proposed_appointment_response_code=code),  # type: ignore[arg-type]
                b012=custom.b012,
                b071=custom.b071,
                b018=b018,
            ),
            to=request_struct,
            recipients=[DipId(RS)],
            now=self.now,
        )

    # -- running ---------------------------------------------------------------------------
    def submit(self, *messages: Any) -> dict[str, Any]:
        path = self.tmp / f"submit-{next(self._files)}.json"
        body = (
            encode(list(messages))
            if not isinstance(messages[0], (bytes, dict, list))
            else orjson.dumps(messages[0])
        )
        path.write_bytes(body)
        result = self.cli("submit", str(path), "--json")
        outcome: dict[str, Any] = orjson.loads(result.stdout)
        sent = orjson.loads(body)
        own = [_own_decision(item) for item in (sent if isinstance(sent, list) else [sent])]
        refused = any(
            r["code"] not in ("SP000", "MSG0000") and r["code"] != (own[i] if i < len(own) else None)
            for i, r in enumerate(outcome["results"])
        )
        # exit 1: any input refused (a provider's own rejection in its IF-034 is not a refusal)
        assert result.exit_code == (1 if refused else 0), result.output
        return outcome

    def code(self, message: Any) -> str:
        return str(self.submit(message)["results"][0]["code"])

    def appoint(self, core: str, **kw: Any) -> None:
        """DS and MS appointed from today (asserts both are accepted)."""
        outcome = self.submit(self.dsapp(core, **kw), self.msapp(core))
        assert [r["code"] for r in outcome["results"]] == ["SP000", "SP000"], outcome["results"]

    def timeline(self, core: str) -> list[dict[str, Any]]:
        return self.cli.json("timeline", core)  # type: ignore[no-any-return]

    def produced(self, outcome: dict[str, Any], event: str) -> list[dict[str, Any]]:
        return [m for m in outcome["produced"] if m["CommonBlock"]["S0"]["eventCode"] == event]


def _own_decision(item: Any) -> str | None:
    """The response code a provider put in the IF-034 it submits (its own decision)."""
    message = item.get("payload", item) if isinstance(item, dict) else {}
    b007 = ((message or {}).get("CustomBlock") or {}).get("B007") or {}
    code = b007.get("proposedAppointmentResponseCode")
    return str(code).split(" ", 1)[0] if code else None
