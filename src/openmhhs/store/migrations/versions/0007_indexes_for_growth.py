"""Indexes for statements whose cost grew with the market (found by EXPLAIN QUERY PLAN on a
40,000-MPAN database).

- The MDR's instruction for one MPAN, by (MPAN, MDR, from). Every IF-061 an MDR accepts first
  ends or removes that MPAN's later instructions. With only (mdr, valid_from) and (mpan, mdr)
  to choose from, SQLite's planner took the first for ``DELETE … WHERE mdr = ? AND mpan = ? AND
  valid_from >= ?`` and scanned every instruction the MDR held, so each appointment cost more
  as the market grew (135 appointments/s at 100,000 MPANs against 314/s at 20,000).
- Meter readings and settlement submissions by (day, MPAN): a data run replaces one day's
  readings for a partition of MPANs and reads one day's submissions; both scanned the tables.

Revision ID: 0007
Revises: 0006
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("mdr_instruction_by_mpan", table_name="mdr_instruction")
    op.create_index("mdr_instruction_by_mpan", "mdr_instruction", ["mpan", "mdr", "valid_from"])
    op.create_index("meter_reading_by_day", "meter_reading", ["day", "mpan"])
    op.create_index("settlement_submission_by_day", "settlement_submission", ["day", "mpan"])


def downgrade() -> None:
    op.drop_index("settlement_submission_by_day", table_name="settlement_submission")
    op.drop_index("meter_reading_by_day", table_name="meter_reading")
    op.drop_index("mdr_instruction_by_mpan", table_name="mdr_instruction")
    op.create_index("mdr_instruction_by_mpan", "mdr_instruction", ["mpan", "mdr"])
