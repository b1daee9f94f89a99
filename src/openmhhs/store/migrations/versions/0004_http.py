"""The DIP over HTTP: recipients' webhooks per channel, delivery retries, and each
participant node's inbox (exactly-once application) and outbox (messages to send).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

from openmhhs.store.types import UtcDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BIGID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "webhook",
        sa.Column("recipient", sa.String(10), primary_key=True),
        sa.Column("channel", sa.String(6), primary_key=True),
        sa.Column("callback_url", sa.String(500), nullable=False),
        sa.Column("max_messages", sa.Integer, nullable=False),
    )
    op.create_table(
        "delivery_attempt",
        sa.Column("delivery_id", sa.BigInteger, primary_key=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", UtcDateTime, nullable=False),
        sa.Column("last_error", sa.Text),
    )
    # The HTTP delivery worker looks for due deliveries per recipient, oldest first.
    op.create_index("delivery_by_recipient", "delivery", ["recipient", "state", "id"])
    op.create_table(
        "node_inbox",
        sa.Column("dip_id", sa.String(10), primary_key=True),
        sa.Column("transaction_id", sa.String(65), primary_key=True),
        sa.Column("sequence", BIGID, nullable=False),
        sa.Column("sender_unique_reference", sa.String(200), nullable=False),
        sa.Column("interface_id", sa.String(6), nullable=False),
        sa.Column("event_code", sa.String(40), nullable=False),
        sa.Column("mpan", sa.String(13)),
        sa.Column("replay", sa.Boolean, nullable=False),
        sa.Column("received_at", UtcDateTime, nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("signed_by", sa.String(20)),
    )
    op.create_index("node_inbox_order", "node_inbox", ["dip_id", "sequence"])
    op.create_table(
        "node_outbox",
        sa.Column("id", BIGID, primary_key=True, autoincrement=True),
        sa.Column("dip_id", sa.String(10), nullable=False),
        sa.Column("channel", sa.String(6), nullable=False),
        sa.Column("sender_unique_reference", sa.String(200), nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("outcome_code", sa.String(7)),
        sa.Column("created_at", UtcDateTime, nullable=False),
    )
    op.create_index("node_outbox_pending", "node_outbox", ["dip_id", "state", "id"])


def downgrade() -> None:
    op.drop_index("delivery_by_recipient", "delivery")
    for table in ("node_outbox", "node_inbox", "delivery_attempt", "webhook"):
        op.drop_table(table)
