"""Putting a described market into a database: its ISD table, organisations, contracts, the
1B data-sharing arrangement, and a population of MPANs with their profiles."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from openmhhs.market.description import MarketDescription
from openmhhs.market.population import Member
from openmhhs.store.bulk import bulk_insert
from openmhhs.store.identity_repo import ImportMode, import_isd, save_organisations
from openmhhs.store.market_repo import MarketStore
from openmhhs.store.tables import market_description, mpan_profile, supplier_data_sharing

__all__ = ["load_market", "register_population"]


def load_market(connection: Connection, market: MarketDescription, *, source: str, at: datetime) -> None:
    """Replace the ISD table with the description's, and add its organisations and contracts."""
    import_isd(connection, market.isd(), mode=ImportMode.REPLACE)
    save_organisations(connection, market.organisations())
    store = MarketStore(connection)
    existing = {(c.sds, c.supplier, c.reference) for c in store.contracts()}
    for contract in market.contracts:
        if (contract.sds, contract.supplier, contract.reference) not in existing:
            store.add_contract(contract)
    for plan in market.suppliers:
        connection.execute(
            sa.delete(supplier_data_sharing).where(supplier_data_sharing.c.supplier == str(plan.supplier))
        )
        connection.execute(
            sa.insert(supplier_data_sharing),
            {
                "supplier": str(plan.supplier),
                "shares_consumption_data": plan.shares_consumption_data,
                "since": market.start,
            },
        )
    connection.execute(
        sa.insert(market_description),
        {"name": market.name, "model": market.model, "source": source, "loaded_at": at},
    )


def register_population(connection: Connection, members: Sequence[Member]) -> None:
    MarketStore(connection).add_mpans([m.record for m in members])
    bulk_insert(
        connection,
        mpan_profile,
        [
            {
                "mpan": str(m.record.mpan),
                "supplier": str(m.plan.supplier),
                "customer_group": m.group,
                "model": m.model,
            }
            for m in members
        ],
    )
