"""PostgreSQL at scale: the appointment table partitioned by hash of MPAN.

Every question the Registration Service asks of the table names one MPAN (its timeline, a row
to retire), so each touches one partition; the access list and counts scan them all, which
parallel workers can share. All rows of one MPAN live in one partition, so the invariant "one
SDS==MDR combination per MPAN and service on any day" is kept exactly by the same exclusion
constraint on each partition (PostgreSQL 15 cannot declare it on the partitioned parent). The
primary key becomes (id, mpan), as a partitioned table's unique keys must hold its partition key.

SQLite (the embedded default) is unchanged: one table, kept by its triggers.

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

PARTITIONS = 16

_COLUMNS = (
    "id, mpan, service, provider, provider_mpid, mdr, mdr_mpid, valid_from, valid_to, supplier, "
    "contract_reference, scenario, correlation_id, recorded_at, retired_at, retired_by"
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE appointment RENAME TO appointment_unpartitioned")
    op.execute("ALTER SEQUENCE appointment_id_seq RENAME TO appointment_unpartitioned_id_seq")
    op.execute("ALTER INDEX appointment_pkey RENAME TO appointment_unpartitioned_pkey")
    op.execute(
        """
        CREATE TABLE appointment (
            id BIGSERIAL NOT NULL,
            mpan VARCHAR(13) NOT NULL,
            service VARCHAR(2) NOT NULL,
            provider VARCHAR(10) NOT NULL,
            provider_mpid VARCHAR(4) NOT NULL,
            mdr VARCHAR(10),
            mdr_mpid VARCHAR(4),
            valid_from DATE NOT NULL,
            valid_to DATE,
            supplier VARCHAR(10) NOT NULL,
            contract_reference VARCHAR(50),
            scenario VARCHAR(3),
            correlation_id VARCHAR(60),
            recorded_at TIMESTAMP WITH TIME ZONE NOT NULL,
            retired_at TIMESTAMP WITH TIME ZONE,
            retired_by VARCHAR(60),
            CONSTRAINT appointment_pkey PRIMARY KEY (id, mpan),
            CONSTRAINT appointment_period_order CHECK (valid_to IS NULL OR valid_to >= valid_from),
            CONSTRAINT appointment_service CHECK (service IN ('DS', 'MS')),
            CONSTRAINT appointment_ds_has_mdr
                CHECK ((service = 'DS') = (mdr IS NOT NULL AND mdr_mpid IS NOT NULL))
        ) PARTITION BY HASH (mpan)
        """
    )
    for n in range(PARTITIONS):
        op.execute(
            f"CREATE TABLE appointment_p{n:02d} PARTITION OF appointment "
            f"FOR VALUES WITH (MODULUS {PARTITIONS}, REMAINDER {n})"
        )
    op.execute(f"INSERT INTO appointment ({_COLUMNS}) SELECT {_COLUMNS} FROM appointment_unpartitioned")
    op.execute(
        "SELECT setval('appointment_id_seq', GREATEST((SELECT COALESCE(MAX(id), 0) FROM appointment), 1))"
    )
    op.execute("DROP TABLE appointment_unpartitioned")
    for n in range(PARTITIONS):
        op.execute(
            f"ALTER TABLE appointment_p{n:02d} ADD CONSTRAINT appointment_p{n:02d}_one_arrangement_per_day "
            "EXCLUDE USING gist (mpan WITH =, service WITH =, daterange(valid_from, valid_to, '[)') WITH &&) "
            "WHERE (retired_at IS NULL)"
        )
    # Indexes on the parent are made on every partition.
    op.execute(
        "CREATE INDEX appointment_current ON appointment (mpan, service, valid_from) WHERE retired_at IS NULL"
    )
    op.execute("CREATE INDEX appointment_by_provider ON appointment (provider, service)")
    op.execute("CREATE INDEX appointment_by_correlation ON appointment (correlation_id)")


def downgrade() -> None:
    raise NotImplementedError("partitioning is not undone")
