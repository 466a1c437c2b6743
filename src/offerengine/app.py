"""The application factory. Nothing is built at import time: ``create_app(settings)`` builds the app,
and its lifespan opens the database engine, Redis client, snapshot store and change feed."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.types import Receive, Scope, Send

from offerengine import __version__
from offerengine.auth.router import api as api_keys_router
from offerengine.bundles.router import api as bundles_router
from offerengine.campaigns.router import api as campaigns_router
from offerengine.campaigns.worker import RetrainSchedule
from offerengine.catalog.router import api as catalog_router
from offerengine.catalog.router import runtime as catalog_runtime
from offerengine.commerce.router import api as commerce_router
from offerengine.commerce.router import runtime as commerce_runtime
from offerengine.context import open_context
from offerengine.decisioning.router import api as decisioning_router
from offerengine.decisioning.router import runtime as decisioning_runtime
from offerengine.events.router import runtime as events_runtime
from offerengine.experiments.router import api as experiments_router
from offerengine.experiments.router import runtime as experiments_runtime
from offerengine.flags.router import api as flags_router
from offerengine.flags.router import ofrep as ofrep_runtime
from offerengine.flags.router import runtime as flags_runtime
from offerengine.health.router import api as health_router
from offerengine.health.router import bench as bench_router
from offerengine.http import aliases, body, problems
from offerengine.http.limits import Guard
from offerengine.http.middleware import RequestMiddleware
from offerengine.http.openapi import tidy as tidy_document
from offerengine.http.path_ids import PathIds
from offerengine.http.runtime import RuntimeApp, documented_routes
from offerengine.inventory.router import api as inventory_router
from offerengine.inventory.router import runtime as inventory_runtime
from offerengine.learning.router import api as learning_router
from offerengine.loyalty.router import api as loyalty_router
from offerengine.loyalty.router import runtime as loyalty_runtime
from offerengine.ndc.router import runtime as ndc_runtime
from offerengine.network.router import api as network_router
from offerengine.observability.logging import configure_logging, get_logger
from offerengine.observability.metrics import Metrics
from offerengine.orders.router import runtime as orders_runtime
from offerengine.pricing.router import api as pricing_router
from offerengine.profiles.admin import api as segments_router
from offerengine.profiles.router import runtime as profiles_runtime
from offerengine.promotions.router import api as promotions_router
from offerengine.promotions.router import runtime as promotions_runtime
from offerengine.recording.router import api as records_router
from offerengine.revenue.router import api as revenue_router
from offerengine.revenue.worker import ForecastSchedule
from offerengine.rulebook.router import api as rulebook_router
from offerengine.rules.router import api as rules_router
from offerengine.settings import Settings
from offerengine.shopping.router import api as shopping_router
from offerengine.shopping.router import runtime as shopping_runtime
from offerengine.starters.router import api as template_sets_router
from offerengine.tenants.router import api as tenants_router
from offerengine.transfer.router import api as transfer_router
from offerengine.versioning.router import api as audit_router
from offerengine.web import router as web
from offerengine.webhooks.router import api as webhooks_router

log = get_logger("offerengine.app")
# The run-time app's operations, each domain's (see offerengine.http.runtime).
RUNTIME_ROUTERS = (
    decisioning_runtime,
    commerce_runtime,
    shopping_runtime,
    events_runtime,
    profiles_runtime,
    promotions_runtime,
    flags_runtime,
    ofrep_runtime,
    experiments_runtime,
    catalog_runtime,
    inventory_runtime,
    orders_runtime,
    loyalty_runtime,
    ndc_runtime,
)
DEFAULT_GC_THRESHOLDS = gc.get_threshold()
GC_THRESHOLDS = (50_000, 20, 20)  # young objects per collection; collections per older one

DESCRIPTION = """
OfferEngine is a multi-tenant offer management and decisioning engine.

* **Admin API** (`/v1/admin/…`): tenants, API keys, catalog, version history and audit.
* **Run-time API** (`/v1/…`): answered from each tenant's compiled configuration snapshot.

Every request needs `Authorization: Bearer <key>`, except `/healthz`, `/readyz`, `/docs` and
`/openapi.json`. Errors are RFC 9457 `application/problem+json` documents.
"""

TAGS = [
    {"name": "tenants", "description": "Airlines and marketplaces (platform key)."},
    {"name": "api keys", "description": "Tenant-scoped keys with a role (owner key)."},
    {"name": "catalog", "description": "Products: fares, ancillaries, marketplace items."},
    {"name": "network", "description": "The airports an airline serves."},
    {"name": "rules", "description": "The rules language: vocabulary and validation."},
    {
        "name": "business rules",
        "description": "Every kind of rule in seed 001's one shape (docs/seeds.md).",
    },
    {"name": "pricing", "description": "Pricing rules, and simulating a price with its trace."},
    {"name": "feature flags", "description": "Flags with rollouts, targeting rules and variants."},
    {"name": "experiments", "description": "A/B tests: sticky assignment, exposures, results."},
    {"name": "openfeature", "description": "OFREP, the OpenFeature Remote Evaluation Protocol."},
    {"name": "flights and inventory", "description": "Flights, schedules, inventory rules."},
    {
        "name": "revenue management",
        "description": "Fare family sets; each flight's forecasts, booking limits, bid prices.",
    },
    {"name": "bundles", "description": "Bundle templates, and previews of their offers."},
    {
        "name": "template sets",
        "description": "The template library: sets of products, bundles and fare families.",
    },
    {"name": "shopping", "description": "Offer rules and fare settings (taxes, rates)."},
    {
        "name": "quotes and commissions",
        "description": "Commission rates, fee and tax rules, coupons; quote analytics.",
    },
    {"name": "orders", "description": "Orders from offers: hold, confirm, cancel (runtime key)."},
    {"name": "ndc", "description": "IATA NDC 21.3 messages as JSON (docs/ndc.md; runtime key)."},
    {"name": "loyalty", "description": "Loyalty programmes, tiers, members and points ledgers."},
    {"name": "records", "description": "Run-time records the database refused, re-driven."},
    {"name": "webhooks", "description": "Signed webhook deliveries, their attempts, the secret."},
    {"name": "audit", "description": "Who changed what, when."},
    {"name": "run time", "description": "Hot-path endpoints, served from the compiled snapshot."},
    {"name": "health", "description": "Liveness, readiness, metrics."},
    {
        "name": "seed aliases",
        "description": "The seeds' /api/v1/… paths, aliases of ours (docs/seeds.md).",
    },
]


def _lifespan(
    settings: Settings, metrics: Metrics
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """What a worker does as it starts and stops: open and close the app context, and keep the
    garbage collector out of the requests' way."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        context = await open_context(settings, metrics)
        app.state.context = context
        # What exists now (the app, its schemas, the ORM) lives as long as the process: move it
        # out of the collector's way, so that the cycle collections that allocation-heavy
        # requests trigger do not walk ~270k objects each time (~10% of a quote, bench/quote.py).
        gc.collect()
        gc.freeze()
        # Requests allocate many short-lived objects (a new search's offers, a quote's lines)
        # while the worker's caches hold many long-lived ones: with the default thresholds the
        # collector ran every 700 allocations and walked those caches often (measured: over
        # 40 % of a new search's time under load, bench/shop.py). Collect far less often; the
        # request path makes few reference cycles.
        gc.set_threshold(*GC_THRESHOLDS)
        log.info(
            "started",
            version=__version__,
            database=context.engine.dialect.name,
            redis=context.redis is not None,
        )
        forecasts = ForecastSchedule(
            context.session_factory,
            seconds=settings.forecast_interval_seconds,
            is_sqlite=context.is_sqlite,
        )
        forecasts.start()
        retraining = RetrainSchedule(
            context.session_factory,
            seconds=settings.uplift_retrain_seconds,
            is_sqlite=context.is_sqlite,
        )
        retraining.start()
        try:
            yield
        finally:
            try:
                await forecasts.stop()
                await retraining.stop()
            finally:
                await context.close()
            gc.unfreeze()  # an app made and closed again (tests) leaves nothing uncollectable
            gc.set_threshold(*DEFAULT_GC_THRESHOLDS)

    return lifespan


def create_app(settings: Settings) -> Server:
    """Build the API for ``settings``."""
    configure_logging(settings)
    metrics = Metrics()
    admin = FastAPI(
        title="OfferEngine",
        version=__version__,
        description=DESCRIPTION,
        openapi_tags=TAGS,
        lifespan=_lifespan(settings, metrics),
        docs_url=None,  # /docs is served with no CDN by web.install (web/apidocs.py)
        redoc_url=None,
    )
    admin.state.settings = settings
    problems.install(admin)
    # Routes are added to the app's own flat list rather than through include_router, whose
    # per-router wrapper costs ~11 µs per request on FastAPI 0.165 (bench/catalog.py); an
    # APIRouter's routes already carry their full path, responses and dependencies. Health
    # first: the routes are matched in order.
    routers = [
        health_router,
        tenants_router,
        api_keys_router,
        rules_router,
        rulebook_router,
        catalog_router,
        pricing_router,
        flags_router,
        experiments_router,
        decisioning_router,
        learning_router,
        segments_router,
        promotions_router,
        campaigns_router,
        network_router,
        inventory_router,
        revenue_router,
        loyalty_router,
        bundles_router,
        template_sets_router,
        shopping_router,
        commerce_router,
        transfer_router,
        records_router,
        webhooks_router,
        audit_router,
    ]
    if settings.bench_endpoints:
        routers.insert(0, bench_router)
    for router in routers:
        admin.router.routes.extend(router.routes)
    admin.router.routes.extend(aliases.admin_aliases(admin.router.routes))  # docs/seeds.md
    web.install(admin, settings)  # the admin UI, last: people's pages, not the hot path
    operations = [op for r in RUNTIME_ROUTERS for op in r.operations]
    runtime = RuntimeApp(
        [*operations, *aliases.runtime_aliases(operations)],
        admin=admin,
        state=admin.state,
        guard=Guard.from_settings(settings),
    )
    _document(admin, runtime)
    admin.state.path_ids = PathIds.of(
        admin.router.routes, ((op.method, op.path_format) for op in runtime.operations)
    )
    return Server(admin, runtime, metrics, settings)


class Server:
    """The served ASGI app: one middleware for what every request needs (request id, body limit,
    metrics, access log), then the run-time app, which hands every request that is not a
    run-time operation (and the lifespan) to the admin app. ``state`` is the admin app's: its
    lifespan puts the app context there."""

    def __init__(
        self, admin: FastAPI, runtime: RuntimeApp, metrics: Metrics, settings: Settings
    ) -> None:
        self.admin = admin
        self.runtime = runtime
        self.state = admin.state
        self._app = RequestMiddleware(
            runtime,
            metrics=metrics,
            max_body_bytes=settings.max_body_bytes,
            import_max_bytes=settings.import_max_bytes,
            access_log=settings.access_log,
            routes=lambda: [*runtime.operations, *admin.router.routes],
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)

    def openapi(self) -> dict[str, Any]:
        return self.admin.openapi()


def _document(app: FastAPI, runtime: RuntimeApp) -> None:
    """The OpenAPI document: the admin app's routes, the run-time operations, and the Problem
    schema that the error responses refer to."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=[*app.routes, *documented_routes(runtime.operations)],
                tags=app.openapi_tags,
            )
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            problem = problems.Problem.model_json_schema(
                ref_template="#/components/schemas/{model}"
            )
            components.update(problem.pop("$defs", {}))
            components["Problem"] = problem
            for name, model in body.DOCUMENTED.items():  # admin routes that read bodies raw
                found = model.model_json_schema(ref_template="#/components/schemas/{model}")
                components.update(found.pop("$defs", {}))
                components[name] = found
            app.openapi_schema = tidy_document(schema)  # names clients can generate
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def app_factory() -> Server:
    """For ``uvicorn --factory``: the settings come from the environment of the worker."""
    return create_app(Settings())
