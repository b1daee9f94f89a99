"""The tables, as SQLAlchemy Core metadata (the migrations create them)."""

from __future__ import annotations

import sqlalchemy as sa

from openmhhs.store.compact import (
    DELIVERY_STATES,
    EVENT_CODES,
    ORIGINS,
    Catalogue,
    CompactUtcDateTime,
    EpochMicros,
    InterfaceNumber,
    MpanNumber,
    PackedCorrelationId,
    PackedDipId,
    PackedTransactionId,
    TextKey,
)
from openmhhs.store.message_codec import CompressedBody
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

# --- Registration Service -----------------------------------------------------------------

mpan = sa.Table(
    "mpan",
    metadata,
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

supplier_period = sa.Table(
    "supplier_period",
    metadata,
    sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("mpan", sa.String(13), nullable=False),
    sa.Column("supplier", sa.String(10), nullable=False),
    sa.Column("valid_from", sa.Date, nullable=False),
    sa.Column("valid_to", sa.Date),
)

appointment = sa.Table(
    "appointment",
    metadata,
    sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
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
    sa.Column("recorded_at", CompactUtcDateTime, nullable=False),
    sa.Column("retired_at", CompactUtcDateTime),
    sa.Column("retired_by", sa.String(60)),
)

appointment_request = sa.Table(
    "appointment_request",
    metadata,
    sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("correlation_id", PackedCorrelationId, nullable=False, unique=True),
    sa.Column("mpan", sa.String(13), nullable=False),
    sa.Column("service", sa.String(2), nullable=False),
    sa.Column("supplier", sa.String(10), nullable=False),
    sa.Column("supplier_mpid", sa.String(4), nullable=False),
    sa.Column("provider", sa.String(10), nullable=False),
    sa.Column("provider_mpid", sa.String(4), nullable=False),
    sa.Column("effective_from", sa.Date, nullable=False),
    sa.Column("scenario", sa.String(3), nullable=False),
    sa.Column("received_on", sa.Date, nullable=False),
    # The appointment block (B071/B070) as received, compressed like a message body (0013).
    sa.Column("raw_block", CompressedBody, nullable=False),
    sa.Column("nominated_mdr", sa.String(10)),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("outcome_code", sa.String(7)),
    sa.Column("activated", sa.Boolean, nullable=False),
)

# --- Smart Data Service -------------------------------------------------------------------

contract = sa.Table(
    "contract",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("sds", sa.String(10), nullable=False),
    sa.Column("supplier", sa.String(10), nullable=False),
    sa.Column("reference", sa.String(50), nullable=False),
    sa.Column("terms", sa.JSON, nullable=False),
    sa.UniqueConstraint("sds", "supplier", "reference", name="contract_unique_reference"),
)

sds_portfolio = sa.Table(
    "sds_portfolio",
    metadata,
    sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("sds", sa.String(10), nullable=False),
    sa.Column("mpan", sa.String(13), nullable=False),
    sa.Column("supplier", sa.String(10), nullable=False),
    sa.Column("mdr", sa.String(10), nullable=False),
    sa.Column("mdr_mpid", sa.String(4), nullable=False),
    sa.Column("valid_from", sa.Date, nullable=False),
    sa.Column("valid_to", sa.Date),
    sa.Column("correlation_id", PackedCorrelationId),
    sa.Column("contract_reference", sa.String(50)),
)

sds_mpan_fact = sa.Table(
    "sds_mpan_fact",
    metadata,
    # What an SDS learned of an MPAN's site from IF-033 and IF-001 (B023, B025): never the RS's table.
    sa.Column("sds", sa.String(10), primary_key=True),
    sa.Column("mpan", sa.String(13), primary_key=True),
    sa.Column("energy_direction", sa.String(1), nullable=False),
    sa.Column("energisation", sa.String(1), nullable=False),
    sqlite_with_rowid=False,  # its key is its order: no second copy of it (0013)
)

# --- DCC ----------------------------------------------------------------------------------

dcc_mdr_notice = sa.Table(
    "dcc_mdr_notice",
    metadata,
    sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("mpan", sa.String(13), nullable=False),
    sa.Column("mdr", sa.String(10), nullable=False),
    sa.Column("mdr_mpid", sa.String(4), nullable=False),
    sa.Column("valid_from", sa.Date, nullable=False),
    sa.Column("supplier", sa.String(10), nullable=False),
    sa.Column("received_at", CompactUtcDateTime, nullable=False),
    sa.Column("transaction_id", PackedTransactionId, nullable=False),
)

dcc_supply_notice = sa.Table(
    "dcc_supply_notice",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("mpan", sa.String(13), nullable=False),
    sa.Column("supplier", sa.String(10), nullable=False),
    sa.Column("energy_direction", sa.String(1), nullable=False),
    sa.Column("valid_from", sa.Date, nullable=False),
    sa.Column("received_at", CompactUtcDateTime, nullable=False),
    sa.Column("transaction_id", PackedTransactionId, nullable=False),
)
"""IF-001 as the DCC received it: from a day, the MPAN's supplier and energy direction."""

# --- the DIP as the in-process market runs it ----------------------------------------------

message = sa.Table(
    "message",
    metadata,
    sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    # Narrow index rows (docs/scaling.md "message log"): long texts the body carries are kept
    # as 64-bit keys, codes as small numbers, instants as microseconds; the sender's role is
    # read from the body. Each column still compares with, and reads back as, its text.
    sa.Column("sender_unique_reference", TextKey, nullable=False),
    sa.Column("interface_id", InterfaceNumber, nullable=False),
    sa.Column("event_code", Catalogue(EVENT_CODES), nullable=False),
    sa.Column("sender", PackedDipId, nullable=False),
    sa.Column("mpan", MpanNumber),
    sa.Column("correlation_id", TextKey),
    sa.Column("transaction_id", PackedTransactionId, nullable=False),
    sa.Column("received_at", EpochMicros, nullable=False),
    sa.Column("origin", Catalogue(ORIGINS), nullable=False),
    sa.Column("body", CompressedBody, nullable=False),
)
"""The message log: one row per message, its body zstd-compressed (store/message_codec.py)."""

delivery = sa.Table(
    "delivery",
    metadata,
    sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("message_id", sa.BigInteger, nullable=False),
    sa.Column("recipient", PackedDipId, nullable=False),
    sa.Column("state", Catalogue(DELIVERY_STATES), nullable=False),
    sa.Column("processed_at", EpochMicros),
    sa.Column("outcome_code", sa.String(7)),
    sa.Column("outcome_detail", sa.Text),
)

market_state = sa.Table(
    "market_state",
    metadata,
    sa.Column("key", sa.String(40), primary_key=True),
    sa.Column("value", sa.String(200), nullable=False),
)

participant_mode = sa.Table(
    "participant_mode",
    metadata,
    sa.Column("dip_id", sa.String(10), primary_key=True),
    sa.Column("mode", sa.String(10), nullable=False),
)

# --- a described market (implementation models) ----------------------------------------------

market_description = sa.Table(
    "market_description",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("model", sa.String(2), nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("loaded_at", UtcDateTime, nullable=False),
)

mpan_profile = sa.Table(
    "mpan_profile",
    metadata,
    sa.Column("mpan", sa.String(13), primary_key=True),
    sa.Column("supplier", sa.String(10), nullable=False),
    sa.Column("customer_group", sa.String(100), nullable=False),
    sa.Column("model", sa.String(2), nullable=False),
)

supplier_data_sharing = sa.Table(
    "supplier_data_sharing",
    metadata,
    sa.Column("supplier", sa.String(10), primary_key=True),
    sa.Column("shares_consumption_data", sa.Boolean, nullable=False),
    sa.Column("since", sa.Date, nullable=False),
)

# --- the DIP over HTTP ------------------------------------------------------------------------

webhook = sa.Table(
    "webhook",
    metadata,
    sa.Column("recipient", sa.String(10), primary_key=True),
    sa.Column("channel", sa.String(6), primary_key=True),
    sa.Column("callback_url", sa.String(500), nullable=False),
    sa.Column("max_messages", sa.Integer, nullable=False),
)

delivery_attempt = sa.Table(
    "delivery_attempt",
    metadata,
    sa.Column("delivery_id", sa.BigInteger, primary_key=True),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", UtcDateTime, nullable=False),
    sa.Column("last_error", sa.Text),
)

status_webhook = sa.Table(
    "status_webhook",
    metadata,
    sa.Column("recipient", sa.String(10), primary_key=True),
    sa.Column("callback_url", sa.String(500), nullable=False),
    sa.Column("max_messages", sa.Integer, nullable=False),
)

status_message = sa.Table(
    "status_message",
    metadata,
    sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("sender", sa.String(10), nullable=False),
    sa.Column("recipient", sa.String(10), nullable=False),
    sa.Column("body", sa.LargeBinary, nullable=False),
    sa.Column("received_at", UtcDateTime, nullable=False),
    sa.Column("state", sa.String(10), nullable=False),
    sa.Column("delivered_at", UtcDateTime),
)

node_inbox = sa.Table(
    "node_inbox",
    metadata,
    sa.Column("dip_id", sa.String(10), primary_key=True),
    sa.Column("transaction_id", sa.String(65), primary_key=True),
    sa.Column("sequence", sa.BigInteger().with_variant(sa.Integer, "sqlite"), nullable=False),
    sa.Column("sender_unique_reference", sa.String(200), nullable=False),
    sa.Column("interface_id", sa.String(6), nullable=False),
    sa.Column("event_code", sa.String(40), nullable=False),
    sa.Column("mpan", sa.String(13)),
    sa.Column("replay", sa.Boolean, nullable=False),
    sa.Column("received_at", UtcDateTime, nullable=False),
    sa.Column("body", sa.LargeBinary, nullable=False),
    sa.Column("signed_by", sa.String(20)),
)

node_outbox = sa.Table(
    "node_outbox",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("dip_id", sa.String(10), nullable=False),
    sa.Column("channel", sa.String(6), nullable=False),
    sa.Column("sender_unique_reference", sa.String(200), nullable=False),
    sa.Column("body", sa.LargeBinary, nullable=False),
    sa.Column("state", sa.String(10), nullable=False),
    sa.Column("outcome_code", sa.String(7)),
    sa.Column("created_at", UtcDateTime, nullable=False),
)


_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")

mdr_instruction = sa.Table(
    "mdr_instruction",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("mdr", sa.String(10), nullable=False),
    sa.Column("mpan", sa.String(13), nullable=False),
    sa.Column("sds", sa.String(10), nullable=False),
    sa.Column("mdr_mpid", sa.String(4), nullable=False),
    sa.Column("valid_from", sa.Date, nullable=False),
    sa.Column("valid_to", sa.Date),
    sa.Column("correlation_id", PackedCorrelationId),
)

dcc_access_log = sa.Table(
    "dcc_access_log",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
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

meter_reading = sa.Table(
    "meter_reading",
    metadata,
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

settlement_submission = sa.Table(
    "settlement_submission",
    metadata,
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
