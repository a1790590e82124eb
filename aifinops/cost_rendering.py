"""Renders a cost Estimate: a table for the terminal, and a self-contained HTML page with SVG charts."""
from __future__ import annotations

import html
from collections import Counter
from typing import Any, Iterable, Optional

from aifinops.core.estimate import FREE, NEEDS_USAGE, UNPRICED, Estimate, ResourceCost
from aifinops.core.estimate.compare import ADDED, REMOVED, diff_percent
from aifinops.core.estimate.infracost_json import parse_amount

from .preview_output import display_type

NAIVE_MEANING = "all on-demand, everything in S3 Standard, no lifecycle, no cold backups"


def usd(value: float) -> str:
    return f"-${-value:,.2f}" if value < 0 else f"${value:,.2f}"


def unit_usd(value: float) -> str:
    """A unit price with the digits it needs: $0.30, $1.006, $0.00099 (a discount line's as -$0.4024)."""
    text = f"{abs(value):,.6f}".rstrip("0")
    whole, _, decimals = text.partition(".")
    return f"{'-' if value < 0 else ''}${whole}.{decimals.ljust(2, '0')}"


def quantity(value: float) -> str:
    """Two decimals, or enough significant digits for small usage (0.0001 million requests)."""
    return f"{value:,.2f}" if value >= 1 or value == 0 else f"{value:.3g}"


def _source_numbers(estimate: Estimate) -> dict[tuple[str, str], int]:
    return {source: index + 1 for index, source in enumerate(estimate.sources())}


def _grouped(estimate: Estimate) -> dict[str, list[ResourceCost]]:
    groups: dict[str, list[ResourceCost]] = {}
    for resource in estimate.priced:
        groups.setdefault(resource.component, []).append(resource)
    order = [c.name for c in estimate.by_component()]
    return {name: groups[name] for name in order}


def render_table(estimate: Estimate, show_assumptions: bool = True) -> str:
    numbers = _source_numbers(estimate)
    rows: list[tuple[str, str, str, str, str, str]] = []
    components = {c.name: c for c in estimate.by_component()}
    for component, resources in _grouped(estimate).items():
        summary = components[component]
        label = f"{component} ({summary.type})" if summary.type else component
        rows.append((label, "", "", usd(summary.monthly_usd), usd(summary.naive_monthly_usd), ""))
        for resource in resources:
            rows.append((f"  {display_type(resource.type)} {resource.name}", "", "", usd(resource.monthly_usd),
                         usd(resource.naive_monthly_usd), ""))
            for line in resource.lines:
                rows.append((f"    {line.description}", f"{quantity(line.quantity)} {line.unit}", unit_usd(line.unit_usd),
                             usd(line.monthly_usd), "", f"[{numbers[(line.source, line.as_of)]}]"))
                if show_assumptions and line.assumption:
                    rows.append((f"      ({line.assumption})", "", "", "", "", ""))
    headers = ("Component / resource / line", "Quantity", "Unit price", "Monthly", "Naive", "Src")
    # Assumption rows may be long: they do not set the first column's width.
    width0 = max([len(headers[0])] + [len(r[0]) for r in rows if not r[0].lstrip().startswith("(")])
    widths = [width0] + [max([len(headers[i])] + [len(r[i]) for r in rows]) for i in range(1, 6)]

    def fmt(row: tuple[str, ...]) -> str:
        if row[0].lstrip().startswith("(") and not any(row[1:]):
            return " " + row[0]
        return " " + "  ".join([row[0].ljust(widths[0]), row[1].rjust(widths[1]), row[2].rjust(widths[2]),
                                row[3].rjust(widths[3]), row[4].rjust(widths[4]), row[5].ljust(widths[5])]).rstrip()

    total_width = sum(widths) + 11
    lines = [f"Monthly cost estimate for stack {estimate.stack} (USD, {estimate.region})", "", fmt(headers),
             " " + "-" * total_width]
    lines += [fmt(row) for row in rows]
    lines += [" " + "-" * total_width,
              fmt(("Total (priced resources)", "", "", usd(estimate.monthly_usd), usd(estimate.naive_monthly_usd), "")),
              "", *summary_lines(estimate), "", "Sources:"]
    lines += [f"  [{n}] {source}, as of {as_of}" for (source, as_of), n in numbers.items()]
    return "\n".join(lines)


def summary_lines(estimate: Estimate) -> list[str]:
    """Savings, per-tag totals, and what was not priced: the part `aifinops preview` also prints."""
    lines = [f"Monthly estimate: {usd(estimate.monthly_usd)}; naive equivalent ({NAIVE_MEANING}): "
             f"{usd(estimate.naive_monthly_usd)}",
             f"Savings vs naive: {usd(estimate.savings_usd)} a month ({estimate.savings_percent:.1f}%)"]
    lines += range_lines(estimate)
    for key in estimate.cost_tag_keys:
        totals = estimate.by_tag(key)
        if totals:
            lines.append(f"By {key}: " + ", ".join(f"{value} {usd(total)}" for value, total in totals.items()))
    needs = estimate.with_status(NEEDS_USAGE)
    if needs:
        lines.append(f"Needs usage ({len(needs)}, not in the total):")
        lines += [f"  {display_type(r.type)} {r.name}: {r.note}" for r in needs]
    missing = estimate.with_status(UNPRICED)
    if missing:
        lines.append(f"Unpriced ({len(missing)}, not in the total):")
        lines += [f"  {display_type(r.type)} {r.name}: {r.note}" for r in missing]
    noted = [r for r in estimate.priced if r.note]
    if noted:
        lines.append("Partly priced:")
        lines += [f"  {display_type(r.type)} {r.name}: {r.note}" for r in noted]
    free = estimate.with_status(FREE)
    if free:
        counts = Counter(display_type(r.type) for r in free)
        lines.append(f"No charge ({len(free)}): " + ", ".join(f"{t} x{n}" for t, n in sorted(counts.items())))
    lines += [f"Warning: {w}" for w in estimate.warnings]
    if estimate.usage_source:
        lines.append(f"Usage: {estimate.usage_source}")
    return lines


def range_lines(estimate: Estimate) -> list[str]:
    """The figure at maximum scale, when some group can grow past its desired size."""
    ranged = [r for r in estimate.priced if r.has_range]
    lines = []
    if ranged:
        lines.append(f"At maximum scale: {usd(estimate.max_monthly_usd)} a month ({len(ranged)} scalable group"
                     f"{'s' if len(ranged) != 1 else ''} at their maximum: "
                     + ", ".join(f"{r.name} {usd(r.monthly_usd)} to {usd(r.max_monthly_usd)}" for r in ranged) + ")")
    if estimate.unbounded:
        lines.append("No maximum (nothing caps how far these scale): "
                     + ", ".join(f"{display_type(r.type)} {r.name}" for r in estimate.unbounded))
    return lines


def signed_usd(value: float) -> str:
    return f"+{usd(value)}" if value > 0 else usd(value)


def change_sentence(document: dict[str, Any]) -> str:
    """'Monthly cost will increase by $734.38 (+12.5%)', from a compared estimate document."""
    diff = parse_amount(document.get("diffTotalMonthlyCost")) or 0.0
    percent: Optional[float] = diff_percent(document)
    if abs(diff) < 0.005:
        return "Monthly cost will not change"
    share = f" ({percent:+.1f}%)" if percent is not None else ""
    verb = "increase" if diff > 0 else "decrease"
    return f"Monthly cost will {verb} by {usd(abs(diff))}{share}"


def change_lines(document: dict[str, Any]) -> list[str]:
    """The comparison against the baseline: the sentence, the totals, then each changed resource."""
    past = parse_amount(document.get("pastTotalMonthlyCost")) or 0.0
    now = parse_amount(document.get("totalMonthlyCost")) or 0.0
    lines = [f"{change_sentence(document)}: {usd(past)} -> {usd(now)} a month"]
    marks = {ADDED: "+", REMOVED: "-"}
    for project in document.get("projects", []):
        for entry in (project.get("diff") or {}).get("resources", []):
            lines.append(f"  {marks.get(entry['change'], '~')} {display_type(entry['resourceType'])} {entry['name']}: "
                         f"{usd(parse_amount(entry['pastMonthlyCost']) or 0)} -> "
                         f"{usd(parse_amount(entry['newMonthlyCost']) or 0)} "
                         f"({signed_usd(parse_amount(entry['monthlyCost']) or 0)})")
            for component in entry["costComponents"]:
                lines.append(f"      {marks.get(component['change'], '~')} {component['name']}: "
                             f"{signed_usd(parse_amount(component['monthlyCost']) or 0)}")
    return lines


# -- HTML -------------------------------------------------------------------------------------------
PALETTE = ("#2f6fde", "#e8833a", "#3aa67a", "#c94f7c", "#8a63d2", "#d4b13f", "#4fb3c9", "#7f7f7f")
NAIVE_COLOUR, WRITTEN_COLOUR = "#b8bfc9", "#2f6fde"


def bar_chart(chart_id: str, title: str, rows: list[tuple[str, float]], colour_by_row: bool = True) -> str:
    """A horizontal bar chart as inline SVG, one bar per (label, USD)."""
    bar, gap, label_width, chart_width = 22, 8, 220, 460
    top = max((value for _, value in rows), default=0.0) or 1.0
    height = len(rows) * (bar + gap) + 10
    parts = [f'<figure class="chart" id="{chart_id}"><figcaption>{html.escape(title)}</figcaption>',
             f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_width + chart_width + 120}" height="{height}" '
             f'role="img" aria-label="{html.escape(title)}">']
    for index, (label, value) in enumerate(rows):
        y = index * (bar + gap) + 5
        width = max(1.0, chart_width * value / top) if value > 0 else 0.0
        colour = PALETTE[index % len(PALETTE)] if colour_by_row else WRITTEN_COLOUR
        parts.append(f'<text x="{label_width - 8}" y="{y + bar * 0.7:.1f}" text-anchor="end">{html.escape(label[:34])}</text>'
                     f'<rect class="bar" x="{label_width}" y="{y}" width="{width:.1f}" height="{bar}" fill="{colour}">'
                     f'<title>{html.escape(label)}: {usd(value)}</title></rect>'
                     f'<text x="{label_width + width + 6:.1f}" y="{y + bar * 0.7:.1f}">{usd(value)}</text>')
    parts.append("</svg></figure>")
    return "".join(parts)


def _naive_chart(estimate: Estimate) -> str:
    """Naive against as-written, in total and per component: paired bars."""
    rows = [("Total", estimate.naive_monthly_usd, estimate.monthly_usd)]
    rows += [(c.name, c.naive_monthly_usd, c.monthly_usd) for c in estimate.by_component()]
    bar, gap, label_width, chart_width = 16, 14, 220, 460
    top = max([max(n, w) for _, n, w in rows] + [1.0])
    height = len(rows) * (2 * bar + gap) + 40
    parts = ['<figure class="chart" id="chart-naive"><figcaption>Naive equivalent against as written '
             f'(savings {usd(estimate.savings_usd)}, {estimate.savings_percent:.1f}%)</figcaption>',
             f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_width + chart_width + 120}" height="{height}" '
             'role="img" aria-label="naive against as written">',
             f'<rect x="{label_width}" y="4" width="12" height="12" fill="{NAIVE_COLOUR}"/>'
             f'<text x="{label_width + 18}" y="15">naive ({html.escape(NAIVE_MEANING)})</text>'
             f'<rect x="{label_width}" y="22" width="12" height="12" fill="{WRITTEN_COLOUR}"/>'
             f'<text x="{label_width + 18}" y="33">as written</text>']
    for index, (label, naive, written) in enumerate(rows):
        y = 40 + index * (2 * bar + gap)
        parts.append(f'<text x="{label_width - 8}" y="{y + bar + 4}" text-anchor="end">{html.escape(label[:34])}</text>')
        for offset, value, colour, kind in ((0, naive, NAIVE_COLOUR, "naive"), (bar, written, WRITTEN_COLOUR, "as written")):
            width = max(1.0, chart_width * value / top) if value > 0 else 0.0
            parts.append(f'<rect class="bar" x="{label_width}" y="{y + offset}" width="{width:.1f}" height="{bar - 2}" '
                         f'fill="{colour}"><title>{html.escape(label)} {kind}: {usd(value)}</title></rect>'
                         f'<text x="{label_width + width + 6:.1f}" y="{y + offset + bar - 5}">{usd(value)}</text>')
    parts.append("</svg></figure>")
    return "".join(parts)


STYLE = """
body{font:14px/1.4 system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px;color:#1d2330;background:#fff}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px}
.totals{display:flex;gap:24px;margin:16px 0}.totals div{background:#f2f5fa;padding:10px 16px;border-radius:6px}
.totals b{display:block;font-size:20px} .charts{display:flex;flex-wrap:wrap;gap:24px}
figure.chart{margin:0;border:1px solid #e1e5ec;border-radius:6px;padding:10px}
figcaption{font-weight:600;margin-bottom:6px} svg text{font-size:12px;fill:#1d2330}
table{border-collapse:collapse;width:100%;font-size:13px} td,th{padding:4px 8px;border-bottom:1px solid #eceff4;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap} tr.res td{font-weight:600;background:#f8f9fb}
.note{color:#5b6475;font-size:12px} .warn{color:#a2551b}
"""

# Marks the page once the browser has laid the charts out: tests read it back from the DOM.
RENDER_CHECK = """
window.addEventListener('load', function () {
  var bars = document.querySelectorAll('svg rect.bar'), drawn = 0;
  bars.forEach(function (b) { if (b.getBBox().width > 0) drawn++; });
  document.body.setAttribute('data-charts', document.querySelectorAll('figure.chart svg').length);
  document.body.setAttribute('data-bars-drawn', drawn);
});
"""


def render_html(estimate: Estimate) -> str:
    numbers = _source_numbers(estimate)
    esc = html.escape
    charts = [_naive_chart(estimate),
              bar_chart("chart-component", "Monthly cost by component",
                         [(c.name, c.monthly_usd) for c in estimate.by_component()])]
    for key in estimate.cost_tag_keys:
        totals = estimate.by_tag(key)
        if totals:
            charts.append(bar_chart(f"chart-tag-{esc(key)}", f"Monthly cost by {key}", list(totals.items())))
    rows = []
    for component, resources in _grouped(estimate).items():
        for resource in resources:
            rows.append(f'<tr class="res"><td>{esc(component)}</td><td>{esc(display_type(resource.type))} '
                        f'{esc(resource.name)}</td><td></td><td></td><td class="n">{usd(resource.monthly_usd)}</td>'
                        f'<td class="n">{usd(resource.naive_monthly_usd)}</td><td></td></tr>')
            for line in resource.lines:
                rows.append(f'<tr><td></td><td>{esc(line.description)}<div class="note">{esc(line.assumption)}</div>'
                            f'</td><td class="n">{quantity(line.quantity)} {esc(line.unit)}</td>'
                            f'<td class="n">{unit_usd(line.unit_usd)}</td><td class="n">{usd(line.monthly_usd)}</td>'
                            f'<td></td><td>[{numbers[(line.source, line.as_of)]}]</td></tr>')
    listed = _listed_html(estimate.with_status(NEEDS_USAGE), "Needs usage (not in the total)")
    listed += _listed_html(estimate.with_status(UNPRICED), "Unpriced (not in the total)")
    warnings = "".join(f'<p class="warn">Warning: {esc(w)}</p>' for w in estimate.warnings)
    sources = "".join(f"<li>[{n}] {esc(source)}, as of {esc(as_of)}</li>" for (source, as_of), n in numbers.items())
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Cost estimate: {esc(estimate.stack)}</title>
<style>{STYLE}</style></head>
<body>
<h1>Monthly cost estimate: {esc(estimate.stack)}</h1>
<div class="note">USD, {esc(estimate.region)} list prices; generated offline by aifinops</div>
<div class="totals"><div>As written<b id="total">{usd(estimate.monthly_usd)}</b></div>
<div>Naive equivalent<b id="naive">{usd(estimate.naive_monthly_usd)}</b></div>
<div>Savings<b id="savings">{usd(estimate.savings_usd)} ({estimate.savings_percent:.1f}%)</b></div></div>
{warnings}
<div class="charts">{''.join(charts)}</div>
<h2>Price lines</h2>
<table><thead><tr><th>Component</th><th>Resource / line</th><th>Quantity</th><th>Unit price</th><th>Monthly</th>
<th>Naive</th><th>Source</th></tr></thead><tbody>{''.join(rows)}</tbody></table>
{listed}
<h2>Sources</h2><ul>{sources}</ul>
<script>{RENDER_CHECK}</script>
</body></html>
"""


def _listed_html(resources: Iterable[ResourceCost], title: str) -> str:
    items = "".join(f"<li>{html.escape(display_type(r.type))} {html.escape(r.name)}: {html.escape(r.note)}</li>"
                    for r in resources)
    return f"<h2>{html.escape(title)}</h2><ul>{items}</ul>" if items else ""
