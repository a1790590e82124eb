"""The CUR report as a terminal table, Markdown (the weekly report) and an HTML dashboard with charts.

The dashboard is one self-contained page (inline SVG, no network): daily spend with the forecast and
its interval, cost per model version, cost per training run, untagged share, and the budget checks.
"""
from __future__ import annotations

import html


from .cost_rendering import PALETTE, RENDER_CHECK, STYLE, bar_chart, usd
from .cur_report import CurReport, spot_share, untagged_share

FORECAST_COLOUR, BAND_COLOUR = "#e8833a", "#f6d5bb"


def _rows(report: CurReport) -> dict[str, tuple[list[str], list[list[str]]]]:
    """Each section's header and rows, shared by the table and Markdown."""
    sections: dict[str, tuple[list[str], list[list[str]]]] = {
        "Cost by product": (["Product", "Cost"], [[p, usd(c)] for p, c in report.by_product().items()]),
        "Cost per model version": (["Model version", "Cost", "Training runs"],
                                   [[r["model_version"], usd(r["cost"]), str(r["training_runs"])]
                                    for r in report.by_model]),
        "Cost per training run": (["Training run", "Model version", "Cost", "GPU-hours", "Spot share"],
                                  [[r["training_run"], r["model_version"], usd(r["cost"]), f"{r['gpu_hours']:,.1f}",
                                    f"{spot_share(r):.1%}"] for r in report.by_run]),
        "Untagged spend": (["Missing tag", "Untagged", "Share of taggable spend", "All spend (incl. tax, credits)"],
                           [[r["tag_key"], usd(r["untagged_cost"]), f"{untagged_share(r):.1%}", usd(r["total_cost"])]
                            for r in report.untagged]),
        "Cost per 1,000 inferences": (["Model version", "Serving cost", "Invocations", "Per 1,000"],
                                      [[r["model_version"], usd(r["cost"]),
                                        "-" if r["invocations"] is None else f"{r['invocations']:,}",
                                        "-" if r["per_thousand"] is None else f"${r['per_thousand']:.4f}"]
                                       for r in report.inference]),
    }
    if report.by_tag:
        sections[f"Cost by {report.group_key}"] = (
            [report.group_key, "Cost"], [[r["tag_value"] or "(untagged)", usd(r["cost"])] for r in report.by_tag])
    forecast = report.forecast
    if forecast is not None and forecast.available:
        assert forecast.rest_of_month and forecast.this_month and forecast.next_month
        level = f"{forecast.level:.0%} interval"
        rows = [[label, usd(i.point), f"{usd(i.low)} to {usd(i.high)}"] for label, i in (
            (f"Rest of {forecast.last_day:%B} (after {forecast.last_day})", forecast.rest_of_month),
            (f"All of {forecast.last_day:%B}", forecast.this_month), ("Next month", forecast.next_month))]
        rows += [[f"Budget {b.name} ({b.month}): {usd(b.amount_usd)}", usd(b.forecast.point), b.status]
                 for b in forecast.budgets]
        sections["Forecast"] = (["Period", "Forecast", level], rows)
    return sections


def _heading(report: CurReport) -> list[str]:
    tag = report.params.tag_filter
    scope = f" for {tag[0]}={tag[1]}" if tag else ""
    lines = [f"CUR spend{scope}, {report.start} to {report.end} (exclusive), {report.params.cost_basis} cost: "
             f"{usd(report.total)}", f"Source: {report.source}"]
    if report.bytes_scanned is not None:
        lines.append(f"Athena scanned {report.bytes_scanned:,} bytes")
    return lines


def render_text(report: CurReport) -> str:
    lines = _heading(report)
    for title, (header, rows) in _rows(report).items():
        lines += ["", title]
        if not rows:
            lines.append("  (none)")
            continue
        widths = [max(len(str(x)) for x in column) for column in zip(header, *rows)]
        for row in [header, *rows]:
            lines.append("  " + "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip())
    lines += [f"Note: {note}" for note in report.notes]
    return "\n".join(lines) + "\n"


def render_markdown(report: CurReport) -> str:
    head, *rest = _heading(report)
    lines = [f"# {head}", "", *rest]
    for title, (header, rows) in _rows(report).items():
        lines += ["", f"## {title}", ""]
        if not rows:
            lines.append("None.")
            continue
        lines += ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
        lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    if report.notes:
        lines += ["", "## Notes", "", *(f"- {note}" for note in report.notes)]
    return "\n".join(lines) + "\n"


def daily_chart(report: CurReport) -> str:
    """Daily spend as columns, then the forecast as a line inside its interval band."""
    history = sorted(report.daily_totals().items())
    forecast = report.forecast.daily if report.forecast and report.forecast.available else []
    days = len(history) + len(forecast)
    width, height, left, bottom = 900, 260, 60, 24
    top_value = max([v for _, v in history] + [h for _, _, _, h in forecast] + [1.0])
    step = (width - left - 10) / max(days, 1)

    def y(value: float) -> float:
        return height - bottom - (height - bottom - 10) * value / top_value

    parts = ['<figure class="chart" id="chart-daily"><figcaption>Daily spend'
             + (f" and forecast ({report.forecast.level:.0%} interval)" if forecast and report.forecast else "")
             + "</figcaption>",
             f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             'aria-label="daily spend">',
             f'<text x="4" y="14">{usd(top_value)}</text><text x="4" y="{height - bottom}">$0</text>']
    for index, (day, value) in enumerate(history):
        bar_height = height - bottom - y(value)
        parts.append(f'<rect class="bar" x="{left + index * step:.1f}" y="{y(value):.1f}" width="{max(step - 1, 1):.1f}" '
                     f'height="{max(bar_height, 0.5 if value > 0 else 0):.1f}" fill="{PALETTE[0]}">'
                     f'<title>{day}: {usd(value)}</title></rect>')
    if forecast:
        xs = [left + (len(history) + i + 0.5) * step for i in range(len(forecast))]
        band = [f"{x:.1f},{y(h):.1f}" for x, (_, _, _, h) in zip(xs, forecast)]
        band += [f"{x:.1f},{y(lo):.1f}" for x, (_, _, lo, _) in reversed(list(zip(xs, forecast)))]
        parts.append(f'<polygon class="band" points="{" ".join(band)}" fill="{BAND_COLOUR}"/>')
        line = " ".join(f"{x:.1f},{y(p):.1f}" for x, (_, p, _, _) in zip(xs, forecast))
        parts.append(f'<polyline class="forecast" points="{line}" fill="none" stroke="{FORECAST_COLOUR}" '
                     'stroke-width="3"/>')
    if history:
        parts.append(f'<text x="{left}" y="{height - 6}">{history[0][0]}</text>')
    if forecast:
        parts.append(f'<text x="{width - 90}" y="{height - 6}">{forecast[-1][0]}</text>')
    parts.append("</svg></figure>")
    return "".join(parts)


def render_html(report: CurReport) -> str:
    esc = html.escape
    charts = [daily_chart(report),
              bar_chart("chart-model", "Cost per model version",
                        [(r["model_version"], r["cost"]) for r in report.by_model]),
              bar_chart("chart-run", "Cost per training run", [(r["training_run"], r["cost"]) for r in report.by_run]),
              bar_chart("chart-untagged", "Untagged spend by missing tag",
                        [(r["tag_key"], r["untagged_cost"]) for r in report.untagged])]
    if report.by_tag:
        charts.append(bar_chart("chart-tag", f"Cost by {report.group_key}",
                                [(r["tag_value"] or "(untagged)", r["cost"]) for r in report.by_tag]))
    tables = []
    for title, (header, rows) in _rows(report).items():
        body = "".join("<tr>" + "".join(f"<td>{esc(cell)}</td>" for cell in row) + "</tr>" for row in rows)
        tables.append(f"<h2>{esc(title)}</h2><table><thead><tr>{''.join(f'<th>{esc(h)}</th>' for h in header)}"
                      f"</tr></thead><tbody>{body or '<tr><td>None.</td></tr>'}</tbody></table>")
    share = max((untagged_share(r) for r in report.untagged), default=0.0)
    overruns = [b for b in (report.forecast.budgets if report.forecast else []) if b.overrun]
    alert = "".join(f'<p class="warn" id="overrun">Predicted overrun: budget {esc(b.name)} {usd(b.amount_usd)} for '
                    f'{esc(b.month)}, forecast {usd(b.forecast.point)} ({esc(b.status)})</p>' for b in overruns)
    notes = "".join(f'<p class="note">{esc(n)}</p>' for n in report.notes)
    head, *rest = _heading(report)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(head)}</title>
<style>{STYLE}</style></head>
<body>
<h1>{esc(head)}</h1>
<div class="note">{'; '.join(esc(r) for r in rest)}</div>
<div class="totals"><div>Spend<b id="total">{usd(report.total)}</b></div>
<div>Untagged share (worst tag)<b id="untagged-share">{share:.1%}</b></div>
{_forecast_box(report)}</div>
{alert}{notes}
<div class="charts">{''.join(charts)}</div>
{''.join(tables)}
<script>{RENDER_CHECK}</script>
</body></html>
"""


def _forecast_box(report: CurReport) -> str:
    forecast = report.forecast
    if forecast is None or not forecast.available or forecast.next_month is None:
        return ""
    return f'<div>Next month forecast<b id="forecast-next">{usd(forecast.next_month.point)}</b></div>'


