"""`openmhhs serve` as real processes on loopback, and a participant's client for it: signed,
API-keyed requests over mutual TLS, as a supplier's own system would send them."""

from __future__ import annotations

import contextlib
import itertools
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import orjson

from openmhhs.api.config import ServeConfig, client_tls
from openmhhs.api.identity import OPERATOR, OPERATOR_CERTIFICATE
from openmhhs.api.signing import signer_for
from openmhhs.dip.build import MessageFactory, Sender
from openmhhs.dip.parse import encode
from openmhhs.dip.schema import M0, DipMessageStruct
from openmhhs.dip.signing import Signer
from openmhhs.dip.vocabulary import Scenario
from openmhhs.failpoints import FAILPOINTS_VAR, arm
from openmhhs.ids import DipId, DipRole, Mpid
from openmhhs.supplier.requests import request_data_service

AURORA, BEACON, CIRRUS, DAWN = "1111111111", "2222222222", "3333333333", "4444444444"
RS, DCC = "9000000001", "9000000002"
TODAY = date(2025, 7, 1)
T = TypeVar("T")

_prefixes = itertools.count()


def free_port_block(size: int) -> int:
    """A base port with ``size`` consecutive free ports after it (inclusive), below the
    kernel's ephemeral range, so that no outgoing connection takes a service's port while
    the service is being restarted."""
    low, _high = (int(p) for p in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    for _ in range(200):
        base = random.randrange(10000, low - size)
        ok = True
        for port in range(base, base + size):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    ok = False
                    break
        if ok:
            return base
    raise RuntimeError("no block of free ports")


class Site:
    def __init__(self, row: dict[str, Any]) -> None:
        self.row = row

    def m0(self) -> M0:
        return M0(
            mpan_core=self.row["mpan"],
            distributor_dip_id=self.row["distributor"],
            gsp_group_id=self.row["gsp_group"],
        )


class Served:
    """One ``openmhhs serve`` run and clients for it."""

    def __init__(self, state: Path, process: subprocess.Popen[bytes], env: dict[str, str]) -> None:
        self.state = state
        self.failpoints = Path(env[FAILPOINTS_VAR])
        self.process = process
        self.env = env
        self.config = ServeConfig.load(state / "serve.json")
        self._clients: dict[str, httpx.Client] = {}
        self._signers: dict[str, Signer] = {}
        self._used: set[str] = set()

    # -- transport -------------------------------------------------------------------------------
    def client(self, name: str = AURORA) -> httpx.Client:
        """A client presenting ``name``'s certificate (the operator presents the hub's)."""
        if name not in self._clients:
            cert = OPERATOR_CERTIFICATE if name == OPERATOR else name
            self._clients[name] = httpx.Client(verify=client_tls(self.config, cert), timeout=30)
        return self._clients[name]

    def signer(self, name: str) -> Signer:
        if name not in self._signers:
            self._signers[name] = signer_for(self.config, name)
        return self._signers[name]

    def api_key(self, dip_id: str) -> str:
        if dip_id == OPERATOR:
            return self.config.operator_key
        return next(k for k, v in self.config.api_keys().items() if v == dip_id)

    def post_signed(
        self,
        path: str,
        body: bytes,
        *,
        as_: str = AURORA,
        api_key: str | None = None,
        signer: Signer | None = None,
        signed_at: datetime | None = None,
        sent_body: bytes | None = None,
    ) -> httpx.Response:
        url = f"{self.config.hub_url}{path}"
        headers = (signer or self.signer(as_)).headers(
            method="POST", url=url, body=body, now=signed_at or datetime.now(UTC)
        )
        headers["X-API-Key"] = api_key if api_key is not None else self.api_key(as_)
        headers["Content-Type"] = "application/json"
        return self.client(as_).post(
            url, content=sent_body if sent_body is not None else body, headers=headers
        )

    def submit(self, messages: Sequence[DipMessageStruct], *, as_: str = AURORA) -> httpx.Response:
        channel = messages[0].INTERFACE_ID
        return self.post_signed(f"/dip-channel/{channel}", batch(messages), as_=as_)

    def get(self, path: str, *, as_: str = OPERATOR, **params: Any) -> Any:
        """A query API answer, as the operator (everything) unless ``as_`` names a participant."""
        response = self.client(as_).get(
            f"{self.config.hub_url}{path}", params=params, headers={"X-API-Key": self.api_key(as_)}
        )
        response.raise_for_status()
        return response.json()

    def inbox(self, dip_id: str, after: int = 0) -> list[dict[str, Any]]:
        url = f"{self.config.node_url(dip_id)}/inbox"
        response = self.client(OPERATOR).get(
            url, params={"after": after}, headers={"X-API-Key": self.config.operator_key}
        )
        response.raise_for_status()
        result: list[dict[str, Any]] = response.json()
        return result

    def health(self, name: str) -> dict[str, Any]:
        url = self.config.hub_url if name == "hub" else self.config.node_url(name)
        result: dict[str, Any] = self.client().get(f"{url}/health", timeout=2).json()
        return result

    # -- the market ------------------------------------------------------------------------------
    def fresh_mpans(self, count: int, *, supplier: str = AURORA) -> list[Site]:
        """MPANs this run has not used yet."""
        rows = self.get("/api/mpans", on=TODAY.isoformat(), supplier=supplier, limit=1000)
        fresh = [Site(r) for r in rows if r["mpan"] not in self._used][:count]
        assert len(fresh) == count, "the served market has too few MPANs for the tests"
        self._used.update(s.row["mpan"] for s in fresh)
        return fresh

    def factory(self, dip_id: str = AURORA, role: str = "SUP") -> MessageFactory:
        return MessageFactory(
            Sender(DipId(dip_id), DipRole(role)), unique_prefix=f"e{next(_prefixes)}{os.getpid()}"
        )

    def dsapp(self, site: Site, factory: MessageFactory | None = None) -> DipMessageStruct:
        return request_data_service(
            factory or self.factory(),
            site=site,
            rs=DipId(RS),
            sds=DipId(BEACON),
            sds_mpid=Mpid("SDSB"),
            effective_from=TODAY,
            scenario=Scenario.CSP,
            contract_reference="C-AURORA-BEACON",
            now=datetime(2025, 7, 1, 11, tzinfo=UTC),
        )

    def events(self, dip_id: str, mpan: str) -> list[str]:
        return [f"{m['interfaceID']} {m['eventCode']}" for m in self.inbox(dip_id) if m["mpan"] == mpan]

    # -- processes -------------------------------------------------------------------------------
    def pid(self, name: str) -> int:
        return int(self.health(name)["pid"])

    def kill(self, name: str, sig: int = signal.SIGKILL) -> int:
        pid = self.pid(name)
        os.kill(pid, sig)
        return pid

    def arm(self, failpoint: str) -> None:
        """The next time any service reaches ``failpoint`` it is SIGKILLed there."""
        arm(self.failpoints, failpoint)

    def wait_restarted(self, name: str, old_pid: int, timeout: float = 60) -> None:
        def restarted() -> bool:
            with contextlib.suppress(httpx.HTTPError, ValueError, KeyError):
                return self.pid(name) != old_pid
            return False

        wait_for(restarted, timeout=timeout, what=f"{name} to be restarted")

    def close(self) -> None:
        for client in self._clients.values():
            client.close()


def batch(messages: Sequence[DipMessageStruct]) -> bytes:
    return orjson.dumps([{"payload": orjson.Fragment(encode(m))} for m in messages])


WAIT_FLOOR = 420.0
"""No wait gives up sooner: a busy 2-core machine is slow, not wrong (pytest-timeout's 420 s
ceiling per test is the only hard limit)."""


def wait_for(check: Callable[[], T], *, timeout: float = 60, what: str = "a condition") -> T:
    timeout = max(timeout, WAIT_FLOOR)
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)


@contextlib.contextmanager
def serving(
    tmp: Path, *, database: str, description: str = "1a-fully-separated", mpans: int = 120
) -> Iterator[Served]:
    """``openmhhs serve`` as a child process, until the block ends (then stopped with SIGTERM)."""
    state = tmp / "serve"
    env = {
        **os.environ,
        "OPENMHHS_DB": database,
        "OPENMHHS_TODAY": TODAY.isoformat(),
        "COLUMNS": "160",
        FAILPOINTS_VAR: str(tmp / "failpoints"),
    }
    port = free_port_block(8)
    command = [
        sys.executable,
        "-m",
        "openmhhs",
        "serve",
        description,
        "--state",
        str(state),
        "--port",
        str(port),
        "--mpans",
        str(mpans),
        "--delivery-timeout",
        "2",
    ]
    log = (tmp / "serve.log").open("wb")
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    served: Served | None = None
    try:
        wait_for(
            lambda: (state / "ready.json").exists() or process.poll() is not None,
            timeout=420,
            what="openmhhs serve to be ready",
        )
        assert process.poll() is None, (tmp / "serve.log").read_text()
        served = Served(state, process, env)
        yield served
    finally:
        if served is not None:
            served.close()
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
