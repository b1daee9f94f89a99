"""A market held in a ``MemoryUnitOfWork``, with no database: the ISD of ``market_isd.json``,
every simulated participant, and the DIP's one ingress (``market.ingress``: admit, deliver) to
carry messages between them. Role tests submit a message and read back exactly what each
participant sent."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from datetime import date, timedelta
from importlib.resources import files
from typing import Any

from openmhhs.dataservice.contracts import BlankMdrPolicy, Contract
from openmhhs.dip.parse import Parsed, Perspective, encode, parse, parse_batch
from openmhhs.dip.participant import Context, Participant
from openmhhs.dip.schema import DipMessageStruct
from openmhhs.identity.m16_format import read_json
from openmhhs.ids import DipId, GspGroup, MpanCore
from openmhhs.market.bus import participants_for, roles_on
from openmhhs.market.ingress import PRODUCED, Admission, IsdDirectory, admit, deliver_pending, prepare
from openmhhs.periods import Period
from openmhhs.registration.model import (
    ConnectionType,
    MarketSegment,
    MpanRecord,
    SupplierPeriod,
)
from openmhhs.registration.rules import RsSettings
from openmhhs.store.memory import MemoryUnitOfWork, Seed
from tests.market_harness import AURORA, BEACON, CIRRUS, LDSO, TODAY, Market, new_mpan


@dataclass(frozen=True, slots=True)
class Sent:
    """One message a participant sent, as logged by the DIP."""

    interface_id: str
    event_code: str
    sender: str
    recipients: tuple[str, ...]
    message: Any

    @property
    def code(self) -> str | None:
        """The response code it carries (R0, B007, B099 or B066), if any."""
        custom = self.message.custom_block
        for name in ("b099",):
            block = getattr(custom, name, None)
            if (
                block is not None
                and not isinstance(block, type(None))
                and hasattr(block, "response_messages")
            ):
                return str(block.response_messages[0]).split(" ", 1)[0] if block.response_code == "R" else "A"
        b007 = getattr(custom, "b007", None)
        if b007 is not None and hasattr(b007, "proposed_appointment_response_code"):
            return b007.proposed_appointment_response_code  # type: ignore[no-any-return]
        response = getattr(self.message.common_block, "r0", None)
        if response is not None and hasattr(response, "response_code"):
            if response.response_code == "R":
                return str(response.response_messages[0]).split(" ", 1)[0]
            return "A"
        return None

    def row(self) -> tuple[str, str, tuple[str, ...], str | None]:
        return self.event_code, self.sender, self.recipients, self.code


class MemoryMarket(Market):
    """Every participant the ISD's roles call for (except ``external`` DIP IDs), over one
    ``MemoryUnitOfWork``; messages are built as ``tests.market_harness.Market`` builds them."""

    def __init__(self, *, today: date = TODAY, external: frozenset[str] = frozenset()) -> None:
        self.today = today
        self.factories = {}
        self.isd = read_json(files("openmhhs.data").joinpath("market_isd.json").read_bytes())
        self.external = external
        self.directory = IsdDirectory(self.isd)
        self.uow = MemoryUnitOfWork(Seed())
        self.admissions: list[Admission] = []
        self._prefixes = itertools.count()
        self.participants: dict[str, list[Participant]] = {}
        self._build()

    def _build(self) -> None:
        """Participants read contracts and MPAN data once per run: a new run after set-up."""
        roles = roles_on(self.isd, self.today)
        dcc = next((DipId(d) for d, r in sorted(roles.items()) if "DCC" in r), None)
        prefix = f"m{next(self._prefixes)}"
        self.participants = {
            dip_id: participants_for(DipId(dip_id), held, dcc=dcc, settings=RsSettings(), prefix=prefix)
            for dip_id, held in sorted(roles.items())
            if dip_id not in self.external
        }

    def context(self) -> Context:
        return Context(today=self.today, now=self.now, isd=self.isd)

    # -- set-up ------------------------------------------------------------------------------
    def mpan(
        self,
        *,
        supplier: str = AURORA,
        since: date | None = None,
        later: tuple[tuple[str, date], ...] = (),
        **site: Any,
    ) -> MpanCore:
        """A registered MPAN (supplier from ``since``, then each of ``later``)."""
        core = new_mpan()
        starts = [(supplier, since or self.today - timedelta(days=60)), *later]
        periods = tuple(
            SupplierPeriod(DipId(who), Period(start, starts[i + 1][1] if i + 1 < len(starts) else None))
            for i, (who, start) in enumerate(starts)
        )
        if "segment" in site:
            site["segment"] = MarketSegment(site["segment"])
        if "connection_type" in site:
            site["connection_type"] = ConnectionType(site["connection_type"])
        record = MpanRecord(
            mpan=core, distributor=DipId(LDSO), gsp_group=GspGroup("_H"), suppliers=periods, **site
        )
        self.uow.registration.put_mpan(record)
        self._build()
        return core

    def change_supplier(self, core: str, supplier: str, from_day: date) -> None:
        record = self.uow.registration.get_mpan(core)
        assert record is not None
        last = record.suppliers[-1]
        periods = (
            *record.suppliers[:-1],
            replace(last, period=Period(last.period.start, from_day)),
            SupplierPeriod(DipId(supplier), Period(from_day)),
        )
        self.uow.registration.put_mpan(replace(record, suppliers=periods))
        self._build()

    def contract(
        self,
        ref: str = "C-AURORA-1",
        *,
        sds: str = BEACON,
        supplier: str = AURORA,
        mdrs: tuple[str, ...] = (BEACON, CIRRUS),
        default: str | None = BEACON,
        **terms: Any,
    ) -> None:
        self.uow.dataservice.put_contract(
            Contract(
                sds=DipId(sds),
                supplier=DipId(supplier),
                reference=ref,
                supported_mdrs=frozenset(DipId(m) for m in mdrs),
                default_mdr=DipId.parse_optional(default),
                blank_mdr=BlankMdrPolicy.DEFAULT if default else BlankMdrPolicy.REJECT,
                **terms,
            )
        )
        self._build()

    # -- the DIP -------------------------------------------------------------------------------
    def appoint(self, core: str, **kw: Any) -> None:  # type: ignore[override]
        """DS and MS appointed from today (asserts both are accepted)."""
        sent = self.submit(self.dsapp(core, **kw), self.msapp(core))
        assert [s.code for s in sent if s.event_code.endswith("Accepted]")] == ["SP000", "SP000"], sent

    def code(self, message: Any) -> str | None:  # type: ignore[override]
        """The outcome the sender is told: the IF-032 R's code, else the IF-035's."""
        sent = self.submit(message)
        return first_code(sent)

    def submit(self, *messages: DipMessageStruct) -> list[Sent]:  # type: ignore[override]
        """Submit as a participant would, deliver until nothing is pending, and return what
        the participants sent in answer (in order)."""
        mark = len(self.uow.messages.logged())
        for item in parse_batch(encode(list(messages)), now=self.now, perspective=Perspective.DIP):
            assert isinstance(item, Parsed), item
            self.admissions.append(
                admit(
                    self.uow.messages,
                    item,
                    directory=self.directory,
                    at=self.now,
                    origin="submitted",
                    route=self._route,
                )
            )
        self.drain()
        return self.sent_since(mark)

    def daily(self) -> list[Sent]:
        mark = len(self.uow.messages.logged())
        ctx = self.context()
        out: list[DipMessageStruct] = []
        for group in self.participants.values():
            for participant in group:
                out += participant.daily(ctx, self.uow)
        self.log_produced(out)
        self.drain()
        return self.sent_since(mark)

    def pass_days(self, days: int) -> list[Sent]:
        sent: list[Sent] = []
        for _ in range(days):
            self.today += timedelta(days=1)
            self._build()
            sent += self.daily()
        return sent

    def _route(self, recipient: str) -> str:
        return "pending" if recipient in self.participants else "mailbox"

    def log_produced(self, out: list[DipMessageStruct]) -> None:
        self.uow.messages.log_messages(
            [prepare(m, at=self.now, origin=PRODUCED, route=self._route).new for m in out]
        )

    def drain(self) -> None:
        ctx = self.context()
        while batch := self.uow.messages.pending_deliveries(100):
            finished = []
            for pending in batch:
                parsed = parse(pending.message.body, now=None)
                finished.append(
                    deliver_pending(
                        self.uow,
                        pending,
                        parsed,
                        self.participants,
                        ctx,
                        isolate=True,
                        then=self.log_produced,
                    )
                )
            self.uow.messages.finish_deliveries(finished, at=self.now)

    def sent_since(self, mark: int) -> list[Sent]:
        out = []
        for stored, deliveries in self.uow.messages.logged()[mark:]:
            if stored.origin != PRODUCED:
                continue
            parsed = parse(stored.body, now=None)
            out.append(
                Sent(
                    stored.interface_id,
                    stored.event_code,
                    stored.sender,
                    tuple(d.recipient for d in deliveries),
                    parsed.message,
                )
            )
        return out


def first_code(sent: list[Sent]) -> str | None:
    """The code an exchange ends with for its sender: a refusal's, else the outcome's."""
    for event in ("[DSAppInitialResp]", "[MSAppInitialResp]", "[SDS-MDROutcome]"):
        for item in sent:
            if item.event_code == event and item.code not in ("A", None):
                return item.code
    for item in sent:
        if item.interface_id == "IF-035" and item.code not in ("A", None):
            return item.code
    return None


def as_json(message: DipMessageStruct) -> dict[str, Any]:
    import orjson

    return orjson.loads(encode(message))  # type: ignore[no-any-return]
