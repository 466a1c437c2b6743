"""Patching a compiled decisioning index or catalog gives what compiling it whole gives, over
random sequences of changes (creations, updates, status moves, deletions, recreations)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from offerengine.catalog import core as catalog
from offerengine.decisioning import compiling, core
from offerengine.decisioning import schemas as s
from offerengine.experiments.core import ExperimentFacts, VariantFacts

PLACEMENTS = [uuid.UUID(int=100 + i) for i in range(2)]
FALLBACKS = [uuid.UUID(int=200 + i) for i in range(2)]
COLLECTIONS = [uuid.UUID(int=300 + i) for i in range(3)]
FORMULAS = [uuid.UUID(int=400 + i) for i in range(2)]
ACTIVITIES = [uuid.UUID(int=500 + i) for i in range(4)]
OFFERS = [uuid.UUID(int=600 + i) for i in range(8)]
TAGS = ["a", "b", "c"]
RULES = [None, None, None, "profile.tier == 'GOLD'"]  # compiling a rule takes milliseconds
EXPRESSIONS = [
    "offer.value - offer.cost",
    "offer.priority * 2",
    "offer.priority + hours_until(offer.end)",
]
STATUS = st.sampled_from(["approved"] * 5 + ["draft", "archived"])


def stored(kind: str, id: uuid.UUID, schema: s.Named) -> core.Stored:
    values = schema.model_dump(mode="json")
    return core.Stored(id, kind, values.pop("name"), values.pop("status"), values)


@st.composite
def objects(draw: st.DrawFn, id: uuid.UUID) -> core.Stored:
    """Any object of the pools, as the API would store it (its kind follows from its id)."""
    n = id.int
    if id in PLACEMENTS:
        return stored(
            "placement",
            id,
            s.PlacementIn(name=f"P{n}", status=draw(STATUS), channel="web", content_type="json"),
        )
    if id in FALLBACKS:
        reps = [s.Representation(placement_id=p, content={"f": n}) for p in PLACEMENTS]
        return stored(
            "fallback_offer",
            id,
            s.FallbackOfferIn(name=f"F{n}", status=draw(STATUS), representations=reps),
        )
    if id in COLLECTIONS:
        named = draw(st.integers(0, 3)) == 0
        return stored(
            "collection",
            id,
            s.CollectionIn(
                name=f"C{n}",
                status=draw(STATUS),
                tags=draw(st.lists(st.sampled_from(TAGS), min_size=1, max_size=2)),
                match=draw(st.sampled_from(["any", "all"])),
                offer_ids=draw(st.lists(st.sampled_from(OFFERS), max_size=4)) if named else None,
            ),
        )
    if id in FORMULAS:
        return stored(
            "ranking_formula",
            id,
            s.RankingFormulaIn(
                name=f"R{n}", status=draw(STATUS), expression=draw(st.sampled_from(EXPRESSIONS))
            ),
        )
    if id in ACTIVITIES:
        method = draw(st.sampled_from(["priority", "formula", "model"]))
        return stored(
            "activity",
            id,
            s.ActivityIn(
                name=f"A{n}",
                status=draw(STATUS),
                placement_id=draw(st.sampled_from(PLACEMENTS)),
                collection_id=draw(st.sampled_from(COLLECTIONS)),
                fallback_offer_id=draw(st.sampled_from(FALLBACKS)),
                ranking=s.Ranking(
                    method=method,
                    formula_id=draw(st.sampled_from(FORMULAS)) if method == "formula" else None,
                ),
            ),
        )
    return stored(
        "offer",
        id,
        s.OfferIn(
            name=f"O{draw(st.integers(0, 5))}",  # names repeat: ties are broken by id
            status=draw(STATUS),
            priority=draw(st.integers(0, 3)),
            tags=draw(st.lists(st.sampled_from(TAGS), max_size=3)),
            representations=[
                s.Representation(placement_id=p, content={"o": n})
                for p in draw(
                    st.lists(st.sampled_from(PLACEMENTS), min_size=1, max_size=3, unique=True)
                )
            ],
            eligibility=draw(st.sampled_from(RULES)),
            capping=draw(st.sampled_from([[], [s.CapRule(scope="profile", limit=2)]])),
            value=Decimal(draw(st.integers(0, 50))),
            cost=Decimal(draw(st.integers(0, 10))),
            end="2027-01-01T00:00:00Z" if draw(st.booleans()) else None,
        ),
    )


ALL = [*PLACEMENTS, *FALLBACKS, *COLLECTIONS, *FORMULAS, *ACTIVITIES, *OFFERS]


@st.composite
def changes(draw: st.DrawFn) -> dict[uuid.UUID, core.Stored | None]:
    """One version's changes: a few objects created or updated (None: deleted)."""
    ids = draw(st.lists(st.sampled_from(ALL), min_size=1, max_size=4, unique=True))
    return {i: (None if draw(st.integers(0, 4)) == 0 else draw(objects(i))) for i in ids}


EXPERIMENT = ExperimentFacts(
    id=uuid.UUID(int=900),
    key="rank",
    unit="profile",
    status="running",
    variants=(
        VariantFacts("control", 1.0, {}),
        VariantFacts(
            "margin",
            1.0,
            {"decision_ranking": {"method": "formula", "formula_id": str(FORMULAS[0])}},
        ),
    ),
    coverage=1.0,
    targeting=None,
    namespace=None,
    seed="rank",
    hash_version=2,
    start=None,
    end=None,
    winner=None,
    version=1,
)


def shape(index: core.DecisioningIndex) -> dict[str, Any]:
    """What an index means to a decision, comparable (compiled rules by their source)."""

    def offer(o: core.OfferDef) -> tuple[Any, ...]:
        rule = None if o.eligibility is None else o.eligibility.source
        return (
            o.id,
            o.name,
            o.priority,
            o.start,
            o.end,
            dict(o.content),
            rule,
            o.caps,
            dict(o.facts),
        )

    def activity(a: core.ActivityDef) -> tuple[Any, ...]:
        return (
            a.name,
            a.placement_id,
            a.start,
            a.end,
            [offer(c) for c in a.candidates],
            a.fallback,
            None if a.formula is None else a.formula.source,
            a.formula_name,
            None if a.scores is None else dict(a.scores),
            a.model,
            a.ranking,
        )

    return {
        "offers": {k: offer(v) for k, v in index.offers.items()},
        "activities": {k: activity(v) for k, v in index.activities.items()},
        "idle": dict(index.idle),
        "names": dict(index.names),
        "max": index.max_activities,
        "experiments": [e.key for e in index.experiments],
        "variants": {k: activity(v) for k, v in index.variants.items()},
        "tagged": dict(index.source.tagged),
        "objects": dict(index.source.objects),
    }


# Compiling an index takes milliseconds a rule: shrinking a failure would take minutes, so a
# failure is reported as found.
@settings(max_examples=60, deadline=None, phases=(Phase.explicit, Phase.reuse, Phase.generate))
@given(
    first=st.tuples(*(objects(i) for i in ALL)),
    steps=st.lists(st.tuples(changes(), st.booleans()), min_size=1, max_size=4),
)
def test_a_patched_decisioning_index_equals_the_index_compiled_whole(
    first: tuple[core.Stored, ...], steps: list[tuple[dict[uuid.UUID, core.Stored | None], bool]]
) -> None:
    settings_ = {"decisioning": {"max_activities": 7}}
    live: dict[uuid.UUID, core.Stored] = {o.id: o for o in first}
    experiments: list[ExperimentFacts] = []
    index = compiling.compile_index(live.values(), settings_, experiments)
    for changed, experiment_moved in steps:
        for id, obj in changed.items():
            if obj is None:
                live.pop(id, None)
            else:
                live[id] = obj
        given_experiments = None
        if experiment_moved:  # the experiments part changed too: the variants are placed again
            experiments = [] if experiments else [EXPERIMENT]
            given_experiments = experiments
        patched = compiling.patch(index, changed, given_experiments)
        whole = compiling.compile_index(live.values(), settings_, experiments)
        assert shape(patched) == shape(whole)
        index = patched


def test_patching_leaves_the_index_it_started_from_as_it_was() -> None:
    offer = stored(
        "offer",
        OFFERS[0],
        s.OfferIn(
            name="Lounge",
            status="approved",
            tags=["a"],
            representations=[s.Representation(placement_id=PLACEMENTS[0], content={})],
        ),
    )
    rest = [
        stored(
            "placement", PLACEMENTS[0], s.PlacementIn(name="P", channel="web", content_type="json")
        ),
        stored("collection", COLLECTIONS[0], s.CollectionIn(name="C", tags=["a"])),
        stored(
            "fallback_offer",
            FALLBACKS[0],
            s.FallbackOfferIn(
                name="F", representations=[s.Representation(placement_id=PLACEMENTS[0], content={})]
            ),
        ),
        stored(
            "activity",
            ACTIVITIES[0],
            s.ActivityIn(
                name="A",
                status="approved",
                placement_id=PLACEMENTS[0],
                collection_id=COLLECTIONS[0],
                fallback_offer_id=FALLBACKS[0],
            ),
        ),
    ]
    before = compiling.compile_index([offer, *rest], {})
    kept = shape(before)
    after = compiling.patch(before, {OFFERS[0]: None})
    assert [c.name for c in before.activities[ACTIVITIES[0]].candidates] == ["Lounge"]
    assert after.activities[ACTIVITIES[0]].candidates == ()
    assert shape(before) == kept
    # Untouched parts are shared, not copied.
    assert after.activities is not before.activities
    unrelated = compiling.patch(before, {PLACEMENTS[1]: None})
    assert unrelated.activities[ACTIVITIES[0]] is before.activities[ACTIVITIES[0]]


def product(n: int, code: str, kind: str, active: bool = True) -> catalog.ProductFacts:
    return catalog.ProductFacts(
        id=uuid.UUID(int=n),
        product_code=code,
        product_type=kind,
        category=None,
        name=f"Product {n}",
        description=None,
        base_price=Decimal(n),
        currency="EUR",
        cost=None,
        attributes={},
        is_active=active,
        version=1,
    )


def catalog_shape(index: catalog.CatalogIndex) -> tuple[Any, ...]:
    return (list(index.by_code.items()), dict(index.by_type), dict(index.encoded))


@settings(max_examples=150, deadline=None)
@given(
    steps=st.lists(
        st.dictionaries(
            st.integers(1, 8),
            st.none()
            | st.tuples(
                st.sampled_from(["X1", "X2", "Y1", "Y2", "Z"]),
                st.sampled_from(["seat", "bag"]),
                st.booleans(),
            ),
            min_size=1,
            max_size=3,
        ),
        min_size=1,
        max_size=6,
    )
)
def test_a_patched_catalog_equals_the_catalog_built_whole(
    steps: list[dict[int, tuple[str, str, bool] | None]],
) -> None:
    live: dict[int, catalog.ProductFacts] = {}
    index = catalog.CatalogIndex.build([])
    for step in steps:
        changed = {uuid.UUID(int=n) for n in step}
        for n, state in step.items():
            live.pop(n, None)
            if state is not None:
                live[n] = product(n, *state)
        # Product codes are unique in a tenant: a code taken twice keeps the later product.
        codes: Mapping[str, int] = {p.product_code: n for n, p in live.items()}
        for n in [n for n, p in live.items() if codes[p.product_code] != n]:
            del live[n]
            changed.add(uuid.UUID(int=n))
        index = index.patched(changed, [live[n] for n in live if uuid.UUID(int=n) in changed])
        assert catalog_shape(index) == catalog_shape(catalog.CatalogIndex.build(live.values()))
