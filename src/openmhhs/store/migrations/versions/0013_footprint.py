"""Fewer bytes per appointment (docs/scaling.md "footprint"): the IF-031 block (B071, B070) each
appointment request keeps is stored compressed with the message log's dictionary; deliveries
are indexed by recipient only while they wait (pending, mailbox); the SDS's MPAN facts are kept
in their own key's order (SQLite: WITHOUT ROWID); the DCC's MDR notices keep one index by MPAN.
Every stored block reads back byte for byte, and the downgrade restores the wide forms.

Revision ID: 0013
Revises: 0012
"""

from collections.abc import Callable

import sqlalchemy as sa
from alembic import op

from openmhhs.store.compact import DELIVERY_STATES
from openmhhs.store.message_codec import compress, decompress

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

BATCH = 2000

_REQUEST = sa.table(
    "appointment_request", sa.column("id", sa.BigInteger), sa.column("raw_block", sa.LargeBinary)
)
_WAITING = " OR ".join(f"state = {DELIVERY_STATES.index(s) + 1}" for s in ("pending", "mailbox"))
"""The states a delivery waits in (its recipient's queue and mailbox); done, failed and refused
deliveries are found through their message."""


def _recode_blocks(recode: Callable[[bytes], bytes]) -> None:
    connection = op.get_bind()
    after = 0
    while True:
        rows = connection.execute(
            sa.select(_REQUEST.c.id, _REQUEST.c.raw_block)
            .where(_REQUEST.c.id > after)
            .order_by(_REQUEST.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        connection.execute(
            sa.update(_REQUEST).where(_REQUEST.c.id == sa.bindparam("key")),
            [{"key": r.id, "raw_block": recode(bytes(r.raw_block))} for r in rows],
        )
        after = rows[-1].id


def _facts_table(*, with_rowid: bool) -> None:
    """SQLite only: ``sds_mpan_fact`` rebuilt with or without its rowid (PostgreSQL has none)."""
    options = "" if with_rowid else " WITHOUT ROWID"
    op.execute("ALTER TABLE sds_mpan_fact RENAME TO sds_mpan_fact_before")
    op.execute(
        "CREATE TABLE sds_mpan_fact ("
        "sds VARCHAR(10) NOT NULL, mpan VARCHAR(13) NOT NULL, "
        "energy_direction VARCHAR(1) NOT NULL, energisation VARCHAR(1) NOT NULL, "
        f"PRIMARY KEY (sds, mpan)){options}"
    )
    op.execute(
        "INSERT INTO sds_mpan_fact (sds, mpan, energy_direction, energisation) "
        "SELECT sds, mpan, energy_direction, energisation FROM sds_mpan_fact_before"
    )
    op.execute("DROP TABLE sds_mpan_fact_before")


def upgrade() -> None:
    _recode_blocks(compress)
    op.drop_index("delivery_by_recipient", table_name="delivery")
    op.create_index(
        "delivery_by_recipient",
        "delivery",
        ["recipient", "state", "id"],
        postgresql_where=sa.text(_WAITING),
        sqlite_where=sa.text(_WAITING),
    )
    op.drop_index("dcc_mdr_notice_by_mpan", table_name="dcc_mdr_notice")
    if op.get_bind().dialect.name == "sqlite":
        _facts_table(with_rowid=False)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _facts_table(with_rowid=True)
    op.create_index("dcc_mdr_notice_by_mpan", "dcc_mdr_notice", ["mpan", "valid_from"])
    op.drop_index("delivery_by_recipient", table_name="delivery")
    op.create_index("delivery_by_recipient", "delivery", ["recipient", "state", "id"])
    _recode_blocks(decompress)
