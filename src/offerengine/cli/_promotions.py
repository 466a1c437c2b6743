"""Promotions offline: ``train-uplift`` (a promotion's uplift model, judged by its Qini
coefficient), ``retrain-uplift`` (from a campaign's own outcomes) and ``recommend-promotions`` (which promotion each customer of a file gets, within
the budgets)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from offerengine.cli._common import console, err, in_transaction

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession


def train_uplift(
    tenant: Annotated[str, typer.Option(help="Tenant code or id.")],
    promotion: Annotated[str, typer.Option(help="The promotion's code.")],
    history: Annotated[
        Path | None,
        typer.Option(
            help="Parquet or CSV of a randomised past promotion: treated, bought (0/1) and the "
            "promotion's feature columns.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    synthetic: Annotated[
        int | None,
        typer.Option(help="Instead, this many synthetic shoppers (a demonstration)."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seeds the split and synthetic shoppers.")] = 0,
) -> None:
    """Train a promotion's uplift model.

    Two gradient-boosted classifiers, treated and control; prints its Qini coefficient on a
    held-out third, beside random targeting's."""
    from offerengine.promotions import offline

    if (history is None) == (synthetic is None):
        err().print("Give --history FILE or --synthetic N.")
        raise typer.Exit(2)

    async def work(session: AsyncSession) -> dict[str, Any]:
        return await offline.train(session, tenant, promotion, history, synthetic, seed)

    found = in_transaction(work)
    console().print(
        f"{found['promotion']} model v{found['version']}: {found['customers']:,} customers "
        f"({found['treated']:,} treated); Qini on {found['held_out']:,} held out: model "
        f"{found['qini_model']}, random {found['qini_random']}",
        highlight=False,
        soft_wrap=True,
    )


def retrain_uplift(
    tenant: Annotated[str, typer.Option(help="Tenant code or id.")],
    campaign: Annotated[str, typer.Option(help="The campaign's code.")],
    seed: Annotated[int, typer.Option(help="Seeds the held-out third.")] = 0,
) -> None:
    """Retrain the campaign's promotions' uplift models from its own outcomes.

    A new version per promotion, judged against the serving one by their Qini on a held-out
    third of the campaign's members; it serves only if it is the better."""
    from offerengine.campaigns import retraining
    from offerengine.clock import utcnow

    async def work(session: AsyncSession) -> dict[str, Any]:
        return await retraining.retrain_by_code(session, tenant, campaign, utcnow(), seed=seed)

    found = in_transaction(work)
    for p in found["promotions"]:
        if "skipped" in p:
            line = f"{p['promotion']}: not retrained ({p['skipped']})"
        else:
            line = (
                f"{p['promotion']} model v{p['version']}: Qini {p['qini_model']} against "
                f"v{p['previous_version']}'s {p['qini_previous']} on {p['held_out']:,} held "
                f"out; v{p['serving']} serves"
            )
        console().print(line, highlight=False, soft_wrap=True)


def recommend_promotions(
    tenant: Annotated[str, typer.Option(help="Tenant code or id.")],
    customers: Annotated[
        Path,
        typer.Option(
            help="Parquet or CSV: a customer_id column and feature columns (stored profiles "
            "fill in the rest).",
            exists=True,
            dir_okay=False,
        ),
    ],
    out: Annotated[Path, typer.Option(help="Where to write the grants (.csv).")],
    budget: Annotated[
        str | None, typer.Option(help="At most this much of the promotions' budgets.")
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="Grant and count nothing.")] = False,
) -> None:
    """Choose a promotion for each customer of a file.

    Which promotion to give each customer, by expected incremental margin within
    the budgets, stock and per-customer limits; counts the grants unless --dry-run."""
    from decimal import Decimal, InvalidOperation

    from offerengine.promotions import offline

    try:
        amount = None if budget is None else Decimal(budget)
    except InvalidOperation as exc:
        err().print(f"--budget {budget!r} is not an amount")
        raise typer.Exit(2) from exc

    async def work(session: AsyncSession) -> dict[str, Any]:
        return await offline.recommend_file(session, tenant, customers, out, amount, dry_run)

    found = in_transaction(work)
    console().print(
        f"{found['grants']:,} of {found['customers']:,} customers get a promotion; expected cost "
        f"{found['expected_cost']}, expected incremental margin "
        f"{found['expected_incremental_margin']}" + (" (dry run)" if dry_run else ""),
        highlight=False,
        soft_wrap=True,
    )
    console().print("left out:", dict(sorted(found["skipped"].items())), highlight=False)
    if found["promotions_not_offered"]:
        console().print("not offered:", found["promotions_not_offered"], highlight=False)
    console().print(f"grants written to {out}", highlight=False)
