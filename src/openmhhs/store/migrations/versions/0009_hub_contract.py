"""The rest of the DIP's HTTP contract: status messages (``POST /statusmessage``) kept until
their recipient's status-message webhook (``/statusmessage/config/{recipient-id}``) takes
them; and the message log by channel and time, for replay and requeue by time window.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

from openmhhs.store.types import UtcDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

BIGID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "status_webhook",
        sa.Column("recipient", sa.String(10), primary_key=True),
        sa.Column("callback_url", sa.String(500), nullable=False),
        sa.Column("max_messages", sa.Integer, nullable=False),
    )
    op.create_table(
        "status_message",
        sa.Column("id", BIGID, primary_key=True, autoincrement=True),
        sa.Column("sender", sa.String(10), nullable=False),
        sa.Column("recipient", sa.String(10), nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("received_at", UtcDateTime, nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("delivered_at", UtcDateTime),
    )
    op.create_index("status_message_pending", "status_message", ["recipient", "state", "id"])
    # Replay and requeue by time window: a channel's messages in the order received.
    op.create_index("message_by_channel", "message", ["interface_id", "received_at"])


def downgrade() -> None:
    op.drop_index("message_by_channel", table_name="message")
    op.drop_index("status_message_pending", table_name="status_message")
    op.drop_table("status_message")
    op.drop_table("status_webhook")
