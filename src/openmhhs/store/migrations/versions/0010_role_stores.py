"""A store per role: the MPAN facts an SDS learns from the messages it receives (IF-033, IF-001:
energy direction and energisation status), so that it never reads the RS's ``mpan`` table.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sds_mpan_fact",
        sa.Column("sds", sa.String(10), primary_key=True),
        sa.Column("mpan", sa.String(13), primary_key=True),
        sa.Column("energy_direction", sa.String(1), nullable=False),
        sa.Column("energisation", sa.String(1), nullable=False),
    )
    # What each SDS serving an MPAN was told in the IF-033 that appointed it (the RS's record,
    # from which the RS built that message): a database made before keeps its MDR instructions.
    op.execute(
        "INSERT INTO sds_mpan_fact (sds, mpan, energy_direction, energisation) "
        "SELECT DISTINCT p.sds, p.mpan, m.energy_direction, m.energisation "
        "FROM sds_portfolio p JOIN mpan m ON m.mpan = p.mpan"
    )


def downgrade() -> None:
    op.drop_table("sds_mpan_fact")
