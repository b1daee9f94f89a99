"""The tables, as SQLAlchemy Core metadata (the migrations create them)."""

from __future__ import annotations

import sqlalchemy as sa

from openmhhs.store.types import UtcDateTime

metadata = sa.MetaData()

isd_entry = sa.Table(
    "isd_entry",
    metadata,
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
)

organisation = sa.Table(
    "organisation",
    metadata,
    sa.Column("company_number", sa.String(10), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("sec_status", sa.String(20), nullable=False),
)

organisation_dcc_role = sa.Table(
    "organisation_dcc_role",
    metadata,
    sa.Column("company_number", sa.String(10), primary_key=True),
    sa.Column("dcc_role", sa.String(30), primary_key=True),
)

organisation_qualification = sa.Table(
    "organisation_qualification",
    metadata,
    sa.Column("company_number", sa.String(10), primary_key=True),
    sa.Column("dip_role", sa.String(5), primary_key=True),
    sa.Column("status", sa.String(20), nullable=False),
)
