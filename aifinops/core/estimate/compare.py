"""`--compare-to BASE.json`: the estimate against the same JSON from the base branch, as Infracost's diff.

It fills Infracost's `pastTotalMonthlyCost`, `diffTotalMonthlyCost` (and the hourly pair), each project's
`pastBreakdown` (the base's resources) and `diff` (one entry per resource whose cost changed, its
`monthlyCost` the difference as in Infracost's diff), and adds ours: `change` (added, removed or changed),
`pastMonthlyCost` and `newMonthlyCost`, and the cost components that changed.

Each resource is counted once. Resources match by URN; a resource whose URN changed (moved under
another parent, say) matches by type and name when exactly one resource on each side has them, and is a
change, never a removal plus an addition. A resource that is not priced (null `monthlyCost`) counts $0
on its side, and its change of status is listed; one added or removed at $0 is listed only when its
cost is unknown (it is not priced), so the diff shows every change a reviewer cannot see the price of.
"""
from __future__ import annotations

from typing import Any, Iterable, Optional

from aifinops.core.errors import AifinopsError
from aifinops.core.service_prices import HOURS_PER_MONTH

from .infracost_json import amount, parse_amount

ADDED, REMOVED, CHANGED = "added", "removed", "changed"
_EPSILON = 0.005  # half a cent: below it a cost did not change


class BaselineError(AifinopsError):
    """The --compare-to file is not an estimate in this JSON format."""


def baseline_resources(document: Any, where: str) -> list[dict[str, Any]]:
    """Every resource of every project of a baseline document, checked for the fields a comparison reads."""
    if not isinstance(document, dict) or "totalMonthlyCost" not in document or not isinstance(
            document.get("projects"), list):
        raise BaselineError(f"{where}: expected the JSON of `aifinops cost --json` (or Infracost JSON) with "
                            f"totalMonthlyCost and projects[].breakdown.resources[], got "
                            f"{type(document).__name__} with keys {sorted(document)[:8] if isinstance(document, dict) else []}")
    resources = []
    for index, project in enumerate(document["projects"]):
        breakdown = project.get("breakdown") if isinstance(project, dict) else None
        found = breakdown.get("resources") if isinstance(breakdown, dict) else None
        if not isinstance(found, list):
            raise BaselineError(f"{where}: projects[{index}].breakdown.resources: expected a list of resources, "
                                f"got {type(found).__name__}")
        for number, resource in enumerate(found):
            if not isinstance(resource, dict) or not isinstance(resource.get("name"), str):
                raise BaselineError(f"{where}: projects[{index}].breakdown.resources[{number}]: expected an object "
                                    f"with a name, got {str(resource)[:120]}")
            try:
                parse_amount(resource.get("monthlyCost"))
            except (TypeError, ValueError) as error:
                raise BaselineError(f"{where}: projects[{index}].breakdown.resources[{number}].monthlyCost: expected "
                                    f"a decimal string or null, got {resource.get('monthlyCost')!r}") from error
            resources.append(resource)
    return resources


def _key(resource: dict[str, Any]) -> str:
    return resource.get("urn") or resource["name"]


def _identity(resource: dict[str, Any]) -> tuple[str, str]:
    return resource.get("resourceType", ""), resource["name"]


def match_resources(base: list[dict[str, Any]], current: list[dict[str, Any]]
                    ) -> list[tuple[Optional[dict[str, Any]], Optional[dict[str, Any]]]]:
    """(base, current) pairs: by URN, then a moved resource by its unique type and name; None on the side it
    is missing from. A URN listed twice on one side is one resource (its first entry)."""
    base_by_key = {}
    for resource in base:
        base_by_key.setdefault(_key(resource), resource)
    current_by_key = {}
    for resource in current:
        current_by_key.setdefault(_key(resource), resource)
    pairs: list[tuple[Optional[dict[str, Any]], Optional[dict[str, Any]]]] = []
    for key, resource in current_by_key.items():
        if key in base_by_key:
            pairs.append((base_by_key[key], resource))
    unmatched_base = [r for k, r in base_by_key.items() if k not in current_by_key]
    unmatched_current = [r for k, r in current_by_key.items() if k not in base_by_key]

    def unique(resources: Iterable[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
        seen: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for resource in resources:
            seen.setdefault(_identity(resource), []).append(resource)
        return {identity: found[0] for identity, found in seen.items() if len(found) == 1}

    base_unique, current_unique = unique(unmatched_base), unique(unmatched_current)
    moved = {identity for identity in base_unique if identity in current_unique}
    for identity in moved:
        pairs.append((base_unique[identity], current_unique[identity]))
    moved_base = {id(base_unique[i]) for i in moved}
    moved_current = {id(current_unique[i]) for i in moved}
    pairs += [(None, r) for r in unmatched_current if id(r) not in moved_current]
    pairs += [(r, None) for r in unmatched_base if id(r) not in moved_base]
    return pairs


def _cost(resource: Optional[dict[str, Any]]) -> float:
    if resource is None:
        return 0.0
    return parse_amount(resource.get("monthlyCost")) or 0.0


def _components(resource: Optional[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    components: dict[str, dict[str, Any]] = {}
    for component in (resource or {}).get("costComponents") or []:
        if isinstance(component, dict) and isinstance(component.get("name"), str):
            name = component["name"]
            if name in components:  # two components of one name: one entry with both summed
                merged = dict(components[name])
                merged["monthlyCost"] = amount((parse_amount(merged.get("monthlyCost")) or 0.0)
                                               + (parse_amount(component.get("monthlyCost")) or 0.0))
                components[name] = merged
            else:
                components[name] = component
    return components


def changed_components(base: Optional[dict[str, Any]], current: Optional[dict[str, Any]]) -> list[dict[str, Any]]:
    """The cost components whose quantity, price or cost differ (and that cost something on either side),
    each with both sides and the difference."""
    before, after = _components(base), _components(current)
    rows = []
    for name in [*after, *(n for n in before if n not in after)]:
        old, new = before.get(name), after.get(name)
        fields = ("monthlyQuantity", "price", "monthlyCost")
        if old is not None and new is not None and all(
                parse_amount(old.get(f)) == parse_amount(new.get(f)) for f in fields):
            continue
        past, now = (parse_amount((old or {}).get("monthlyCost")) or 0.0,
                     parse_amount((new or {}).get("monthlyCost")) or 0.0)
        if abs(past) < _EPSILON and abs(now) < _EPSILON:  # free on both sides (a line inside a reservation)
            continue
        rows.append({"name": name, "unit": (new or old or {}).get("unit", ""),
                     "change": ADDED if old is None else REMOVED if new is None else CHANGED,
                     "pastMonthlyQuantity": (old or {}).get("monthlyQuantity"),
                     "monthlyQuantity": (new or {}).get("monthlyQuantity"),
                     "pastPrice": (old or {}).get("price"), "price": (new or {}).get("price"),
                     "pastMonthlyCost": amount(past), "newMonthlyCost": amount(now), "monthlyCost": amount(now - past)})
    return rows


def _diff_entry(base: Optional[dict[str, Any]], current: Optional[dict[str, Any]]) -> Optional[dict[str, Any]]:
    past, now = _cost(base), _cost(current)
    components = changed_components(base, current)
    status_changed = base is not None and current is not None and base.get("status") != current.get("status")
    if abs(now - past) < _EPSILON and not components and not status_changed:
        one_side = current if base is None else base if current is None else None
        # Added or removed at $0: listed only when its cost is unknown (unpriced, or it needs usage).
        if one_side is None or one_side.get("monthlyCost") is not None:
            return None
    shown = current if current is not None else base
    assert shown is not None
    entry = {"name": shown["name"], "resourceType": shown.get("resourceType", ""), "urn": shown.get("urn", ""),
             "change": ADDED if base is None else REMOVED if current is None else CHANGED,
             "monthlyCost": amount(now - past), "hourlyCost": amount((now - past) / HOURS_PER_MONTH),
             "pastMonthlyCost": amount(past), "newMonthlyCost": amount(now),
             "costComponents": components}
    if base is not None and current is not None:
        if _key(base) != _key(current):
            entry["pastUrn"] = _key(base)
        if status_changed:
            entry["pastStatus"], entry["status"] = base.get("status"), current.get("status")
    return entry


def compare(document: dict[str, Any], baseline: Any, where: str = "--compare-to") -> dict[str, Any]:
    """`document` (estimate_document's) with the comparison against `baseline` filled in."""
    base = baseline_resources(baseline, where)
    current = [r for project in document["projects"] for r in project["breakdown"]["resources"]]
    entries = [entry for pair in match_resources(base, current) if (entry := _diff_entry(*pair)) is not None]
    past_total = parse_amount(baseline.get("totalMonthlyCost")) or 0.0
    total = parse_amount(document["totalMonthlyCost"]) or 0.0
    diff_total = total - past_total
    result = dict(document)
    project = dict(document["projects"][0])
    project["pastBreakdown"] = {"resources": base, "totalMonthlyCost": amount(past_total),
                                "totalHourlyCost": amount(past_total / HOURS_PER_MONTH)}
    project["diff"] = {"resources": entries, "totalMonthlyCost": amount(diff_total),
                       "totalHourlyCost": amount(diff_total / HOURS_PER_MONTH)}
    result["projects"] = [project, *document["projects"][1:]]
    result.update({"pastTotalMonthlyCost": amount(past_total), "diffTotalMonthlyCost": amount(diff_total),
                   "pastTotalHourlyCost": amount(past_total / HOURS_PER_MONTH),
                   "diffTotalHourlyCost": amount(diff_total / HOURS_PER_MONTH)})
    past_max = parse_amount(baseline.get("maxTotalMonthlyCost"))
    if past_max is not None and document.get("maxTotalMonthlyCost") is not None:
        result["pastMaxTotalMonthlyCost"] = amount(past_max)
        result["diffMaxTotalMonthlyCost"] = amount(parse_amount(document["maxTotalMonthlyCost"]) - past_max)
    if baseline.get("stack") not in (None, document.get("stack")):
        result["warnings"] = [*document.get("warnings", []),
                              f"{where}: the baseline is stack {baseline.get('stack')!r}, this is "
                              f"{document.get('stack')!r}"]
    return result


def diff_percent(document: dict[str, Any]) -> Optional[float]:
    """The total's change in percent of the baseline; None without a baseline or from $0."""
    past = parse_amount(document.get("pastTotalMonthlyCost"))
    diff = parse_amount(document.get("diffTotalMonthlyCost"))
    if past is None or diff is None or past == 0:
        return None
    return 100.0 * diff / past
