"""Identity: the ISD M16 table and the participant registry.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from openmhhs.store.types import UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "isd_entry",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("company_number", sa.String(10), nullable=False),
        sa.Column("company_name", sa.String(50)),
        sa.Column("mpid", sa.String(4), nullable=False),
        sa.Column("market_role", sa.String(2)),
        sa.Column("dip_id", sa.String(10)),
        sa.Column("dip_role", sa.String(5), nullable=False),
        sa.Column("valid_from", UtcDateTime, nullable=False),
        sa.Column("valid_to", UtcDateTime),
        sa.Column("row_number", sa.Integer, nullable=False, server_default="0"),
        sa.CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="isd_period_order"),
    )
    # Translation looks rows up by DIP registration, by MPID, and lists a role (valid MDRs).
    op.create_index("isd_by_dip", "isd_entry", ["dip_id", "dip_role"])
    op.create_index("isd_by_mpid", "isd_entry", ["mpid"])
    op.create_index("isd_by_role", "isd_entry", ["dip_role"])
    op.create_index("isd_by_company", "isd_entry", ["company_number"])
    op.create_table(
        "organisation",
        sa.Column("company_number", sa.String(10), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("sec_status", sa.String(20), nullable=False),
    )
    op.create_table(
        "organisation_dcc_role",
        sa.Column("company_number", sa.String(10), primary_key=True),
        sa.Column("dcc_role", sa.String(30), primary_key=True),
    )
    op.create_table(
        "organisation_qualification",
        sa.Column("company_number", sa.String(10), primary_key=True),
        sa.Column("dip_role", sa.String(5), primary_key=True),
        sa.Column("status", sa.String(20), nullable=False),
    )


def downgrade() -> None:
    for table in ("organisation_qualification", "organisation_dcc_role", "organisation"):
        op.drop_table(table)
    op.drop_table("isd_entry")
