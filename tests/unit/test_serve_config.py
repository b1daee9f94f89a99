"""``openmhhs serve`` set-up: what it refuses, and what it keeps between runs."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from openmhhs.api.config import ServeConfig, is_loopback
from openmhhs.api.serve import MarketSource, ServeInvalid, prepare, run_service
from openmhhs.cli.model import read_description
from openmhhs.codes import ResponseCode

NOW = datetime(2025, 7, 1, 9, tzinfo=UTC)


def _prepare(tmp: Path, **overrides: object) -> ServeConfig:
    description, text = read_description("1a-fully-separated")
    options: dict[str, object] = {
        "database": f"sqlite:///{tmp / 'openmhhs.db'}",
        "market": MarketSource(description, text, mpans=5, seed=1),
        "explicit_market": False,
        "host": "127.0.0.1",
        "port": 19000,
        "plain": False,
        "today": date(2025, 7, 1),
        "now": NOW,
    }
    options.update(overrides)
    return prepare(tmp / "state", **options)  # type: ignore[arg-type]


def test_plain_http_only_on_loopback(tmp_path: Path) -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("example.org")
    with pytest.raises(ServeInvalid) as refused:
        _prepare(tmp_path, plain=True, host="0.0.0.0")
    assert refused.value.code is ResponseCode.OMH0403 and "loopback" in str(refused.value)


def test_prepare_loads_the_market_once_and_keeps_keys_and_certificates(tmp_path: Path) -> None:
    first = _prepare(tmp_path)
    # the participants openmhhs runs: RS, DCC, the SMS, both suppliers, the SDS and the MDR
    # (not the distributors nor the Market-wide Data Service, which receive into mailboxes)
    assert [n.dip_id for n in first.nodes] == [
        "1111111111",
        "2222222222",
        "3333333333",
        "4444444444",
        "5555555555",
        "9000000001",
        "9000000002",
    ]
    assert len(set(first.api_keys())) == len(first.api_keys()) > len(first.nodes)
    hub_cert = Path(first.cert("hub")[0]).read_bytes()
    again = _prepare(tmp_path)
    assert again.api_keys() == first.api_keys()
    assert Path(again.cert("hub")[0]).read_bytes() == hub_cert
    with pytest.raises(ServeInvalid, match="already holds a market"):
        _prepare(tmp_path, explicit_market=True)


def test_a_participant_role_needs_a_known_dip_id(tmp_path: Path) -> None:
    config = _prepare(tmp_path)
    with pytest.raises(ServeInvalid, match="needs --dip-id"):
        run_service(config, role="sds", dip_id=None)
    with pytest.raises(ServeInvalid, match="is not a participant"):
        run_service(config, role="sds", dip_id="9999999998")
    # Cirrus is an MDR only: it cannot be started as a Smart Data Service.
    with pytest.raises(ServeInvalid, match="does not hold the SDS DIP role"):
        run_service(config, role="sds", dip_id="3333333333")
