"""The DCC's supplier registrations: IF-001 as it received them (MPAN, supplier, energy
direction, from which day), beside its [DCC-MDROutcome] notices, so that the DCC decides access
from its own records only.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

from openmhhs.store.types import UtcDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dcc_supply_notice",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
        ),
        sa.Column("mpan", sa.String(13), nullable=False),
        sa.Column("supplier", sa.String(10), nullable=False),
        sa.Column("energy_direction", sa.String(1), nullable=False),
        sa.Column("valid_from", sa.Date, nullable=False),
        sa.Column("received_at", UtcDateTime, nullable=False),
        sa.Column("transaction_id", sa.String(65), nullable=False),
    )
    op.create_index("dcc_supply_notice_by_mpan", "dcc_supply_notice", ["mpan", "id"])
    # the notice in force per MPAN on a day: the latest received (highest id) effective by then
    op.create_index("dcc_mdr_notice_by_mpan_id", "dcc_mdr_notice", ["mpan", "id"])


def downgrade() -> None:
    op.drop_index("dcc_mdr_notice_by_mpan_id", table_name="dcc_mdr_notice")
    op.drop_index("dcc_supply_notice_by_mpan", table_name="dcc_supply_notice")
    op.drop_table("dcc_supply_notice")
