"""Benchmark: signed IF-031 messages accepted per second by the DIP hub over loopback, with
mutual TLS and DIP signatures, beside the same batches accepted in-process (``Hub.accept``,
no HTTP, no TLS, no signature) measured in the same run, so the ratio holds on a noisy box.

The hub runs as its own process (``openmhhs serve --role hub``) on a fresh SQLite file (or
``--database``); clients are suppliers posting batches from ``--clients`` threads, each batch
signed and sent with the supplier's API key. No webhooks are registered, so publications
wait in mailboxes: the figure is ingress (check, store, answer), not delivery.

    python benchmarks/hub_ingress.py [--messages 6000] [--batch 50] [--clients 4]
                                     [--out bench-results/hub_ingress.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from tests.serve_harness import AURORA, TODAY, Served, Site, batch, free_port_block, wait_for

from openmhhs.api.config import client_tls
from openmhhs.api.serve import MarketSource, prepare
from openmhhs.api.signing import signer_for
from openmhhs.cli.model import read_description
from openmhhs.market.hub import Hub
from openmhhs.store.database import Database
from openmhhs.store.market_repo import MarketStore


def _sites(db_url: str, count: int) -> list[Site]:
    db = Database(db_url)
    with db.read() as connection:
        records = list(MarketStore(connection).iter_mpans())[:count]
    db.dispose()
    return [
        Site({"mpan": str(r.mpan), "distributor": str(r.distributor), "gsp_group": str(r.gsp_group)})
        for r in records
    ]


def _bodies(served: Served, sites: list[Site], size: int) -> list[bytes]:
    factory = served.factory()
    messages = [served.dsapp(site, factory) for site in sites]
    return [batch(messages[i : i + size]) for i in range(0, len(messages), size)]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=6000)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--database", default=None, help="default: a new SQLite file")
    parser.add_argument("--out", type=Path, default=Path("bench-results/hub_ingress.json"))
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="openmhhs-bench-"))
    url = args.database or f"sqlite:///{tmp / 'openmhhs.db'}"
    description, text = read_description("1a-fully-separated")
    now = datetime(2025, 7, 1, 9, tzinfo=UTC)
    port = free_port_block(8)
    # enough MPANs for the HTTP run and the in-process run
    config = prepare(
        tmp / "serve",
        database=url,
        market=MarketSource(description, text, mpans=2 * args.messages, seed=3),
        explicit_market=False,
        host="127.0.0.1",
        port=port,
        plain=False,
        today=TODAY,
        now=now,
    )
    env = {**os.environ, "OPENMHHS_DB": url, "OPENMHHS_TODAY": TODAY.isoformat(), "OPENMHHS_FAILPOINTS": ""}
    hub = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "openmhhs",
            "serve",
            "--role",
            "hub",
            "--config",
            str(tmp / "serve" / "serve.json"),
        ],
        env=env,
    )
    try:
        served = Served(tmp / "serve", hub, {**env, "OPENMHHS_FAILPOINTS": str(tmp / "fp")})

        def up() -> bool:
            try:
                return served.health("hub")["status"] == "ok"
            except httpx.HTTPError:
                return False

        wait_for(up, timeout=60, what="the hub")
        sites = _sites(url, 2 * args.messages)
        http_bodies = _bodies(served, sites[: args.messages], args.batch)
        local_bodies = _bodies(served, sites[args.messages :], args.batch)

        # over HTTP: clients in threads, each with its own TLS connection
        queue = list(http_bodies)
        lock = threading.Lock()
        accepted = [0]
        signer = signer_for(config, AURORA)
        key = served.api_key(AURORA)
        target = f"{config.hub_url}/dip-channel/IF-031"

        def client() -> None:
            with httpx.Client(verify=client_tls(config, AURORA), timeout=120) as http:
                while True:
                    with lock:
                        if not queue:
                            return
                        body = queue.pop()
                    headers = signer.headers(method="POST", url=target, body=body, now=datetime.now(UTC))
                    headers["X-API-Key"] = key
                    response = http.post(target, content=body, headers=headers)
                    ok = sum(
                        1 for item in response.json()["messageArray"] if item["message"].startswith("MSG0000")
                    )
                    with lock:
                        accepted[0] += ok

        threads = [threading.Thread(target=client) for _ in range(args.clients)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        http_seconds = time.perf_counter() - started
        assert accepted[0] == args.messages, f"only {accepted[0]} of {args.messages} accepted"
    finally:
        hub.terminate()
        try:
            hub.wait(timeout=30)
        except subprocess.TimeoutExpired:
            hub.kill()

    # in-process: the same work without HTTP, TLS or signatures (the floor)
    db = Database(url)
    inproc = Hub(db)
    at = datetime(2025, 7, 1, 11, tzinfo=UTC)
    started = time.perf_counter()
    local_ok = 0
    for body in local_bodies:
        local_ok += sum(a.ok for a in inproc.accept(body, channel="IF-031", signer=AURORA, at=at))
    local_seconds = time.perf_counter() - started
    db.dispose()
    assert local_ok == args.messages

    result: dict[str, Any] = {
        "benchmark": "hub_ingress",
        "database": "sqlite" if url.startswith("sqlite") else "postgresql",
        "messages": args.messages,
        "batch": args.batch,
        "clients": args.clients,
        "http_mtls_signed": {
            "seconds": round(http_seconds, 3),
            "messages_per_second": round(args.messages / http_seconds),
        },
        "in_process_accept": {
            "seconds": round(local_seconds, 3),
            "messages_per_second": round(args.messages / local_seconds),
        },
        "http_over_in_process_time": round(http_seconds / local_seconds, 2),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
