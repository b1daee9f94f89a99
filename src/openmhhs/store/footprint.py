"""How many bytes of database each table takes, its indexes included: the "bytes per
appointment" figure of ``openmhhs bench`` and docs/scaling.md.

SQLite: the pages of each b-tree (``dbstat``; indexes counted with their table; free pages
left out). PostgreSQL: ``pg_total_relation_size`` (heap, indexes and TOAST), partitions counted
with their parent table.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

__all__ = ["MESSAGE_LOG_TABLES", "Footprint", "footprint", "table_bytes"]

MESSAGE_LOG_TABLES = ("message", "delivery", "delivery_attempt")
"""The message log: messages, their deliveries and the deliveries' retries."""

_SQLITE = sa.text(
    "SELECT coalesce(s.tbl_name, d.name) AS owner, sum(d.pgsize) AS size "
    "FROM dbstat AS d LEFT JOIN sqlite_schema AS s ON s.name = d.name "
    "GROUP BY owner"
)
_POSTGRESQL = sa.text(
    "SELECT coalesce(parent.relname, c.relname) AS owner, sum(pg_total_relation_size(c.oid)) AS size "
    "FROM pg_class AS c "
    "JOIN pg_namespace AS n ON n.oid = c.relnamespace AND n.nspname = current_schema() "
    "LEFT JOIN pg_inherits AS i ON i.inhrelid = c.oid "
    "LEFT JOIN pg_class AS parent ON parent.oid = i.inhparent "
    "WHERE c.relkind = 'r' "
    "GROUP BY owner"
)


def table_bytes(connection: Connection) -> dict[str, int]:
    """Bytes each table takes with its indexes, largest first."""
    query = _POSTGRESQL if connection.dialect.name == "postgresql" else _SQLITE
    sizes = {str(r.owner): int(r.size) for r in connection.execute(query)}
    return dict(sorted(sizes.items(), key=lambda item: (-item[1], item[0])))


@dataclass(frozen=True, slots=True)
class Footprint:
    """A database's bytes, per table and in all, and per appointment."""

    tables: dict[str, int]
    appointments: int

    @property
    def total(self) -> int:
        return sum(self.tables.values())

    @property
    def message_log(self) -> int:
        return sum(self.tables.get(t, 0) for t in MESSAGE_LOG_TABLES)

    def per_appointment(self, size: int) -> float:
        return size / self.appointments if self.appointments else 0.0

    def as_json(self) -> dict[str, object]:
        return {
            "appointments": self.appointments,
            "bytes": self.total,
            "bytes_per_appointment": round(self.per_appointment(self.total)),
            "message_log_bytes_per_appointment": round(self.per_appointment(self.message_log)),
            "tables_bytes_per_appointment": {
                name: round(self.per_appointment(size)) for name, size in self.tables.items()
            },
        }


def footprint(
    connection: Connection, *, appointments: int, before: dict[str, int] | None = None
) -> Footprint:
    """The bytes per table (grown since ``before``, a :func:`table_bytes` taken earlier, if
    given) beside ``appointments``, the appointments they hold."""
    now = table_bytes(connection)
    if before is not None:
        now = {name: size - before.get(name, 0) for name, size in now.items()}
    return Footprint(now, appointments)
