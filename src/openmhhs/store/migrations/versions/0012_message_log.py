"""A compact message log: bodies zstd-compressed with the shipped dictionary, narrow index rows
(64-bit keys for the sender unique reference and correlation id, numbers for codes and
instants, the sender's role read from the body) and narrow deliveries. Existing rows are
converted batch by batch; every body reads back byte for byte (docs/scaling.md "message log").

Revision ID: 0012
Revises: 0009
"""

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from openmhhs.store.compact import (
    DELIVERY_STATES,
    EVENT_CODES,
    ORIGINS,
    Catalogue,
    EpochMicros,
    InterfaceNumber,
    MpanNumber,
    PackedTransactionId,
    TextKey,
)
from openmhhs.store.message_codec import CompressedBody, envelope
from openmhhs.store.types import UtcDateTime

revision = "0012"
down_revision = "0009"
branch_labels = None
depends_on = None

BIGID = sa.BigInteger().with_variant(sa.Integer, "sqlite")
BATCH = 2000


def _wide_message(name: str) -> sa.Table:
    return sa.Table(
        name,
        sa.MetaData(),
        sa.Column("id", BIGID, primary_key=True, autoincrement=True),
        sa.Column("sender_unique_reference", sa.String(200), nullable=False, unique=True),
        sa.Column("interface_id", sa.String(6), nullable=False),
        sa.Column("event_code", sa.String(40), nullable=False),
        sa.Column("sender", sa.String(10), nullable=False),
        sa.Column("sender_role", sa.String(5), nullable=False),
        sa.Column("mpan", sa.String(13)),
        sa.Column("correlation_id", sa.String(60)),
        sa.Column("transaction_id", sa.String(65), nullable=False, unique=True),
        sa.Column("received_at", UtcDateTime, nullable=False),
        sa.Column("origin", sa.String(20), nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
    )


def _narrow_message(name: str) -> sa.Table:
    return sa.Table(
        name,
        sa.MetaData(),
        sa.Column("id", BIGID, primary_key=True, autoincrement=True),
        sa.Column("sender_unique_reference", TextKey, nullable=False),
        sa.Column("interface_id", InterfaceNumber, nullable=False),
        sa.Column("event_code", Catalogue(EVENT_CODES), nullable=False),
        sa.Column("sender", sa.String(10), nullable=False),
        sa.Column("mpan", MpanNumber),
        sa.Column("correlation_id", TextKey),
        sa.Column("transaction_id", PackedTransactionId, nullable=False),
        sa.Column("received_at", EpochMicros, nullable=False),
        sa.Column("origin", Catalogue(ORIGINS), nullable=False),
        sa.Column("body", CompressedBody, nullable=False),
    )


def _delivery(name: str, *, narrow: bool) -> sa.Table:
    return sa.Table(
        name,
        sa.MetaData(),
        sa.Column("id", BIGID, primary_key=True, autoincrement=True),
        sa.Column("message_id", sa.BigInteger, nullable=False),
        sa.Column("recipient", sa.String(10), nullable=False),
        sa.Column("state", Catalogue(DELIVERY_STATES) if narrow else sa.String(10), nullable=False),
        sa.Column("processed_at", EpochMicros if narrow else UtcDateTime),
        sa.Column("outcome_code", sa.String(7)),
        sa.Column("outcome_detail", sa.Text),
    )


_MESSAGE_INDEXES = ("message_by_mpan", "message_by_correlation", "message_by_channel")
_DELIVERY_INDEXES = ("delivery_pending", "delivery_by_message", "delivery_by_recipient")


def _batches(connection: sa.Connection, table: sa.Table) -> Iterator[Sequence[Any]]:
    after = 0
    while True:
        rows = connection.execute(
            sa.select(table).where(table.c.id > after).order_by(table.c.id).limit(BATCH)
        ).all()
        if not rows:
            return
        yield rows
        after = rows[-1].id


def _copy(
    connection: sa.Connection, source: sa.Table, target: sa.Table, convert: Callable[[Any], dict[str, Any]]
) -> None:
    for rows in _batches(connection, source):
        connection.execute(sa.insert(target), [convert(r) for r in rows])


def _narrowed(row: Any) -> dict[str, Any]:
    m = dict(row._mapping)
    del m["sender_role"]
    m["body"] = bytes(m["body"])
    return m


def _widened(row: Any) -> dict[str, Any]:
    m = dict(row._mapping)
    said = envelope(m["body"])
    m.update(
        sender_unique_reference=said.reference,
        sender_role=said.sender_role,
        correlation_id=said.correlation_id,
    )
    return m


def _pending_index(state: object) -> None:
    op.create_index(
        "delivery_pending",
        "delivery",
        ["id"],
        postgresql_where=sa.text(f"state = {state}"),
        sqlite_where=sa.text(f"state = {state}"),
    )


def _rebuild(*, narrow: bool) -> None:
    connection = op.get_bind()
    for index in _MESSAGE_INDEXES:
        op.drop_index(index, table_name="message")
    for index in _DELIVERY_INDEXES:
        op.drop_index(index, table_name="delivery")
    for table in ("message", "delivery"):
        op.rename_table(table, f"{table}_before")
        if connection.dialect.name == "postgresql":  # free the names the new table's key takes
            connection.execute(sa.text(f"ALTER INDEX {table}_pkey RENAME TO {table}_before_pkey"))
            connection.execute(sa.text(f"ALTER SEQUENCE {table}_id_seq RENAME TO {table}_before_id_seq"))
    old_message = _wide_message("message_before") if narrow else _narrow_message("message_before")
    new_message = _narrow_message("message") if narrow else _wide_message("message")
    new_message.create(connection)
    _copy(connection, old_message, new_message, _narrowed if narrow else _widened)
    old_delivery = _delivery("delivery_before", narrow=not narrow)
    new_delivery = _delivery("delivery", narrow=narrow)
    new_delivery.create(connection)
    _copy(connection, old_delivery, new_delivery, lambda row: dict(row._mapping))
    op.drop_table("message_before")
    op.drop_table("delivery_before")
    if connection.dialect.name == "postgresql":
        for table in ("message", "delivery"):
            connection.execute(
                sa.text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
                )
            )
    if narrow:
        op.create_index("message_by_reference", "message", ["sender_unique_reference"])
    op.create_index("message_by_mpan", "message", ["mpan", "id"])
    op.create_index("message_by_correlation", "message", ["correlation_id", "id"])
    op.create_index("message_by_channel", "message", ["interface_id", "received_at"])
    _pending_index(DELIVERY_STATES.index("pending") + 1 if narrow else "'pending'")
    op.create_index("delivery_by_message", "delivery", ["message_id"])
    op.create_index("delivery_by_recipient", "delivery", ["recipient", "state", "id"])


def upgrade() -> None:
    _rebuild(narrow=True)


def downgrade() -> None:
    op.drop_index("message_by_reference", table_name="message")
    _rebuild(narrow=False)
