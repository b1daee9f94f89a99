"""The market: MPANs, supplier periods, appointments (with the one-arrangement-per-day
invariant held by the database), appointment requests, contracts, the SDS portfolio, the
DCC's MDR notices, the message log and deliveries.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from openmhhs.store.types import UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

BIGID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "mpan",
        sa.Column("mpan", sa.String(13), primary_key=True),
        sa.Column("distributor", sa.String(10), nullable=False),
        sa.Column("gsp_group", sa.String(2), nullable=False),
        sa.Column("segment", sa.String(1), nullable=False),
        sa.Column("connection_type", sa.String(1), nullable=False),
        sa.Column("energisation", sa.String(1), nullable=False),
        sa.Column("domestic", sa.Boolean, nullable=False),
        sa.Column("energy_direction", sa.String(1), nullable=False),
        sa.Column("dcc_service_flag", sa.String(1), nullable=False),
        sa.Column("meter_type", sa.String(5), nullable=False),
        sa.Column("postcode", sa.String(10)),
        sa.Column("duos_tariff_id", sa.String(3), nullable=False),
    )
    op.create_table(
        "supplier_period",
        sa.Column("id", BIGID, primary_key=True, autoincrement=True),
        sa.Column("mpan", sa.String(13), nullable=False),
        sa.Column("supplier", sa.String(10), nullable=False),
        sa.Column("valid_from", sa.Date, nullable=False),
        sa.Column("valid_to", sa.Date),
        sa.CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="supplier_period_order"),
    )
    op.create_index("supplier_period_by_mpan", "supplier_period", ["mpan", "valid_from"])
    op.create_table(
        "appointment",
        sa.Column("id", BIGID, primary_key=True, autoincrement=True),
        sa.Column("mpan", sa.String(13), nullable=False),
        sa.Column("service", sa.String(2), nullable=False),
        sa.Column("provider", sa.String(10), nullable=False),
        sa.Column("provider_mpid", sa.String(4), nullable=False),
        sa.Column("mdr", sa.String(10)),
        sa.Column("mdr_mpid", sa.String(4)),
        sa.Column("valid_from", sa.Date, nullable=False),
        sa.Column("valid_to", sa.Date),
        sa.Column("supplier", sa.String(10), nullable=False),
        sa.Column("contract_reference", sa.String(50)),
        sa.Column("scenario", sa.String(3)),
        sa.Column("correlation_id", sa.String(60)),
        sa.Column("recorded_at", UtcDateTime, nullable=False),
        sa.Column("retired_at", UtcDateTime),
        sa.Column("retired_by", sa.String(60)),
        sa.CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="appointment_period_order"),
        sa.CheckConstraint("service IN ('DS', 'MS')", name="appointment_service"),
        sa.CheckConstraint(
            "(service = 'DS') = (mdr IS NOT NULL AND mdr_mpid IS NOT NULL)",
            name="appointment_ds_has_mdr",
        ),
    )
    # The timeline of one MPAN and service, current rows only: every RS decision reads it.
    op.create_index(
        "appointment_current",
        "appointment",
        ["mpan", "service", "valid_from"],
        postgresql_where=sa.text("retired_at IS NULL"),
        sqlite_where=sa.text("retired_at IS NULL"),
    )
    if postgres:
        # Only one SDS==MDR combination (one row per service) per MPAN on any day, whatever
        # code path writes: the database refuses overlapping current rows.
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        op.execute(
            "ALTER TABLE appointment ADD CONSTRAINT appointment_one_arrangement_per_day "
            "EXCLUDE USING gist (mpan WITH =, service WITH =, "
            "daterange(valid_from, valid_to, '[)') WITH &&) WHERE (retired_at IS NULL)"
        )
        op.execute(
            "ALTER TABLE supplier_period ADD CONSTRAINT supplier_period_no_overlap "
            "EXCLUDE USING gist (mpan WITH =, daterange(valid_from, valid_to, '[)') WITH &&)"
        )
    else:
        overlap = """
            SELECT RAISE(ABORT, 'OMH0501 appointment_one_arrangement_per_day: overlapping current rows')
            WHERE NEW.retired_at IS NULL AND (NEW.valid_to IS NULL OR NEW.valid_to > NEW.valid_from)
              AND EXISTS (
                SELECT 1 FROM appointment a
                WHERE a.mpan = NEW.mpan AND a.service = NEW.service AND a.id != NEW.id
                  AND a.retired_at IS NULL
                  AND (a.valid_to IS NULL OR a.valid_to > a.valid_from)
                  AND (a.valid_to IS NULL OR a.valid_to > NEW.valid_from)
                  AND (NEW.valid_to IS NULL OR NEW.valid_to > a.valid_from)
              );
        """
        op.execute(
            f"CREATE TRIGGER appointment_overlap_insert AFTER INSERT ON appointment BEGIN {overlap} END"
        )
        op.execute(
            "CREATE TRIGGER appointment_overlap_update AFTER UPDATE OF mpan, service, valid_from, "
            f"valid_to, retired_at ON appointment BEGIN {overlap} END"
        )
        supplier_overlap = """
            SELECT RAISE(ABORT, 'OMH0501 supplier_period_no_overlap: overlapping supplier periods')
            WHERE EXISTS (
                SELECT 1 FROM supplier_period p
                WHERE p.mpan = NEW.mpan AND p.id != NEW.id
                  AND (p.valid_to IS NULL OR p.valid_to > NEW.valid_from)
                  AND (NEW.valid_to IS NULL OR NEW.valid_to > p.valid_from)
                  AND (p.valid_to IS NULL OR p.valid_to > p.valid_from)
                  AND (NEW.valid_to IS NULL OR NEW.valid_to > NEW.valid_from)
            );
        """
        op.execute(
            "CREATE TRIGGER supplier_period_overlap_insert AFTER INSERT ON supplier_period "
            f"BEGIN {supplier_overlap} END"
        )
        op.execute(
            "CREATE TRIGGER supplier_period_overlap_update AFTER UPDATE OF mpan, valid_from, valid_to "
            f"ON supplier_period BEGIN {supplier_overlap} END"
        )
    op.create_index("appointment_by_provider", "appointment", ["provider", "service"])
    op.create_index("appointment_by_correlation", "appointment", ["correlation_id"])
    op.create_table(
        "appointment_request",
        sa.Column("id", BIGID, primary_key=True, autoincrement=True),
        sa.Column("correlation_id", sa.String(60), nullable=False, unique=True),
        sa.Column("mpan", sa.String(13), nullable=False),
        sa.Column("service", sa.String(2), nullable=False),
        sa.Column("supplier", sa.String(10), nullable=False),
        sa.Column("supplier_mpid", sa.String(4), nullable=False),
        sa.Column("provider", sa.String(10), nullable=False),
        sa.Column("provider_mpid", sa.String(4), nullable=False),
        sa.Column("effective_from", sa.Date, nullable=False),
        sa.Column("scenario", sa.String(3), nullable=False),
        sa.Column("received_on", sa.Date, nullable=False),
        sa.Column("raw_block", sa.LargeBinary, nullable=False),
        sa.Column("nominated_mdr", sa.String(10)),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("outcome_code", sa.String(7)),
        sa.Column("activated", sa.Boolean, nullable=False),
    )
    op.create_index("appointment_request_by_mpan", "appointment_request", ["mpan", "service", "state"])
    op.create_index("appointment_request_open", "appointment_request", ["state", "received_on"])
    op.create_table(
        "contract",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("sds", sa.String(10), nullable=False),
        sa.Column("supplier", sa.String(10), nullable=False),
        sa.Column("reference", sa.String(50), nullable=False),
        sa.Column("terms", sa.JSON, nullable=False),
        sa.UniqueConstraint("sds", "supplier", "reference", name="contract_unique_reference"),
    )
    op.create_table(
        "sds_portfolio",
        sa.Column("id", BIGID, primary_key=True, autoincrement=True),
        sa.Column("sds", sa.String(10), nullable=False),
        sa.Column("mpan", sa.String(13), nullable=False),
        sa.Column("supplier", sa.String(10), nullable=False),
        sa.Column("mdr", sa.String(10), nullable=False),
        sa.Column("mdr_mpid", sa.String(4), nullable=False),
        sa.Column("valid_from", sa.Date, nullable=False),
        sa.Column("valid_to", sa.Date),
        sa.Column("correlation_id", sa.String(60)),
        sa.Column("contract_reference", sa.String(50)),
    )
    op.create_index("sds_portfolio_by_mpan", "sds_portfolio", ["sds", "mpan", "valid_from"])
    op.create_table(
        "dcc_mdr_notice",
        sa.Column("id", BIGID, primary_key=True, autoincrement=True),
        sa.Column("mpan", sa.String(13), nullable=False),
        sa.Column("mdr", sa.String(10), nullable=False),
        sa.Column("mdr_mpid", sa.String(4), nullable=False),
        sa.Column("valid_from", sa.Date, nullable=False),
        sa.Column("supplier", sa.String(10), nullable=False),
        sa.Column("received_at", UtcDateTime, nullable=False),
        sa.Column("transaction_id", sa.String(65), nullable=False),
    )
    op.create_index("dcc_mdr_notice_by_mpan", "dcc_mdr_notice", ["mpan", "valid_from"])
    op.create_table(
        "message",
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
    op.create_index("message_by_mpan", "message", ["mpan", "id"])
    op.create_index("message_by_correlation", "message", ["correlation_id", "id"])
    op.create_table(
        "delivery",
        sa.Column("id", BIGID, primary_key=True, autoincrement=True),
        sa.Column("message_id", sa.BigInteger, nullable=False),
        sa.Column("recipient", sa.String(10), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("processed_at", UtcDateTime),
        sa.Column("outcome_code", sa.String(7)),
        sa.Column("outcome_detail", sa.Text),
    )
    # The bus takes the oldest pending delivery; everything else is looked up by message.
    op.create_index(
        "delivery_pending",
        "delivery",
        ["id"],
        postgresql_where=sa.text("state = 'pending'"),
        sqlite_where=sa.text("state = 'pending'"),
    )
    op.create_index("delivery_by_message", "delivery", ["message_id"])
    op.create_table(
        "market_state",
        sa.Column("key", sa.String(40), primary_key=True),
        sa.Column("value", sa.String(200), nullable=False),
    )
    op.create_table(
        "participant_mode",
        sa.Column("dip_id", sa.String(10), primary_key=True),
        sa.Column("mode", sa.String(10), nullable=False),
    )


def downgrade() -> None:
    for table in (
        "participant_mode",
        "market_state",
        "delivery",
        "message",
        "dcc_mdr_notice",
        "sds_portfolio",
        "contract",
        "appointment_request",
        "appointment",
        "supplier_period",
        "mpan",
    ):
        op.drop_table(table)
