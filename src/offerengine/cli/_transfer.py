"""Bulk import and export of configuration objects: ``import`` (a file of products, decisioning
offers or commission rates, all or nothing, with a progress bar) and ``export`` (every object
of a kind, streamed to a file)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from offerengine.cli._common import console, err


class KindName(StrEnum):
    products = "products"
    decisioning_offers = "decisioning-offers"
    commission_rates = "commission-rates"


class FormatName(StrEnum):
    json = "json"
    jsonl = "jsonl"
    csv = "csv"
    parquet = "parquet"


def import_objects(
    kind: Annotated[KindName, typer.Argument(help="What the file holds.")],
    file: Annotated[
        Path,
        typer.Argument(
            help="JSON (a list), JSON lines, CSV or Parquet: the columns of the kind's export.",
            exists=True,
            dir_okay=False,
        ),
    ],
    tenant: Annotated[str, typer.Option(help="Tenant code or id.")],
    format: Annotated[
        FormatName | None, typer.Option(help="The file's format; default: its suffix.")
    ] = None,
) -> None:
    """Import a file of objects, all or nothing.

    Every row is checked as a single save would be; if any is bad nothing is imported, and the
    bad rows are printed (the first 100, with the count of all). Objects are matched by
    product_code, name or (commission rates) id: new ones are created, changed ones get a new
    version, unchanged ones are left alone."""
    import asyncio

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from offerengine.cli._common import cli_actor, database_settings
    from offerengine.errors import Invalid, NotFound, OfferEngineError
    from offerengine.tenants import service as tenants
    from offerengine.transfer import core, kinds
    from offerengine.transfer import service as transfer
    from offerengine.units import run_in_transaction

    fmt = format.value if format is not None else core.format_of(file.name, None)
    if fmt is None:
        err().print(f"{file.name}: say its format with --format", highlight=False)
        raise typer.Exit(2)
    settings = database_settings()
    porter = kinds.PORTERS[kind.value]
    bar = Progress(
        TextColumn("{task.description:<9}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err(),
        transient=False,
    )
    steps: dict[str, Any] = {}

    def told(phase: str, done: int, total: int) -> None:
        if phase not in steps:
            steps[phase] = bar.add_task(phase, total=total)
        bar.update(steps[phase], completed=done, total=total)

    async def work(session: Any) -> transfer.Imported:
        found = await tenants.find(session, tenant)
        if found is None:
            raise NotFound(f"No tenant {tenant!r}.")
        data = await asyncio.to_thread(file.read_bytes)
        return await transfer.import_file(
            session,
            tenant=found,
            porter=porter,
            data=data,
            fmt=fmt,
            actor=cli_actor(),
            source=file.name,
            progress=told,
        )

    try:
        with bar:
            done = asyncio.run(run_in_transaction(settings, work))
    except Invalid as exc:
        err().print(f"{file.name}: {exc.detail}", highlight=False, soft_wrap=True)
        for row in exc.extensions.get("rows", []):
            for e in row["errors"]:
                where = ".".join(str(p) for p in e["loc"][2:]) or "row"
                err().print(
                    f"  row {row['row']}, {where}: {e['msg']}", highlight=False, soft_wrap=True
                )
        raise typer.Exit(2) from exc
    except OfferEngineError as exc:
        err().print(str(exc.detail), highlight=False)
        raise typer.Exit(2) from exc
    console().print(
        f"Imported {done.rows:,} {porter.what}s from {file.name}: {done.created:,} created, "
        f"{done.updated:,} updated, {done.unchanged:,} unchanged.",
        highlight=False,
        soft_wrap=True,
    )


def export_objects(
    kind: Annotated[KindName, typer.Argument(help="What to export.")],
    tenant: Annotated[str, typer.Option(help="Tenant code or id.")],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="The file to write.", dir_okay=False)
    ],
    format: Annotated[
        FormatName | None, typer.Option(help="Default: the output's suffix, else jsonl.")
    ] = None,
) -> None:
    """Export every object of a kind to a file (the shape ``import`` takes back)."""
    import asyncio

    from offerengine.cli._common import database_settings
    from offerengine.db.engine import create_engine
    from offerengine.tenants import service as tenants
    from offerengine.transfer import core, kinds
    from offerengine.transfer import service as transfer

    fmt = format.value if format is not None else core.format_of(output.name, None) or "jsonl"
    settings = database_settings()

    async def work() -> int:
        from sqlalchemy.ext.asyncio import async_sessionmaker

        engine = create_engine(settings.database_url, pool_size=1)

        class Sessions:
            session_factory = async_sessionmaker(engine, expire_on_commit=False)
            is_sqlite = engine.dialect.name == "sqlite"

        try:
            async with Sessions.session_factory() as session:
                found = await tenants.find(session, tenant)
            if found is None:
                err().print(f"No tenant {tenant!r}.", highlight=False)
                raise typer.Exit(2)
            size = 0
            with output.open("wb") as out:
                async for part in transfer.export(
                    Sessions(), tenant_id=found.id, porter=kinds.PORTERS[kind.value], fmt=fmt
                ):
                    out.write(part)
                    size += len(part)
            return size
        finally:
            await engine.dispose()

    size = asyncio.run(work())
    console().print(f"Wrote {output} ({size:,} bytes, {fmt}).", highlight=False, soft_wrap=True)
