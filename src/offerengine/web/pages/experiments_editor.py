"""The experiments' own screens: the list; the editor of one experiment's design (variants and
their weights, the audience with the condition builder, the primary and secondary metrics, the
minimum effect) beside a sample-size calculator; and its results, every metric with its
intervals drawn (an SVG made here), the sample-ratio check and the verdict with its reason.

The design saves through the JSON API from the browser (``static/experiments.js``); the
calculator answers ``GET /admin/ab-tests/sample-size`` from
:func:`offerengine.experiments.stats.sample_size`, so the browser does no statistics. The
generic document editor (``/admin/experiments/<id>``) stays for the fields left out here."""

from __future__ import annotations

import math
import uuid
from dataclasses import asdict, dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from offerengine.auth.deps import ConfigReader
from offerengine.errors import Invalid
from offerengine.experiments import stats
from offerengine.experiments.schemas import ExperimentIn
from offerengine.web.pages.editors import form_document, save_path, stored_editor
from offerengine.web.pages.flag_forms import condition_rows, operators_json
from offerengine.web.pages.layout import PAGE, cursor_pager, render
from offerengine.web.resources import api_get
from offerengine.web.session import PageTenant, Visitor

router = APIRouter(include_in_schema=False)
HOME = "/admin/ab-tests"

STARTER: dict[str, Any] = {
    "key": "",
    "name": "",
    "hypothesis": None,
    "unit": "profile_id",
    "variants": [{"key": "control", "weight": 50}, {"key": "treatment", "weight": 50}],
    "coverage": 1.0,
    "targeting": None,
    "namespace": None,
    "primary_metric": {"key": None, "kind": "conversion", "event": "purchase"},
    "secondary_metrics": [],
    "seed": None,
    "hash_version": 2,
    "minimum_effect": 0.05,
    "start": None,
    "end": None,
}
UNITS = (
    ("profile_id", "Profile (a decisioning profile)"),
    ("customer_id", "Customer"),
    ("session_id", "Session"),
)
METRIC_KINDS = (
    ("conversion", "Conversion: share of units with the event"),
    ("revenue", "Revenue: value of the events per unit"),
    ("count", "Count: events per unit"),
)
DECISIONS = {
    "ship": "Ship",
    "keep_running": "Keep running",
    "no_difference": "No difference",
    "srm_warning": "Sample ratio mismatch",
}


@router.get(HOME)
async def experiments_page(
    request: Request,
    visitor: Visitor,
    tenant: PageTenant,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    found = await api_get(
        request, f"/v1/admin/tenants/{tenant.code}/experiments", limit=PAGE, cursor=cursor
    )
    next_cursor = found.data.get("next_cursor") if found.ok else None
    return await render(
        request,
        "experiments.html",
        visitor,
        tenant=tenant,
        experiments=found.listed(),
        problem=found.problem,
        **cursor_pager({}, next_cursor, cursor),
    )


async def _editor(
    request: Request, visitor: Visitor, tenant: PageTenant, item: dict[str, Any] | None
) -> Response:
    document = form_document(item, ExperimentIn.model_fields, STARTER)
    values: dict[str, Any] = {}
    if item is not None:
        results = await api_get(request, f"/v1/experiments/{item['id']}/results")
        values["results"] = results_view(results.data) if results.ok else None
        values["results_problem"] = results.problem
    return await render(
        request,
        "experiment_form.html",
        visitor,
        tenant=tenant,
        item=item,
        document=document,
        audience_rows=condition_rows(document.get("targeting")),
        operators=operators_json(),
        units=UNITS,
        metric_kinds=METRIC_KINDS,
        calculator=_starting_plan(document),
        api=save_path(item, tenant, "experiments"),
        **values,
    )


@router.get(f"{HOME}/new")
async def new_experiment(request: Request, visitor: Visitor, tenant: PageTenant) -> Response:
    return await _editor(request, visitor, tenant, None)


@router.get(HOME + "/{experiment_id:uuid}")
async def edit_experiment(
    request: Request, visitor: Visitor, tenant: PageTenant, experiment_id: uuid.UUID
) -> Response:
    return await stored_editor(
        request,
        visitor,
        tenant,
        f"/v1/admin/experiments/{experiment_id}",
        f"No experiment {experiment_id}.",
        _editor,
    )


# --- the sample-size calculator --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Plan:
    """What a test of the design needs: units per variant and in all, and the days it takes."""

    baseline: float  # percent
    treated: float  # percent: the baseline with the effect
    alpha_per_comparison: float  # percent, split between the treatments
    per_variant: int
    total: int
    days: int | None  # at the daily traffic, None without one


def plan(
    *,
    baseline: float,
    effect: float,
    effect_kind: Literal["relative", "absolute"],
    alpha: float,
    power: float,
    variants: int,
    daily: int | None,
    coverage: float,
) -> Plan:
    """The sample size of a conversion test, every figure in percent as the calculator shows
    it; the days at ``daily`` eligible units, of which ``coverage`` % enter and split evenly.
    :class:`Invalid` naming the query parameter when the effect takes the rate out of 0–100 %."""
    relative = effect_kind == "relative"
    comparisons = variants - 1
    try:
        n = stats.sample_size(
            baseline / 100,
            effect / 100,
            relative=relative,
            alpha=alpha / 100,
            power=power / 100,
            comparisons=comparisons,
        )
    except ValueError as exc:
        raise Invalid.field(("query", "effect"), str(exc)) from None
    treated = baseline * (1 + effect / 100) if relative else baseline + effect
    total = n * variants
    days = math.ceil(total / (daily * coverage / 100)) if daily else None
    return Plan(baseline, treated, alpha / comparisons, n, total, days)


def _starting_plan(document: dict[str, Any]) -> dict[str, Any]:
    """The calculator as the page opens: a 10 % baseline, the design's minimum effect."""
    effect = round(float(document.get("minimum_effect") or 0.05) * 100, 4)
    inputs: dict[str, Any] = {
        "baseline": 10.0,
        "effect": effect,
        "effect_kind": "relative",
        "alpha": 5.0,
        "power": 80.0,
        "variants": max(len(document.get("variants") or []), 2),
        "daily": 1000,
        "coverage": round(float(document.get("coverage") or 1.0) * 100, 4),
    }
    try:
        found: dict[str, Any] | None = asdict(plan(**inputs))
    except Invalid:
        found = None
    return {"inputs": inputs, "plan": found}


Percent = Annotated[float, Query(gt=0, lt=100, allow_inf_nan=False)]


@router.get(f"{HOME}/sample-size")
async def sample_size(
    _: ConfigReader,
    baseline: Annotated[Percent, Query(description="Control's conversion rate, %.")],
    effect: Annotated[float, Query(gt=0, le=1000, allow_inf_nan=False)],
    effect_kind: Literal["relative", "absolute"] = "relative",
    alpha: Annotated[float, Query(gt=0, le=50, allow_inf_nan=False)] = 5.0,
    power: Percent = 80.0,
    variants: Annotated[int, Query(ge=2, le=20)] = 2,
    daily: Annotated[int | None, Query(ge=1, le=1_000_000_000)] = None,
    coverage: Annotated[float, Query(gt=0, le=100, allow_inf_nan=False)] = 100.0,
) -> dict[str, Any]:
    """Units per variant to detect the effect, and the days it takes at the daily traffic."""
    return asdict(
        plan(
            baseline=baseline,
            effect=effect,
            effect_kind=effect_kind,
            alpha=alpha,
            power=power,
            variants=variants,
            daily=daily,
            coverage=coverage,
        )
    )


# --- results ---------------------------------------------------------------------------------

WIDTH, ROW, LEFT, RIGHT, TOP = 560, 34, 110, 20, 26  # the interval chart's geometry, in px


def interval_chart(metric: dict[str, Any], control: str) -> dict[str, Any] | None:
    """A metric's treatments against control as an SVG's geometry: per treatment its relative
    lift (a dot) and 95 % interval (a bar), on one axis in percent with zero marked; None when
    no treatment has an interval yet."""
    shown = [c for c in metric.get("comparisons", []) if c.get("relative_ci")]
    if not shown:
        return None
    low = min(0.0, *(float(c["relative_ci"][0]) * 100 for c in shown))
    high = max(0.0, *(float(c["relative_ci"][1]) * 100 for c in shown))
    pad = (high - low) * 0.08 or 1.0
    low, high = low - pad, high + pad
    span = WIDTH - LEFT - RIGHT

    def x(value: float) -> float:
        return round(float(LEFT + (value - low) / (high - low) * span), 1)

    step = _nice_step((high - low) / 5)
    ticks = [
        {"x": x(t * step), "label": f"{t * step:+g} %" if t else "0"}
        for t in range(math.ceil(low / step), math.floor(high / step) + 1)
    ]
    rows = [
        {
            "variant": c["variant"],
            "y": TOP + i * ROW + ROW / 2,
            "x_low": x(c["relative_ci"][0] * 100),
            "x_high": x(c["relative_ci"][1] * 100),
            "x_lift": x((c.get("relative_lift") or 0.0) * 100),
            "text": f"{c['variant']}: {(c.get('relative_lift') or 0) * 100:+.2f} % "
            f"({c['relative_ci'][0] * 100:+.2f} % to {c['relative_ci'][1] * 100:+.2f} %)",
            "significant": c["relative_ci"][0] > 0 or c["relative_ci"][1] < 0,
        }
        for i, c in enumerate(shown)
    ]
    height = TOP + len(rows) * ROW + 24
    return {
        "width": WIDTH,
        "height": height,
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "zero": x(0.0),
        "axis_y": height - 20,
        "ticks": ticks,
        "rows": rows,
        "title": f"Relative lift over {control} with its 95 % interval, in percent",
    }


def _nice_step(raw: float) -> float:
    """A round tick step near ``raw`` (1, 2 or 5 times a power of ten)."""
    power = 10.0 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    for factor in (1, 2, 5, 10):
        if raw <= factor * power:
            return factor * power
    return 10 * power


def results_view(results: dict[str, Any]) -> dict[str, Any]:
    """The results as the page shows them: every metric (primary first) with its chart."""
    control = results["control"]
    metrics = [
        {**m, "primary": i == 0, "chart": interval_chart(m, control)}
        for i, m in enumerate([results["primary"], *results.get("secondary", [])])
    ]
    ratio = results["sample_ratio"]
    observed = sum(ratio.get("observed_units") or []) or 0
    shares = ratio.get("expected_shares") or []
    arms = [
        {
            "variant": arm["variant"],
            "units": units,
            "expected": round(share * observed, 1),
            "share": units / observed if observed else None,
            "expected_share": share,
        }
        for arm, units, share in zip(
            results["primary"]["variants"], ratio.get("observed_units") or [], shares, strict=False
        )
    ]
    return {
        **results,
        "metrics": metrics,
        "decision_label": DECISIONS.get(results["verdict"]["decision"], "?"),
        "arms": arms,
    }
