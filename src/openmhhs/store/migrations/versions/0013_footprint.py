"""Fewer bytes per appointment (docs/scaling.md "Footprint"), every value reading back as it was:

- the IF-031 block (B071, B070) each appointment request keeps: compressed with the message
  log's dictionary (store/message_codec.py);
- correlation ids of the RS's requests, the SDS's portfolio and the MDR's instructions, and the
  DCC's notices' transaction ids: packed (store/compact.py);
- on SQLite, the appointments' and the DCC's record instants: microseconds, not 26-character
  texts (PostgreSQL's timestamptz is already 8 bytes); the message log's reference and
  correlation keys 48 bits (6 bytes in a record; compact.short_text_key), computed again from
  each body; messages' senders and deliveries' recipients packed (5 bytes, not 10); the SDS's
  MPAN facts WITHOUT ROWID;
- indexes: deliveries by recipient only while they wait (pending, mailbox); one index of the
  DCC's MDR notices by MPAN, not two; none of appointments by provider (no query asks by it).

The downgrade restores the wide forms and the indexes, data unchanged.

Revision ID: 0013
Revises: 0012
"""

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic import op

from openmhhs.store.compact import (
    DELIVERY_STATES,
    from_micros,
    pack_correlation_id,
    pack_dip_id,
    pack_transaction_id,
    short_text_key,
    text_key,
    to_micros,
    unpack_correlation_id,
    unpack_dip_id,
    unpack_transaction_id,
)
from openmhhs.store.message_codec import CompressedBody, compress, decompress, envelope
from openmhhs.store.types import UtcDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

BATCH = 2000

_WAITING = " OR ".join(f"state = {DELIVERY_STATES.index(s) + 1}" for s in ("pending", "mailbox"))
"""The states a delivery waits in (its recipient's queue and mailbox); done, failed and refused
deliveries are found through their message."""
_INSTANTS = (("appointment", "recorded_at"), ("appointment", "retired_at"))
_NOTICES = ("dcc_mdr_notice", "dcc_supply_notice")


def _recode(
    table_name: str,
    column: str,
    stored: sa.types.TypeEngine[Any],
    restored: sa.types.TypeEngine[Any],
    recode: Callable[[Any], Any],
) -> None:
    """Every non-null ``column`` of ``table_name``, read as ``stored``, rewritten as ``restored``
    after ``recode``, batch by batch in id order."""
    connection = op.get_bind()
    reading = sa.table(table_name, sa.column("id", sa.BigInteger), sa.column(column, stored))
    writing = sa.table(table_name, sa.column("id", sa.BigInteger), sa.column(column, restored))
    rewrite = sa.update(writing).where(writing.c.id == sa.bindparam("key"))
    after = 0
    while True:
        rows = connection.execute(
            sa.select(reading.c.id, reading.c[column])
            .where(reading.c.id > after, reading.c[column].is_not(None))
            .order_by(reading.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        connection.execute(rewrite, [{"key": r[0], column: recode(r[1])} for r in rows])
        after = rows[-1][0]


def _blocks(recode: Callable[[bytes], bytes]) -> None:
    _recode(
        "appointment_request", "raw_block", sa.LargeBinary(), sa.LargeBinary(), lambda b: recode(bytes(b))
    )


def _instants(*, compact: bool) -> None:
    """SQLite only: the DCC's and the RS's record instants as microseconds (or back to text)."""
    wide, narrow = UtcDateTime(), sa.BigInteger()
    for table_name, column in (*_INSTANTS, *((t, "received_at") for t in _NOTICES)):
        if compact:
            _recode(table_name, column, wide, narrow, to_micros)
        else:
            _recode(table_name, column, narrow, wide, from_micros)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else bytes(value).decode()


def _packed_texts(table_name: str, column: str, pack: Callable[[str], bytes]) -> None:
    """``column`` of ``table_name`` packed (PostgreSQL: varchar(width) -> bytea; SQLite keeps
    either form in the column as it is)."""
    postgresql = op.get_bind().dialect.name == "postgresql"
    text: sa.types.TypeEngine[Any] = sa.LargeBinary() if postgresql else sa.String()
    if postgresql:
        op.execute(
            f"ALTER TABLE {table_name} ALTER COLUMN {column} TYPE bytea USING convert_to({column}, 'UTF8')"
        )
    _recode(table_name, column, text, sa.LargeBinary(), lambda wide: pack(_text(wide)))


def _unpacked_texts(table_name: str, column: str, width: int, unpack: Callable[[bytes], str]) -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    text: sa.types.TypeEngine[Any] = sa.LargeBinary() if postgresql else sa.String()
    if postgresql:
        _recode(table_name, column, sa.LargeBinary(), text, lambda narrow: unpack(bytes(narrow)).encode())
        op.execute(
            f"ALTER TABLE {table_name} ALTER COLUMN {column} TYPE varchar({width}) "
            f"USING convert_from({column}, 'UTF8')"
        )
    else:
        _recode(table_name, column, sa.LargeBinary(), text, lambda narrow: unpack(bytes(narrow)))


_PACKED = (
    *((t, "transaction_id", 65, pack_transaction_id, unpack_transaction_id) for t in _NOTICES),
    *(
        (t, "correlation_id", 60, pack_correlation_id, unpack_correlation_id)
        for t in ("appointment_request", "sds_portfolio", "mdr_instruction")
    ),
)
"""The texts kept packed (store/compact.py): the DCC's notices' transaction ids, and the
correlation ids of the RS's requests, the SDS's portfolio and the MDR's instructions (the
appointment's own is read as text by store.queries' point query on the driver's cursor)."""


def _pack_texts(*, packed: bool) -> None:
    for table_name, column, width, pack, unpack in _PACKED:
        if packed:
            _packed_texts(table_name, column, pack)
        else:
            _unpacked_texts(table_name, column, width, unpack)


_LOG = sa.table(
    "message",
    sa.column("id", sa.BigInteger),
    sa.column("sender_unique_reference", sa.BigInteger),
    sa.column("correlation_id", sa.BigInteger),
    sa.column("body", CompressedBody()),
)


def _rekey(key: Callable[[str], int]) -> None:
    """SQLite only: every logged message's reference and correlation keys, computed again from
    its body with ``key`` (whatever 0012 wrote them with)."""
    connection = op.get_bind()
    rewrite = (
        sa.update(_LOG)
        .where(_LOG.c.id == sa.bindparam("key"))
        .values(sender_unique_reference=sa.bindparam("reference"), correlation_id=sa.bindparam("correlation"))
    )
    after = 0
    while True:
        rows = connection.execute(
            sa.select(_LOG.c.id, _LOG.c.body).where(_LOG.c.id > after).order_by(_LOG.c.id).limit(BATCH)
        ).all()
        if not rows:
            return
        keys = []
        for r in rows:
            said = envelope(r.body)
            correlation = None if said.correlation_id is None else key(said.correlation_id)
            keys.append({"key": r.id, "reference": key(said.reference), "correlation": correlation})
        connection.execute(rewrite, keys)
        after = rows[-1].id


_PARTIES = (("message", "sender"), ("delivery", "recipient"))


def _parties(*, packed: bool) -> None:
    """SQLite only: messages' senders and deliveries' recipients packed (compact.pack_dip_id)
    or back to text."""
    for table_name, column in _PARTIES:
        if packed:
            _recode(table_name, column, sa.String(), sa.LargeBinary(), lambda wide: pack_dip_id(_text(wide)))
        else:
            _recode(
                table_name, column, sa.LargeBinary(), sa.String(), lambda narrow: unpack_dip_id(bytes(narrow))
            )


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
    _blocks(compress)
    _pack_texts(packed=True)
    if op.get_bind().dialect.name == "sqlite":
        _instants(compact=True)
    op.drop_index("delivery_by_recipient", table_name="delivery")
    op.create_index(
        "delivery_by_recipient",
        "delivery",
        ["recipient", "state", "id"],
        postgresql_where=sa.text(_WAITING),
        sqlite_where=sa.text(_WAITING),
    )
    op.drop_index("dcc_mdr_notice_by_mpan", table_name="dcc_mdr_notice")
    op.drop_index("appointment_by_provider", table_name="appointment")
    if op.get_bind().dialect.name == "sqlite":
        _facts_table(with_rowid=False)
        _rekey(short_text_key)
        _parties(packed=True)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _parties(packed=False)
        _rekey(text_key)
        _facts_table(with_rowid=True)
    op.create_index("appointment_by_provider", "appointment", ["provider", "service"])
    op.create_index("dcc_mdr_notice_by_mpan", "dcc_mdr_notice", ["mpan", "valid_from"])
    op.drop_index("delivery_by_recipient", table_name="delivery")
    op.create_index("delivery_by_recipient", "delivery", ["recipient", "state", "id"])
    if op.get_bind().dialect.name == "sqlite":
        _instants(compact=False)
    _pack_texts(packed=False)
    _blocks(decompress)
