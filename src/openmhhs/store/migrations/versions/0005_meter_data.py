"""Meter data: MDRs' instructions from their SDS, the DCC's access log, the data an SDS
received per MPAN and day, and its settlement submissions.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from openmhhs.store.types import UtcDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BIGID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "mdr_instruction",
        sa.Column("id", BIGID, primary_key=True, autoincrement=True),
        sa.Column("mdr", sa.String(10), nullable=False),
        sa.Column("mpan", sa.String(13), nullable=False),
        sa.Column("sds", sa.String(10), nullable=False),
        sa.Column("mdr_mpid", sa.String(4), nullable=False),
        sa.Column("valid_from", sa.Date, nullable=False),
        sa.Column("valid_to", sa.Date),
        sa.Column("correlation_id", sa.String(60)),
    )
    # "which MPANs do I retrieve for on day D" and "end my open instruction for this MPAN"
    op.create_index("mdr_instruction_by_mdr", "mdr_instruction", ["mdr", "valid_from"])
    op.create_index("mdr_instruction_by_mpan", "mdr_instruction", ["mpan", "mdr"])
    op.create_table(
        "dcc_access_log",
        sa.Column("id", BIGID, primary_key=True, autoincrement=True),
        sa.Column("at", UtcDateTime, nullable=False),
        sa.Column("requester", sa.String(10), nullable=False),
        sa.Column("requester_mpid", sa.String(4), nullable=False),
        sa.Column("via", sa.String(24), nullable=False),
        sa.Column("mpan", sa.String(13), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("allowed", sa.Boolean, nullable=False),
        sa.Column("code", sa.String(7)),
        sa.Column("reason", sa.String(300), nullable=False),
    )
    op.create_index("dcc_access_log_by_mpan", "dcc_access_log", ["mpan", "day"])
    op.create_table(
        "meter_reading",
        sa.Column("sds", sa.String(10), primary_key=True),
        sa.Column("mpan", sa.String(13), primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("source", sa.String(10), primary_key=True),
        sa.Column("meter_id", sa.String(10), nullable=False),
        sa.Column("values_wh", sa.LargeBinary, nullable=False),
        sa.Column("register_start_wh", sa.BigInteger),
        sa.Column("register_end_wh", sa.BigInteger),
        sa.Column("register_end_at", UtcDateTime),
        sa.Column("start_meter_id", sa.String(10)),
        sa.Column("received_at", UtcDateTime, nullable=False),
    )
    op.create_table(
        "settlement_submission",
        sa.Column("sds", sa.String(10), primary_key=True),
        sa.Column("mpan", sa.String(13), primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("periods", sa.Integer, nullable=False),
        sa.Column("actual", sa.Integer, nullable=False),
        sa.Column("estimated", sa.Integer, nullable=False),
        sa.Column("total_wh", sa.BigInteger, nullable=False),
        sa.Column("values_wh", sa.LargeBinary, nullable=False),
        sa.Column("sender_unique_reference", sa.String(200), nullable=False),
        sa.Column("submitted_at", UtcDateTime, nullable=False),
    )


def downgrade() -> None:
    for table in ("settlement_submission", "meter_reading", "dcc_access_log", "mdr_instruction"):
        op.drop_table(table)
