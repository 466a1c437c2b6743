"""The ``offerengine`` command: one Typer app assembled from its topics, each in a module of its
own. The commands are listed in ``offerengine --help`` in the order they are added here.

- :mod:`._serving`: ``migrate``, ``serve``
- :mod:`._demo`: ``demo``
- :mod:`._access`: ``create-key``, ``create-user``
- :mod:`._records`: ``consume``, ``replay``, ``profiles rebuild-features``
- :mod:`._batch`: ``decide-batch``
- :mod:`._learning`: the bandits' ``train``, ``export-logs`` and ``evaluate-policy``
- :mod:`._promotions`: ``train-uplift``, ``retrain-uplift``, ``recommend-promotions``
- :mod:`._revenue`: ``simulate-bookings``, ``import-bookings``, ``forecast``
- :mod:`._transfer`: ``import`` and ``export`` (products, decisioning offers, commission rates)
- :mod:`._templates`: ``templates list`` and ``templates apply`` (the template library)

What they share (the consoles, the settings, the database check, one transaction per piece of
work) is :mod:`._common`'s.

``offerengine --help`` builds every command's options, so the command modules import only Typer
and :mod:`._common` at import time; what a command needs (SQLAlchemy, the use cases, Rich, numpy,
Dask) it imports when it runs (``tests/unit/test_cli_startup.py`` holds them to it). The help is
Click's plain layout: Typer's Rich layout prints ``<bool>`` beside every flag and imports Rich.
"""

from __future__ import annotations

from typing import Annotated

import typer

from offerengine import __version__
from offerengine.cli._access import create_key, create_user
from offerengine.cli._batch import decide_batch
from offerengine.cli._demo import demo
from offerengine.cli._learning import evaluate_policy, export_logs, train
from offerengine.cli._promotions import recommend_promotions, retrain_uplift, train_uplift
from offerengine.cli._records import consume, rebuild_features, replay
from offerengine.cli._revenue import forecast, import_bookings, simulate_bookings
from offerengine.cli._serving import migrate, serve
from offerengine.cli._templates import apply_set, list_sets
from offerengine.cli._transfer import export_objects, import_objects

__all__ = ["app", "main"]

app = typer.Typer(
    help="OfferEngine: offer management and decisioning. Settings come from OFFERENGINE_* variables.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    # A traceback that lists every frame's locals runs to hundreds of lines and may show secrets.
    pretty_exceptions_show_locals=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"offerengine {__version__}")
        raise typer.Exit


@app.callback()
def main_options(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """OfferEngine."""


app.command("migrate")(migrate)
app.command("demo")(demo)
app.command("create-key")(create_key)
app.command("create-user")(create_user)
app.command("serve")(serve)
app.command("consume")(consume)
app.command("decide-batch")(decide_batch)
app.command("train")(train)
app.command("export-logs")(export_logs)
app.command("evaluate-policy")(evaluate_policy)
app.command("train-uplift")(train_uplift)
app.command("retrain-uplift")(retrain_uplift)
app.command("recommend-promotions")(recommend_promotions)
app.command("replay")(replay)
app.command("simulate-bookings")(simulate_bookings)
app.command("import-bookings")(import_bookings)
app.command("forecast")(forecast)
app.command("import")(import_objects)
app.command("export")(export_objects)

profiles = typer.Typer(
    help="Profiles: their features from behaviour.", no_args_is_help=True, rich_markup_mode=None
)
profiles.command("rebuild-features")(rebuild_features)
app.add_typer(profiles, name="profiles")

template_sets = typer.Typer(
    help="The template library: sets of products, bundles and fare families.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
template_sets.command("list")(list_sets)
template_sets.command("apply")(apply_set)
app.add_typer(template_sets, name="templates")


def main() -> None:
    app()
