"""Fuzz: adversarial DIP messages through `validate`, `submit` and the hub, in process.

Each message starts as a valid IF-031 [DSApp]/[MSApp] or IF-034 [SDS-MDRUpdate] for a
registered MPAN and is then mutated, or not, by one of the attacks below (extreme and
impossible date-times, DIP IDs no participant can hold, reused correlation IDs and unique
references, MPANs with bad check digits, hostile text, missing/unknown/mistyped fields,
deep nesting, broken JSON, wrong headers, future timestamps). Batches go three ways:

- **validate**: ``parse_batch`` as ``openmhhs validate`` does;
- **submit**: ``Market.submit`` then ``Market.run`` as ``openmhhs submit`` does;
- **hub**: ``Hub.accept`` on the message's channel, then every publication to the RS is
  handed to the RS's ``Node`` and its answer recorded (``Hub.settle``).

It prints (and writes as JSON) messages tried, answered with a code, crashed (an exception
escaped instead of a code) and state changed by a refusal (a message refused at the DIP that
was logged anyway, or one refused by its recipient that left an appointment request).

    python benchmarks/fuzz_dip.py [--messages 100000] [--seed 1] [--batch 50]
                                  [--database postgresql://…] [--out bench-results/fuzz.json]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import random
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson
import sqlalchemy as sa
from tests.conftest import CliHarness
from tests.market_harness import RS, TODAY, Market

from openmhhs.api.hub_app import DIP_PARTICIPANT_ID, response_item
from openmhhs.codes import ResponseCode
from openmhhs.dip.parse import MessageRejected, Parsed, encode, parse_batch
from openmhhs.market.bus import Market as Bus
from openmhhs.market.hub import Hub
from openmhhs.market.node import Node
from openmhhs.store.database import Database
from openmhhs.store.market_repo import MarketStore
from openmhhs.store.tables import appointment_request, delivery

CHANNELS = ("IF-031", "IF-034")

EXTREME_DATETIMES = (
    "9999-12-31T23:59:59-23:59",
    "9999-12-31T23:59:59+00:00",
    "0001-01-01T00:00:00+23:59",
    "0001-01-01T00:00:00+00:00",
    "1899-12-31T23:59:59+00:00",
    "2999-12-31T23:59:59-01:00",
    "3000-01-01T00:00:00+00:00",
    "2025-02-29T00:00:00+00:00",
    "2024-02-29T00:00:00+00:00",
    "2025-03-30T01:30:00+01:00",
    "2025-10-26T01:30:00+00:00",
    "2025-13-01T00:00:00+00:00",
    "2025-07-01T24:00:00+00:00",
    "2025-07-01T00:00:00+24:00",
    "2025-07-01T00:00:00Z00:00",
    "２０２５-07-01T00:00:00+00:00",
)
BAD_DIP_IDS = (
    "éééééééééé",
    "１２３４５６７８９０",
    "          ",
    "ZZZZZZZZZZ",
    "0123456789",
    "abcdefabcd",
    "1111111111",
    "9000000001",
    "\x00" * 10,
    "11111111\u200b1",
)
HOSTILE_TEXT = (
    "",
    " ",
    "\x00",
    "'; DROP TABLE message; --",
    "../../etc/passwd",
    "\u202e" * 40,
    "😀" * 30,
    "A" * 100_000,
    "\ud7ff" * 10,
    "{}" * 30,
)


@dataclass
class Figures:
    tried: int = 0
    coded: int = 0
    crashed: int = 0
    changed_by_refusal: int = 0
    codes: Counter[str] = field(default_factory=Counter)
    mutations: Counter[str] = field(default_factory=Counter)
    crashes: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    """Handlers that raised: answered RCP1000 and parked (not crashes), with the reason."""

    def crash(self, where: str, exc: BaseException, count: int) -> None:
        self.crashed += count
        if len(self.crashes) < 20:
            frames = traceback.extract_tb(exc.__traceback__)[-2:]
            at = " <- ".join(f"{Path(f.filename).name}:{f.lineno}" for f in reversed(frames))
            self.crashes.append(f"{where}: {type(exc).__name__}: {str(exc)[:300]} (at {at})")

    def as_json(self) -> dict[str, Any]:
        return {
            "tried": self.tried,
            "answered_with_a_code": self.coded,
            "crashed": self.crashed,
            "state_changed_by_a_refusal": self.changed_by_refusal,
            "codes": dict(self.codes.most_common()),
            "mutations": dict(self.mutations.most_common()),
            "crashes": self.crashes,
            "handler_failures_parked": self.failures,
        }


# --- attacks ---------------------------------------------------------------------------------


def _leaves(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _leaves(value, (*path, index))
    else:
        yield path, node


def _set(message: dict[str, Any], path: tuple[Any, ...], value: Any) -> None:
    target: Any = message
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value


def _delete(message: dict[str, Any], path: tuple[Any, ...]) -> None:
    target: Any = message
    for key in path[:-1]:
        target = target[key]
    if isinstance(target, dict):
        target.pop(path[-1], None)


def _pick(rng: random.Random, message: dict[str, Any], test: Callable[[tuple[Any, ...], Any], bool]) -> Any:
    found = [p for p, v in _leaves(message) if test(p, v)]
    return rng.choice(found) if found else None


def _is_datetime(path: tuple[Any, ...], value: Any) -> bool:
    return isinstance(value, str) and len(value) == 25 and value[10:11] == "T"


def _is_dip_id(path: tuple[Any, ...], value: Any) -> bool:
    name = next((p for p in reversed(path) if isinstance(p, str)), "")
    return name.upper().endswith("DIPID") or name in ("primaryRecipients", "secondaryRecipients")


class Attacker:
    """Mutates messages; keeps what earlier messages used, to reuse it."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.correlations: list[str] = []
        self.references: list[str] = []

    def attack(self, message: dict[str, Any]) -> tuple[str, bytes]:
        s1 = message["CommonBlock"]["S1"]
        self.correlations.append(s1.get("senderCorrelationID") or "")
        self.references.append(s1["senderUniqueReference"])
        name, attack = self.rng.choice(self.ATTACKS)
        return name, attack(self, message)

    def none(self, m: dict[str, Any]) -> bytes:
        return orjson.dumps(m)

    def extreme_datetime(self, m: dict[str, Any]) -> bytes:
        path = _pick(self.rng, m, _is_datetime)
        if path is not None:
            _set(m, path, self.rng.choice(EXTREME_DATETIMES))
        return orjson.dumps(m)

    def bad_dip_id(self, m: dict[str, Any]) -> bytes:
        path = _pick(self.rng, m, _is_dip_id)
        if path is not None:
            _set(m, path, self.rng.choice(BAD_DIP_IDS))
        return orjson.dumps(m)

    def reused_correlation(self, m: dict[str, Any]) -> bytes:
        earlier = [c for c in self.correlations[:-1] if c]
        if earlier:
            m["CommonBlock"]["S1"]["senderCorrelationID"] = self.rng.choice(earlier)
        return orjson.dumps(m)

    def reused_reference(self, m: dict[str, Any]) -> bytes:
        if len(self.references) > 1:
            m["CommonBlock"]["S1"]["senderUniqueReference"] = self.rng.choice(self.references[:-1])
        return orjson.dumps(m)

    def bad_mpan(self, m: dict[str, Any]) -> bytes:
        m["CommonBlock"]["M0"]["MPANCore"] = "".join(self.rng.choice("0123456789") for _ in range(13))
        return orjson.dumps(m)

    def hostile_text(self, m: dict[str, Any]) -> bytes:
        path = _pick(self.rng, m, lambda p, v: isinstance(v, str))
        if path is not None:
            _set(m, path, self.rng.choice(HOSTILE_TEXT))
        return orjson.dumps(m)

    def missing_field(self, m: dict[str, Any]) -> bytes:
        path = _pick(self.rng, m, lambda p, v: True)
        if path is not None:
            _delete(m, path)
        return orjson.dumps(m)

    def unknown_field(self, m: dict[str, Any]) -> bytes:
        block = self.rng.choice([m, m["CommonBlock"], m["CommonBlock"]["S1"], m.get("CustomBlock", m)])
        block[self.rng.choice(["extra", "senderdipid", "CommonBlock ", "__proto__"])] = 1
        return orjson.dumps(m)

    def wrong_type(self, m: dict[str, Any]) -> bytes:
        path = _pick(self.rng, m, lambda p, v: True)
        if path is not None:
            _set(m, path, self.rng.choice([0, -1, 2**70, 1.5e308, True, None, [], {}, [[[]]], "0"]))
        return json.dumps(m).encode()  # orjson refuses integers past 64 bits

    def deep_nesting(self, m: dict[str, Any]) -> bytes:
        depth = self.rng.choice([65, 200, 1_000, 20_000])
        body = orjson.dumps(m)
        return body[:-1] + b',"deep":' + b"[" * depth + b"]" * depth + b"}"

    def broken_json(self, m: dict[str, Any]) -> bytes:
        body = orjson.dumps(m)
        cut = self.rng.randrange(len(body))
        return self.rng.choice([body[:cut], body[:cut] + b"\xff\xfe", b"", b"null", b"[]", b'"x"', body * 2])

    def wrong_header(self, m: dict[str, Any]) -> bytes:
        s0 = m["CommonBlock"]["S0"]
        key = self.rng.choice(["interfaceID", "eventCode", "schemaVersion"])
        s0[key] = self.rng.choice(["IF-999", "if-031", "[DSApp] ", "010", "", None, 31])
        return orjson.dumps(m)

    def odd_timestamp(self, m: dict[str, Any]) -> bytes:
        m["CommonBlock"]["S1"]["senderTimestamp"] = self.rng.choice(
            ["2099-01-01T00:00:00+00:00", "1970-01-01T00:00:00+00:00", *EXTREME_DATETIMES[:4]]
        )
        return orjson.dumps(m)

    ATTACKS: tuple[tuple[str, Callable[[Attacker, dict[str, Any]], bytes]], ...] = (
        ("none", none),
        ("extreme_datetime", extreme_datetime),
        ("extreme_datetime", extreme_datetime),
        ("bad_dip_id", bad_dip_id),
        ("bad_dip_id", bad_dip_id),
        ("reused_correlation", reused_correlation),
        ("reused_reference", reused_reference),
        ("bad_mpan", bad_mpan),
        ("hostile_text", hostile_text),
        ("missing_field", missing_field),
        ("unknown_field", unknown_field),
        ("wrong_type", wrong_type),
        ("deep_nesting", deep_nesting),
        ("broken_json", broken_json),
        ("wrong_header", wrong_header),
        ("odd_timestamp", odd_timestamp),
    )


# --- the market under attack --------------------------------------------------------------------


class Target:
    def __init__(self, url: str, folder: Path, mpans: int) -> None:
        os.environ["OPENMHHS_DB"] = url
        os.environ["OPENMHHS_TODAY"] = TODAY.isoformat()
        self.market = Market(CliHarness(), folder)
        self.market.contract()
        self.cores = [self.market.mpan() for _ in range(mpans)]
        self.db = Database(url)
        self.hub = Hub(self.db)
        self.hub.register_webhook(recipient=RS, channel="IF-031", url="https://rs.invalid/")
        self.hub.register_webhook(recipient=RS, channel="IF-034", url="https://rs.invalid/")
        self.node = Node(self.db, dip_id=RS)  # type: ignore[arg-type]

    def seed(self, rng: random.Random) -> dict[str, Any]:
        core = rng.choice(self.cores)
        kind = rng.randrange(3)
        built: Any = (
            self.market.dsapp(core)
            if kind == 0
            else self.market.msapp(core)
            if kind == 1
            else self.market.mdr_update(core)
        )
        return orjson.loads(encode(built))  # type: ignore[no-any-return]

    def requests(self) -> set[str]:
        with self.db.read() as connection:
            return set(connection.execute(sa.select(appointment_request.c.correlation_id)).scalars())

    def logged(self, references: list[str]) -> set[str]:
        with self.db.read() as connection:
            return set(MarketStore(connection).known_references(references))


def _correlation(raw: bytes) -> str | None:
    try:
        value = orjson.loads(raw)["CommonBlock"]["S1"]["senderCorrelationID"]
    except Exception:
        return None
    return value if isinstance(value, str) else None


def _reference(raw: bytes) -> str | None:
    try:
        value = orjson.loads(raw)["CommonBlock"]["S1"]["senderUniqueReference"]
    except Exception:
        return None
    return value if isinstance(value, str) else None


def run_validate(bodies: list[bytes], figures: Figures) -> None:
    """``openmhhs validate`` on each message; every one must get a code."""
    for body in bodies:
        try:
            results = parse_batch(b"[" + body + b"]", now=None)
            codes = ["MSG0000" if isinstance(r, Parsed) else r.code.value for r in results]
        except MessageRejected as exc:  # the batch as a whole refused, with a code
            codes = [exc.code.value]
        except Exception as exc:
            figures.crash("validate", exc, 1)
            continue
        figures.coded += 1
        for code in codes:
            figures.codes[f"validate:{code}"] += 1


def run_submit(target: Target, bodies: list[bytes], figures: Figures) -> None:
    """``openmhhs submit`` of each message, then the market run; every message is answered
    with a code, and a refused one changes nothing."""
    references = [r for r in map(_reference, bodies) if r]
    logged_before = target.logged(references)
    requests_before = target.requests()
    bus = Bus(target.db, today=TODAY)
    answers: list[tuple[bytes, Any]] = []
    for body in bodies:
        try:
            results = bus.submit(body)
        except MessageRejected as exc:
            figures.codes[f"submit:{exc.code.value}"] += 1
            figures.coded += 1
            continue
        except Exception as exc:
            figures.crash("submit", exc, 1)
            continue
        figures.coded += 1
        answers += [(body, r) for r in results]
    try:
        bus.run()
    except Exception as exc:
        figures.crash("submit.run", exc, 0)
        return
    with target.db.read() as connection:
        outcomes = {
            row.message_id: (row.state, row.outcome_code, row.outcome_detail)
            for row in connection.execute(
                sa.select(
                    delivery.c.message_id,
                    delivery.c.state,
                    delivery.c.outcome_code,
                    delivery.c.outcome_detail,
                ).where(delivery.c.message_id.in_([r.message_id for _, r in answers if r.message_id]))
            )
        }
    requests_after = target.requests()
    logged_after = target.logged(references)
    correlations = Counter(_correlation(body) for body in bodies)
    uses = Counter(references)
    for body, result in answers:
        state, code, detail = outcomes.get(result.message_id or -1, ("", None, None))
        figures.codes[f"submit:{code or result.code.value}"] += 1
        if state == "failed" and len(figures.failures) < 20:
            figures.failures.append(f"submit: {code} {detail}"[:400])
        correlation, reference = _correlation(body), result.sender_unique_reference
        # only a message whose correlation ID and reference no other message of the batch
        # used can be blamed for what appeared under them
        if state in ("refused", "failed") and correlations[correlation] == 1:
            figures.changed_by_refusal += correlation in requests_after - requests_before
        if not result.accepted and reference and uses[reference] == 1:
            figures.changed_by_refusal += reference in logged_after - logged_before


def run_hub(target: Target, bodies: list[bytes], figures: Figures, rng: random.Random) -> None:
    """The hub's ingress for each message on a channel, then publication to the RS's node."""
    now = Bus(target.db, today=TODAY).now
    for body in bodies:
        channel = rng.choice(CHANNELS)
        try:
            answers = target.hub.accept(b"[" + body + b"]", channel=channel, signer=None, at=now)
            codes = [a.code.value for a in answers]
        except MessageRejected as exc:
            codes = [exc.code.value]
        except Exception as exc:
            figures.crash("hub.accept", exc, 1)
            continue
        figures.coded += 1
        for code in codes:
            figures.codes[f"hub:{code}"] += 1
    for _ in range(1000):
        batches = target.hub.due(now=now)
        if not batches:
            break
        for batch in batches:
            try:
                results = target.node.receive(
                    target.hub.egress(batch, now=now), today=TODAY, now=now, signed_by=DIP_PARTICIPANT_ID
                )
            except Exception as exc:
                figures.crash("hub.node", exc, 0)
                target.hub.refused(
                    [i.delivery_id for i in batch.items], now=now, code="CRASHED", detail=str(exc)
                )
                continue
            answer = {
                "messageArray": [
                    response_item(
                        code=r.code,
                        detail=r.detail,
                        sender=RS,
                        recipient=DIP_PARTICIPANT_ID,
                        sent=now,
                        transaction_id=r.transaction_id,
                        reference=r.sender_unique_reference,
                    )
                    for r in results
                ]
            }
            for r in results:
                figures.codes[f"hub.rs:{r.code.value}"] += 1
                if r.code is ResponseCode.RCP1000 and len(figures.failures) < 20:
                    figures.failures.append(f"hub: {r.detail}"[:400])
            target.hub.settle(batch, orjson.dumps(answer), now=now)


def fuzz(*, messages: int, seed: int, batch: int, url: str | None, folder: Path, mpans: int = 40) -> Figures:
    rng = random.Random(seed)
    url = url or f"sqlite:///{folder / 'fuzz.db'}"
    target = Target(url, folder, mpans)
    attacker = Attacker(rng)
    figures = Figures()
    lanes = ("validate", "submit", "hub")
    done = 0
    while done < messages:
        size = min(batch, messages - done)
        bodies = []
        for _ in range(size):
            name, body = attacker.attack(copy.deepcopy(target.seed(rng)))
            figures.mutations[name] += 1
            bodies.append(body)
        lane = lanes[(done // batch) % len(lanes)]
        figures.tried += size
        if lane == "validate":
            run_validate(bodies, figures)
        elif lane == "submit":
            run_submit(target, bodies, figures)
        else:
            run_hub(target, bodies, figures, rng)
        done += size
    target.db.dispose()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--database", default=None, help="a database URL (default: a fresh SQLite file)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        figures = fuzz(
            messages=args.messages, seed=args.seed, batch=args.batch, url=args.database, folder=Path(folder)
        )
    seconds = time.perf_counter() - started
    result = {**figures.as_json(), "seed": args.seed, "seconds": round(seconds, 1)}
    print(
        f"fuzz (seed {args.seed}): {figures.tried:,} messages tried, {figures.coded:,} answered with a code, "
        f"{figures.crashed} crashed, {figures.changed_by_refusal} state changes by a refusal "
        f"({seconds:.0f} s)"
    )
    for line in figures.crashes:
        print("  crash:", line)
    for line in figures.failures:
        print("  parked (RCP1000):", line)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
