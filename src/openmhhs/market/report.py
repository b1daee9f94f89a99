"""The main job's report: one self-contained HTML file (inline CSS and SVG, no scripts, no
network) that a participant can open or send: the ISD translation table, each
organisation's roles, a diagram of the model, per-MPAN timelines, the message sequence of
one appointment, and charts of outcomes and volumes."""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import date, timedelta

from openmhhs.days import format_dip_datetime
from openmhhs.market.description import MODELS
from openmhhs.market.summary import Summary

__all__ = ["MDR_CHANGE", "SECTIONS", "outcome_totals", "render_report"]

MDR_CHANGE = "MDR change "
"""The prefix of an SDS-led MDR change's outcome code (``market.driver.outcome_counts``)."""

SECTIONS = (
    ("summary", "Summary", "#1b5e20"),
    ("isd", "ISD ID look-up table (M16)", "#0d47a1"),
    ("organisations", "Organisations and their roles", "#4a148c"),
    ("model", "The implementation model", "#b71c1c"),
    ("appointments", "Appointments by model, SDS and MDR", "#e65100"),
    ("outcomes", "Outcomes by code", "#006064"),
    ("volumes", "Message volumes", "#33691e"),
    ("timelines", "Timelines of sample MPANs", "#3e2723"),
    ("sequence", "The messages of one appointment", "#263238"),
    ("completeness", "Settlement data completeness", "#880e4f"),
    ("consumption", "Half-hourly consumption of sample MPANs", "#01579b"),
)
"""(anchor, title, marker colour): every section starts with a bar of its colour."""

PALETTE = [
    "#1976d2",
    "#388e3c",
    "#f57c00",
    "#7b1fa2",
    "#c2185b",
    "#0097a7",
    "#5d4037",
    "#455a64",
    "#fbc02d",
    "#512da8",
]

CSS = """
body{font-family:'DejaVu Sans',Arial,sans-serif;margin:0;color:#212121;background:#fafafa}
header{background:#102a43;color:#fff;padding:24px 32px}
header h1{margin:0 0 6px;font-size:26px}
header p{margin:4px 0;max-width:1000px}
main{padding:8px 32px 40px}
section{background:#fff;margin:22px 0;padding:0 20px 16px;border:1px solid #e0e0e0;border-radius:4px}
.marker{height:14px;margin:0 -20px 10px;border-radius:4px 4px 0 0}
h2{font-size:20px;margin:6px 0 12px}
table{border-collapse:collapse;font-size:13px;margin:6px 0}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f1f1f1}
.kpi{display:inline-block;margin:6px 18px 6px 0;padding:8px 14px;background:#e8f5e9;border-radius:4px}
.kpi b{display:block;font-size:22px}
.bad{background:#ffebee}
.note{color:#555;font-size:13px}
svg text{font-family:'DejaVu Sans',Arial,sans-serif}
"""


def _e(value: object) -> str:
    return html.escape(str(value))


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _bars(items: Sequence[tuple[str, int]], *, width: int = 760, unit: str = "") -> str:
    """A horizontal bar chart as SVG."""
    if not items:
        return '<p class="note">Nothing to chart.</p>'
    top = max(v for _, v in items) or 1
    label_w, row_h = 300, 24
    height = row_h * len(items) + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">']
    for i, (label, value) in enumerate(items):
        y = 5 + i * row_h
        w = max(2, int((width - label_w - 90) * value / top))
        colour = PALETTE[i % len(PALETTE)]
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 16}" font-size="12" text-anchor="end">{_e(label)}</text>'
        )
        parts.append(f'<rect x="{label_w}" y="{y + 3}" width="{w}" height="{row_h - 8}" fill="{colour}"/>')
        parts.append(f'<text x="{label_w + w + 6}" y="{y + 16}" font-size="12">{value:,}{unit}</text>')
    parts.append("</svg>")
    return "".join(parts)


def outcome_totals(summary: Summary) -> tuple[int, int]:
    """(appointment requests, SDS-led MDR changes) as the outcomes count them: every IF-031
    (DS and MS, including a Supplier-led change of MDR, scenario USP) has one outcome; so has
    every IF-034 [SDS-MDRUpdate] (counted as "MDR change …")."""
    changes = sum(n for code, n in summary.outcomes.items() if code.startswith(MDR_CHANGE))
    return sum(summary.outcomes.values()) - changes, changes


def _section(anchor: str, body: str) -> str:
    title, colour = next((t, c) for a, t, c in SECTIONS if a == anchor)
    return (
        f'<section id="{anchor}"><div class="marker" style="background:{colour}"></div>'
        f"<h2>{_e(title)}</h2>{body}</section>"
    )


def _summary(summary: Summary) -> str:
    run = summary.run
    requests, mdr_changes = outcome_totals(summary)
    kpis = [
        ("MPANs", f"{run.mpans:,}"),
        ("appointment requests (IF-031)", f"{requests:,}"),
        ("SDS-led MDR changes (IF-034)", f"{mdr_changes:,}"),
        ("IF-031 requests / s", f"{run.appointments_per_second:,.0f}"),
        ("messages", f"{run.messages:,}"),
        ("gaps on the last day", f"{len(summary.gaps_end)}"),
        ("failed deliveries", f"{run.failed}"),
    ]
    boxes = "".join(
        f'<div class="kpi{" bad" if (k.startswith("gaps") and v != "0") or (k.startswith("failed") and v != "0") else ""}">'
        f"<b>{_e(v)}</b>{_e(k)}</div>"
        for k, v in kpis
    )
    cases = _table(
        ["SDS decision case", "MPAN", "expected", "outcome(s)", "as expected"],
        [
            (
                c.name,
                c.mpan or "-",
                c.expected,
                " then ".join(c.codes) or c.note,
                "yes" if c.passed else ("-" if not c.codes else "NO"),
            )
            for c in run.cases
        ],
    )
    changes = _table(
        ["change", "MPANs"],
        [
            ("Supplier-led MDR changes (IF-031 USP)", len(run.supplier_led_mdr_changes)),
            ("SDS-led MDR changes (IF-034 [SDS-MDRUpdate])", len(run.sds_led_mdr_changes)),
            ("Changes of supplier (COS)", len(run.changes_of_supplier)),
        ],
    )
    period = f"{run.start.isoformat()} to {run.end.isoformat()}"
    return (
        f"<p>Market days {period}. Every MPAN must have a Data Service with an MDR and a Metering "
        f"Service on every day: gaps on the first day {len(summary.gaps_start)}, on the last "
        f"{len(summary.gaps_end)}.</p>{boxes}<h3>The SDS's four decision cases</h3>{cases}"
        f"<h3>Changes during the run</h3>{changes}"
    )


def _isd(summary: Summary) -> str:
    rows = [
        (
            f"{e.company_name} ({e.company_number})",
            e.dip_id or "-",
            e.dip_role,
            e.mpid,
            e.market_role or "-",
            format_dip_datetime(e.valid.start),
            format_dip_datetime(e.valid.end) if e.valid.end else "open",
        )
        for e in sorted(summary.isd, key=lambda e: (e.company_number, e.dip_role))
    ]
    return _table(["Company", "DIP ID", "DIP role", "MPID", "DTN role", "From", "To"], rows)


def _organisations(summary: Summary) -> str:
    rows = []
    for org in summary.registry.organisations:
        registrations = summary.registry.registrations(org.company_number)
        roles = ", ".join(f"{r.dip_role} ({r.dip_role.role_name})" for r in registrations)
        dip_ids = ", ".join(sorted({str(r.dip_id) for r in registrations if r.dip_id}))
        rows.append(
            (
                org.name,
                dip_ids,
                roles,
                org.sec.value,
                ", ".join(sorted(r.value for r in org.dcc_user_roles)) or "-",
            )
        )
    return _table(["Organisation", "DIP ID", "DIP roles", "SEC", "DCC user roles"], rows)


def _model_diagram(summary: Summary) -> str:
    market = summary.market
    plans = market.suppliers
    routes: list[tuple[str, str, str, str, float, str]] = []
    for plan in plans:
        for group in plan.groups:
            mdr = group.route.mdr
            if mdr is None:
                contract = next(
                    (
                        c
                        for c in market.contracts
                        if c.sds == group.route.sds
                        and c.supplier == plan.supplier
                        and (group.route.contract in (None, c.reference))
                    ),
                    None,
                )
                mdr = contract.default_mdr if contract else None
            routes.append(
                (
                    market.label(plan.supplier),
                    group.name,
                    market.label(group.route.sds),
                    market.label(mdr),
                    group.share,
                    group.model or market.model,
                )
            )
    suppliers = list(dict.fromkeys(r[0] for r in routes))
    sdss = list(dict.fromkeys(r[2] for r in routes))
    mdrs = list(dict.fromkeys(r[3] for r in routes))
    col_x = {"sup": 30, "sds": 380, "mdr": 700}
    box_w, box_h, gap = 210, 54, 26
    height = max(len(routes), len(suppliers), len(sdss), len(mdrs)) * (box_h + gap) + 90

    def y_of(items: list[str], item: str) -> int:
        return 60 + items.index(item) * (box_h + gap)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="960" height="{height}" role="img">',
        '<defs><marker id="arrow" markerWidth="10" markerHeight="10" refX="9" refY="3" orient="auto">'
        '<path d="M0,0 L9,3 L0,6 z" fill="#555"/></marker></defs>',
    ]
    for label, x in (
        ("Supplier", col_x["sup"]),
        ("Smart Data Service", col_x["sds"]),
        ("Meter Data Retriever", col_x["mdr"]),
    ):
        parts.append(f'<text x="{x}" y="30" font-size="15" font-weight="bold">{label}</text>')

    def box(x: int, y: int, label: str, colour: str) -> None:
        party = next((p for p in market.parties if p.mpid == label), None)
        name = party.name if party else label
        parts.append(
            f'<rect x="{x}" y="{y}" width="{box_w}" height="{box_h}" rx="6" fill="{colour}" opacity="0.9"/>'
        )
        parts.append(
            f'<text x="{x + 10}" y="{y + 22}" font-size="15" fill="#fff" font-weight="bold">{_e(label)}</text>'
        )
        parts.append(f'<text x="{x + 10}" y="{y + 42}" font-size="11" fill="#fff">{_e(name[:32])}</text>')

    for item in suppliers:
        box(col_x["sup"], y_of(suppliers, item), item, "#1565c0")
    for item in sdss:
        box(col_x["sds"], y_of(sdss, item), item, "#2e7d32")
    for item in mdrs:
        box(col_x["mdr"], y_of(mdrs, item), item, "#ef6c00")
    for i, (sup, group_name, sds_label, mdr_label, share, model) in enumerate(routes):
        colour = PALETTE[i % len(PALETTE)]
        y1, y2, y3 = (
            y_of(suppliers, sup) + box_h // 2,
            y_of(sdss, sds_label) + box_h // 2,
            y_of(mdrs, mdr_label) + box_h // 2,
        )
        offset = (i % 3) * 6 - 6
        parts.append(
            f'<line x1="{col_x["sup"] + box_w}" y1="{y1 + offset}" x2="{col_x["sds"]}" y2="{y2 + offset}" stroke="{colour}" stroke-width="2.5" marker-end="url(#arrow)"/>'
        )
        parts.append(
            f'<line x1="{col_x["sds"] + box_w}" y1="{y2 + offset}" x2="{col_x["mdr"]}" y2="{y3 + offset}" stroke="{colour}" stroke-width="2.5" marker-end="url(#arrow)"/>'
        )
        label_y = height - 20 - (len(routes) - 1 - i) * 18
        parts.append(f'<rect x="{col_x["sup"]}" y="{label_y - 11}" width="12" height="12" fill="{colour}"/>')
        parts.append(
            f'<text x="{col_x["sup"] + 18}" y="{label_y}" font-size="12">{_e(sup)} · {_e(group_name)} ({share:.0%}, model {model}): SDS {_e(sds_label)}, MDR {_e(mdr_label)}</text>'
        )
    parts.append("</svg>")
    legend = "; ".join(f"<b>{k}</b> {v}" for k, v in MODELS.items())
    return (
        f"<p><b>{_e(market.model)}</b>: {_e(MODELS.get(market.model, ''))}. {_e(market.description)}</p>"
        + "".join(parts)
        + f'<p class="note">{legend}.</p>'
    )


def _appointments(summary: Summary) -> str:
    rows = [
        (m, g, summary.market.label(sds), summary.market.label(mdr), n)
        for m, g, sds, mdr, n in summary.by_model
    ]
    chart = _bars([(f"{m} · {g} · {sds} / {mdr}", n) for m, g, sds, mdr, n in rows])
    return (
        f"<p>Data Service arrangements holding on {summary.run.end.isoformat()}.</p>"
        + _table(["model", "brand / customer type", "SDS", "MDR", "MPANs"], rows)
        + chart
    )


def _outcomes(summary: Summary) -> str:
    items = sorted(summary.outcomes.items(), key=lambda kv: (-kv[1], kv[0]))
    requests, mdr_changes = outcome_totals(summary)
    return (
        f"<p>The final code of each of the {requests:,} appointment requests (IF-031, Data and "
        f"Metering Service, including Supplier-led changes of MDR) and of each of the "
        f'{mdr_changes:,} SDS-led MDR changes (IF-034 [SDS-MDRUpdate], shown as "MDR change …"): '
        f"{requests + mdr_changes:,} in all.</p>"
        + _bars(items)
        + '<p class="note">SP000: accepted. DS001: the SDS refused the MDR arrangement. REGxxxx: refused by the Registration Service.</p>'
    )


def _volumes(summary: Summary) -> str:
    return _bars([(f"{i} {e}", n) for i, e, n in summary.volumes])


def _timelines(summary: Summary) -> str:
    if not summary.timelines:
        return '<p class="note">No sample MPANs.</p>'
    start = summary.run.start - timedelta(days=2)
    end = summary.run.end + timedelta(days=3)
    days = (end - start).days
    left, width, lane_h = 170, 760, 26
    scale = width / days

    def x(day: date) -> float:
        return left + max(0, (day - start).days) * scale

    parts_all: list[str] = []
    colours: dict[str, str] = {}
    for core, rows in summary.timelines.items():
        current = [(r, retired) for r, retired in rows if not retired]
        lanes = [
            ("DS", [r for r, _ in current if r.service.value == "DS"]),
            ("MS", [r for r, _ in current if r.service.value == "MS"]),
        ]
        height = lane_h * 2 + 34
        parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 20}" height="{height}" role="img">'
        ]
        parts.append(f'<text x="4" y="16" font-size="13" font-weight="bold">{_e(core)}</text>')
        for lane_index, (service, lane_rows) in enumerate(lanes):
            y = 22 + lane_index * lane_h
            parts.append(
                f'<text x="{left - 8}" y="{y + 17}" font-size="12" text-anchor="end">{service}</text>'
            )
            parts.append(
                f'<rect x="{left}" y="{y + 2}" width="{width}" height="{lane_h - 4}" fill="#f5f5f5"/>'
            )
            for row in lane_rows:
                x1 = x(row.period.start)
                x2 = x(row.period.end) if row.period.end else left + width
                key = f"{row.provider_mpid}/{row.mdr_mpid or ''}"
                colour = colours.setdefault(key, PALETTE[len(colours) % len(PALETTE)])
                parts.append(
                    f'<rect x="{x1:.1f}" y="{y + 3}" width="{max(2.0, x2 - x1):.1f}" height="{lane_h - 6}" fill="{colour}"/>'
                )
                label = (
                    f"SDS {row.provider_mpid} · MDR {row.mdr_mpid}"
                    if row.mdr_mpid
                    else f"MS {row.provider_mpid}"
                )
                parts.append(
                    f'<text x="{x1 + 4:.1f}" y="{y + 17}" font-size="11" fill="#fff">{_e(label)} from {row.period.start.isoformat()}</text>'
                )
        retired = sum(1 for _, r in rows if r)
        parts.append(
            f'<text x="{left}" y="{height - 2}" font-size="10" fill="#666">{start.isoformat()} … {end.isoformat()} · {retired} earlier row(s) retired by later changes</text>'
        )
        parts.append("</svg>")
        parts_all.append("".join(parts))
    return (
        "<p>Current Data Service (with MDR) and Metering Service periods; a change retires a row and "
        "succeeds it.</p>" + "".join(parts_all)
    )


def _sequence(summary: Summary) -> str:
    messages = summary.sequence
    if not messages:
        return '<p class="note">No appointment exchange to show.</p>'
    market = summary.market
    lanes: list[str] = []
    for stored in messages:
        for dip_id in [stored.sender, *summary.sequence_recipients.get(stored.id, [])]:
            if dip_id not in lanes:
                lanes.append(dip_id)
    lane_x = {dip_id: 90 + i * 170 for i, dip_id in enumerate(lanes)}
    row_h = 34
    height = 70 + row_h * sum(max(1, len(summary.sequence_recipients.get(m.id, []))) for m in messages) + 20
    width = 90 + 170 * len(lanes)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">',
        '<defs><marker id="head" markerWidth="10" markerHeight="10" refX="9" refY="3" orient="auto"><path d="M0,0 L9,3 L0,6 z" fill="#333"/></marker></defs>',
    ]
    for dip_id, lx in lane_x.items():
        party = market.party(dip_id)
        label = party.mpid if party else dip_id
        role = ", ".join(str(r.role) for r in party.roles) if party else ""
        parts.append(f'<rect x="{lx - 60}" y="8" width="120" height="38" rx="5" fill="#37474f"/>')
        parts.append(
            f'<text x="{lx}" y="25" font-size="13" fill="#fff" text-anchor="middle" font-weight="bold">{_e(label)}</text>'
        )
        parts.append(
            f'<text x="{lx}" y="40" font-size="10" fill="#fff" text-anchor="middle">{_e(role)}</text>'
        )
        parts.append(
            f'<line x1="{lx}" y1="46" x2="{lx}" y2="{height - 8}" stroke="#bbb" stroke-dasharray="4,3"/>'
        )
    y = 70
    for stored in messages:
        for recipient in summary.sequence_recipients.get(stored.id, []) or [stored.sender]:
            x1, x2 = lane_x[stored.sender], lane_x[recipient]
            if x1 == x2:
                x2 = x1 + 40
            parts.append(
                f'<line x1="{x1}" y1="{y}" x2="{x2}" y2="{y}" stroke="#333" stroke-width="1.6" marker-end="url(#head)"/>'
            )
            parts.append(
                f'<text x="{(x1 + x2) / 2}" y="{y - 6}" font-size="11" text-anchor="middle">{_e(stored.interface_id)} {_e(stored.event_code)}</text>'
            )
            y += row_h
    parts.append("</svg>")
    correlation = messages[0].correlation_id or ""
    shown = ", ".join(dict.fromkeys(f"{m.interface_id} {m.event_code}" for m in messages))
    deapp = (
        "with the outgoing SDS's de-appointment (IF-037, under its own correlation id)"
        if any(m.interface_id == "IF-037" for m in messages)
        else "(the incoming supplier kept the SDS, so no de-appointment, IF-037, was sent)"
    )
    return (
        f"<p>One change-of-supplier appointment, correlation id <code>{_e(correlation)}</code>, "
        f"{deapp}. In order: {_e(shown)}.</p>" + "".join(parts)
    )


def _completeness(summary: Summary) -> str:
    meter = summary.meter
    if meter is None or not meter.completeness:
        return '<p class="note">No meter data was run (openmhhs data run).</p>'
    width, row_h, label_w = 900, 26, 120
    height = row_h * len(meter.completeness) + 30
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">']
    bar_w = width - label_w - 320  # room for "100.00% actual (12,345,678 estimated)"
    for i, (day, actual, estimated) in enumerate(meter.completeness):
        y = 5 + i * row_h
        total = (actual + estimated) or 1
        a = int(bar_w * actual / total)
        parts.append(f'<text x="{label_w - 8}" y="{y + 16}" font-size="12" text-anchor="end">{day}</text>')
        parts.append(f'<rect x="{label_w}" y="{y + 3}" width="{a}" height="{row_h - 8}" fill="#2e7d32"/>')
        parts.append(
            f'<rect x="{label_w + a}" y="{y + 3}" width="{bar_w - a}" height="{row_h - 8}" fill="#f9a825"/>'
        )
        parts.append(
            f'<text x="{label_w + bar_w + 8}" y="{y + 16}" font-size="12">'
            f"{100 * actual / total:.2f}% actual ({estimated:,} estimated)</text>"
        )
    parts.append("</svg>")
    stats = meter.stats
    note = (
        f"<p>{stats.mpan_days:,} MPAN-days and {stats.periods:,} half-hours submitted in IF-021: "
        f"{stats.actual:,} actual (green), {stats.estimated:,} estimated (amber) at first submission; "
        f"{stats.amendments:,} amendments replaced estimates with late actual data; "
        f"{stats.refusals:,} DCC access refusals; {stats.unreachable:,} retrievals found the meter "
        f"unreachable. "
        "Bars show the latest submission of each day.</p>"
    )
    return note + "".join(parts)


def _consumption(summary: Summary) -> str:
    meter = summary.meter
    if meter is None or not meter.samples:
        return '<p class="note">No meter data was run.</p>'
    width, height, left, top = 900, 240, 70, 20
    series = {m: [v for _, values, _ in days for v in values] for m, days in meter.samples.items()}
    longest = max(len(v) for v in series.values()) or 1
    peak = max((max(v) for v in series.values() if v), default=1) or 1
    plot_w = width - left - 20
    legend_rows = (len(series) + 2) // 3
    total_h = top + height + 44 + 20 * legend_rows

    def x_of(index: int) -> float:
        return left + plot_w * index / max(1, longest - 1)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{total_h}" role="img">']
    parts.append(
        f'<line x1="{left}" y1="{top + height}" x2="{left + plot_w}" y2="{top + height}" stroke="#9e9e9e"/>'
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + height}" stroke="#9e9e9e"/>'
    )
    for fraction in (0, 0.5, 1):  # the value axis: kWh per half-hour
        y = top + height - height * fraction
        parts.append(
            f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end">{peak * fraction / 1000:.2f}</text>'
        )
    parts.append(
        f'<text x="14" y="{top + height / 2}" font-size="11" text-anchor="middle" '
        f'transform="rotate(-90 14 {top + height / 2})">kWh per half-hour</text>'
    )
    # the time axis: a tick at the start of each settlement day (46, 48 or 50 periods)
    first = next(iter(meter.samples.values()))
    offset = 0
    for day, values, _ in first:
        x = x_of(offset)
        parts.append(
            f'<line x1="{x:.1f}" y1="{top + height}" x2="{x:.1f}" y2="{top + height + 5}" stroke="#9e9e9e"/>'
        )
        parts.append(
            f'<text x="{x + 3:.1f}" y="{top + height + 17}" font-size="11">{day} (UK day, {len(values)} periods)</text>'
        )
        offset += len(values)
    for index, (mpan, values) in enumerate(series.items()):
        colour = PALETTE[index % len(PALETTE)]
        points = " ".join(
            f"{x_of(i):.1f},{top + height - height * v / peak:.1f}" for i, v in enumerate(values)
        )
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{points}"/>')
        lx, ly = left + 10 + 220 * (index % 3), top + height + 40 + 20 * (index // 3)
        parts.append(f'<rect x="{lx}" y="{ly - 10}" width="14" height="4" fill="{colour}"/>')
        parts.append(
            f'<text x="{lx + 20}" y="{ly - 4}" font-size="12" fill="{colour}">MPAN {_e(mpan)}</text>'
        )
    parts.append("</svg>")
    rows = [
        (mpan, str(day), len(values), f"{sum(values) / 1000:.3f}", estimated)
        for mpan, days in meter.samples.items()
        for day, values, estimated in days
    ]
    return "".join(parts) + _table(("MPAN", "settlement day", "periods", "kWh", "estimated periods"), rows)


def render_report(summary: Summary) -> str:
    market = summary.market
    body = "".join(
        [
            _section("summary", _summary(summary)),
            _section("isd", _isd(summary)),
            _section("organisations", _organisations(summary)),
            _section("model", _model_diagram(summary)),
            _section("appointments", _appointments(summary)),
            _section("outcomes", _outcomes(summary)),
            _section("volumes", _volumes(summary)),
            _section("timelines", _timelines(summary)),
            _section("sequence", _sequence(summary)),
            _section("completeness", _completeness(summary)),
            _section("consumption", _consumption(summary)),
        ]
    )
    nav = " · ".join(f'<a href="#{a}" style="color:#bcccdc">{_e(t)}</a>' for a, t, _ in SECTIONS)
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>openmhhs: {_e(market.name)}</title><style>{CSS}</style></head><body>"
        f"<header><h1>openmhhs · {_e(market.name)}</h1><p>{_e(market.description)}</p><p>{nav}</p></header>"
        f"<main>{body}</main></body></html>"
    )
