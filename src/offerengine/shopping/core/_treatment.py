"""Experiments that change shopping: what the running ones give a search's customer (pricing rule
tags, the bundles offered, the ranking weights)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from offerengine.experiments.core import ExperimentIndex, assign
from offerengine.pricing import core as pricing
from offerengine.shopping.core._search import Search


@dataclass(frozen=True, slots=True)
class Treatment:
    """What the running experiments that vary shopping give this search's customer.

    ``pricing_rule_tags``: a pricing rule tagged with a tag that some variant names applies only
    to units whose variant names it (untagged rules, and tags no variant names, always apply);
    ``bundle_templates``: the bundle names offered; ``offer_rule_weights``: the ranking weights.
    Units outside an experiment get its control (or its winner, once stopped).
    """

    assignments: tuple[Any, ...] = ()
    tags: frozenset[str] = frozenset()
    controlled: frozenset[str] = frozenset()
    bundles: frozenset[str] | None = None
    weights: tuple[Decimal, Decimal] | None = None

    def allows(self, rule: pricing.Rule) -> bool:
        governed = rule.tags & self.controlled
        return not governed or bool(governed & self.tags)

    def shown(self) -> list[dict[str, Any]]:
        return [
            {"key": a.experiment.key, "variant": a.variant.key, "in_experiment": a.in_experiment}
            for a in self.assignments
        ]


def treatment_for(
    experiments: ExperimentIndex,
    search: Search,
    *,
    at: datetime,
    saved_groups: Mapping[str, Any] | None = None,
) -> Treatment | None:
    """Assign the search's customer in every experiment whose variants change shopping (every
    status counts: a draft's or a stopped experiment's tagged rules still apply only to the
    variant that names them; before the start, everybody gets the control)."""
    if not experiments.shop:
        return None
    customer_id = search.customer.get("id")
    attributes = {
        **search.customer,
        "customer_id": customer_id,
        "channel": search.channel,
        "origin": search.origin,
        "destination": search.destination,
    }
    assignments = []
    tags: set[str] = set()
    bundles: set[str] | None = None
    weights: tuple[Decimal, Decimal] | None = None
    for experiment in experiments.shop:
        unit = attributes.get(experiment.unit) or customer_id
        found = assign(
            experiment,
            None if unit is None else str(unit),
            attributes,
            at=at,
            saved_groups=saved_groups,
        )
        assignments.append(found)
        config = found.variant.config
        tags.update(config.get("pricing_rule_tags") or ())
        if config.get("bundle_templates") is not None:
            names = set(config["bundle_templates"])
            bundles = names if bundles is None else bundles & names
        if isinstance(config.get("offer_rule_weights"), Mapping):
            given = config["offer_rule_weights"]
            weights = (
                Decimal(str(given.get("conversion_probability", 0))),
                Decimal(str(given.get("profit_margin", 0))),
            )
    return Treatment(
        tuple(assignments),
        frozenset(tags),
        experiments.shop_tags,
        None if bundles is None else frozenset(bundles),
        weights,
    )
