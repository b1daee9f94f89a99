"""The main job's report: one self-contained HTML file (inline CSS, Chart.js and our chart
script from the package, no network) that a participant can open or send: the ISD
translation table, each organisation's roles, a diagram of the model, per-MPAN timelines,
the message sequence of one appointment, and charts of outcomes, volumes and meter data.

Rendered by the dashboard's templates (``web/templates/report.html``) with the same chart
library; every figure comes from the ``Summary`` read back from the database, and the text
says what each one counts."""

from __future__ import annotations

import html
from datetime import timedelta
from typing import Any

from markupsafe import Markup

from openmhhs.days import format_dip_datetime
from openmhhs.market.description import MODELS
from openmhhs.market.summary import Summary
from openmhhs.web.templating import asset, render

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


def _e(value: object) -> str:
    return html.escape(str(value))


def outcome_totals(summary: Summary) -> tuple[int, int]:
    """(appointment requests, SDS-led MDR changes) as the outcomes count them: every IF-031
    (DS and MS, including a Supplier-led change of MDR, scenario USP) has one outcome; so has
    every IF-034 [SDS-MDRUpdate] (counted as "MDR change …")."""
    changes = sum(n for code, n in summary.outcomes.items() if code.startswith(MDR_CHANGE))
    return sum(summary.outcomes.values()) - changes, changes


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
        parts.append(f'<text x="{x + 10}" y="{y + 42}" font-size="11" fill="#fff">{_e(name[:30])}</text>')

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


def _sequence(summary: Summary) -> str:
    messages = summary.sequence
    if not messages:
        return ""
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
    return "".join(parts)


def _bar(labels: list[str], values: list[int], *, label: str, horizontal: bool = False) -> dict[str, Any]:
    return {
        "type": "bar",
        "horizontal": horizontal,
        "labels": labels,
        "series": [{"label": label, "data": values}],
    }


def _charts(summary: Summary) -> dict[str, Any]:
    market = summary.market
    outcomes = sorted(summary.outcomes.items(), key=lambda kv: (-kv[1], kv[0]))
    charts: dict[str, Any] = {
        "appointments": _bar(
            [
                f"{m} · {g} · {market.label(sds)} / {market.label(mdr)}"
                for m, g, sds, mdr, _ in summary.by_model
            ],
            [n for *_, n in summary.by_model],
            label="MPANs",
            horizontal=True,
        ),
        "outcomes": _bar([c for c, _ in outcomes], [n for _, n in outcomes], label="outcomes"),
        "volumes": _bar(
            [f"{i} {e}" for i, e, _ in summary.volumes],
            [n for *_, n in summary.volumes],
            label="messages",
            horizontal=True,
        ),
    }
    for core, rows in summary.timelines.items():
        current = [r for r, retired in rows if not retired]
        charts[f"timeline-{core}"] = {
            "type": "timeline",
            "labels": ["DS", "MS"],
            "day": summary.run.end.isoformat(),
            "series": [
                {
                    "label": f"{r.service.value} {r.provider_mpid}"
                    + (f" · MDR {r.mdr_mpid}" if r.mdr_mpid else ""),
                    "service": r.service.value,
                    "from": r.period.start.isoformat(),
                    "to": r.period.end.isoformat() if r.period.end else None,
                }
                for r in sorted(current, key=lambda r: (r.period.start, r.service.value))
            ],
        }
    meter = summary.meter
    if meter is not None and meter.completeness:
        charts["completeness"] = {
            "type": "bar",
            "stacked": True,
            "labels": [d.isoformat() for d, _, _ in meter.completeness],
            "categoryTitle": "settlement day (UK)",
            "valueTitle": "half-hours (latest submission)",
            "series": [
                {"label": "actual", "data": [a for _, a, _ in meter.completeness], "colour": "#2e7d32"},
                {"label": "estimated", "data": [e for _, _, e in meter.completeness], "colour": "#f9a825"},
            ],
        }
    if meter is not None and meter.samples:
        first = next(iter(meter.samples.values()))
        labels = [
            f"{day} {_period_start(i, len(values))}" for day, values, _ in first for i in range(len(values))
        ]
        charts["consumption"] = {
            "type": "line",
            "labels": labels,
            "categoryTitle": "UK day and half-hour (settlement period start)",
            "valueTitle": "kWh per half-hour",
            "series": [
                {"label": f"MPAN {mpan}", "data": [v / 1000 for _, values, _ in days for v in values]}
                for mpan, days in meter.samples.items()
            ],
        }
    return charts


def _period_start(index: int, periods: int) -> str:
    """The clock time a settlement period starts on a day of ``periods`` periods (the clock
    change days have 46 or 50): periods count from local midnight in UTC half-hours."""
    minutes = index * 30
    if periods == 46 and minutes >= 60:  # spring: 01:00 local does not exist
        minutes += 60
    if periods == 50 and minutes >= 120:  # autumn: 01:00-02:00 local happens twice
        minutes -= 60
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def render_report(summary: Summary) -> str:
    market = summary.market
    run = summary.run
    requests, mdr_changes = outcome_totals(summary)
    timeline_rows = {
        core: sorted(rows, key=lambda pair: (pair[1], pair[0].period.start, pair[0].service.value))
        for core, rows in summary.timelines.items()
    }
    return render(
        "report.html",
        sections=SECTIONS,
        market=market,
        model_name=MODELS.get(market.model, ""),
        models=MODELS,
        run=run,
        summary=summary,
        requests=requests,
        mdr_changes=mdr_changes,
        isd=sorted(summary.isd, key=lambda e: (e.company_number, str(e.dip_role))),
        dip_time=format_dip_datetime,
        organisations=[
            (org, summary.registry.registrations(org.company_number))
            for org in summary.registry.organisations
        ],
        model_diagram=Markup(_model_diagram(summary)),
        sequence_diagram=Markup(_sequence(summary)),
        sequence_events=list(dict.fromkeys(f"{m.interface_id} {m.event_code}" for m in summary.sequence)),
        sequence_has_deapp=any(m.interface_id == "IF-037" for m in summary.sequence),
        timelines=timeline_rows,
        window=(run.start - timedelta(days=2), run.end + timedelta(days=3)),
        charts=_charts(summary),
        scripts=Markup(
            "<script>"
            + asset("chart.umd.min.js").decode()
            + "</script><script>"
            + asset("dashboard.js").decode()
            + "</script>"
        ),
    )
