"""Implementation models: the market description a run used, each MPAN's brand or customer
type and model, and which Suppliers share their own consumption data with the SDS (1B).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from openmhhs.store.types import UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "market_description",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("model", sa.String(2), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("loaded_at", UtcDateTime, nullable=False),
    )
    op.create_table(
        "mpan_profile",
        sa.Column("mpan", sa.String(13), primary_key=True),
        sa.Column("supplier", sa.String(10), nullable=False),
        sa.Column("customer_group", sa.String(100), nullable=False),
        sa.Column("model", sa.String(2), nullable=False),
    )
    op.create_table(
        "supplier_data_sharing",
        sa.Column("supplier", sa.String(10), primary_key=True),
        sa.Column("shares_consumption_data", sa.Boolean, nullable=False),
        sa.Column("since", sa.Date, nullable=False),
    )


def downgrade() -> None:
    for table in ("supplier_data_sharing", "mpan_profile", "market_description"):
        op.drop_table(table)
