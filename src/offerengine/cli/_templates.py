"""The template library: ``templates list`` (the shipped sets and what they hold) and
``templates apply`` (a set applied to a tenant, all or nothing, as the API's apply does)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from offerengine.cli._common import console, err


def list_sets() -> None:
    """List the template sets shipped with OfferEngine."""
    from offerengine.starters import library

    for found in library.template_sets().values():
        shown = library.summary(found)
        c = shown.contents
        console().print(
            f"{shown.name}: {shown.title} (for {', '.join(shown.tenant_kinds)}; {shown.currency})"
            f" - {c.products} products, {c.bundles} bundles, {c.fare_family_sets} fare family "
            "sets",
            highlight=False,
            soft_wrap=True,
        )


def apply_set(
    name: Annotated[str, typer.Argument(help="The set, e.g. airline-packages.")],
    tenant: Annotated[str, typer.Option(help="Tenant code or id.")],
) -> None:
    """Apply a template set to a tenant: created, updated or unchanged per kind; safe to repeat."""
    import asyncio

    from offerengine.cli._common import cli_actor, database_settings
    from offerengine.errors import NotFound, OfferEngineError
    from offerengine.starters import service as starters
    from offerengine.tenants import service as tenants
    from offerengine.units import run_in_transaction

    settings = database_settings()

    async def work(session: Any) -> Any:
        found = await tenants.find(session, tenant)
        if found is None:
            raise NotFound(f"No tenant {tenant!r}.")
        return await starters.apply(session, tenant=found, name=name, actor=cli_actor())

    try:
        done = asyncio.run(run_in_transaction(settings, work))
    except OfferEngineError as exc:
        err().print(str(exc.detail), highlight=False, soft_wrap=True)
        for e in exc.errors:
            err().print(f"  {e.msg}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from exc
    console().print(
        f"Applied {done.template_set} to {done.tenant}: {done.summary}.",
        highlight=False,
        soft_wrap=True,
    )
