"""The API reference at ``/docs``: Swagger UI, served whole by this app, so that it works with
no internet (FastAPI's own page loads it from a CDN).

Swagger UI's files come from the ``fastapi-offline`` package (its ``static`` folder: Swagger UI
5, which reads OpenAPI 3.1 documents as FastAPI writes them, and its favicon), pinned in the
project's dependencies and mounted at ``/docs/assets``; the page is FastAPI's own, pointed at
them. Like ``/openapi.json``, the page needs no key."""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse

DOCS = "/docs"
ASSETS = Path(fastapi_offline.__file__).parent / "static"
# Nothing from outside: no validator badge calling swagger.io, no fonts.
PARAMETERS = {"validatorUrl": None, "tryItOutEnabled": False, "persistAuthorization": True}


def install(app: FastAPI) -> None:
    """Serve the API reference at ``/docs`` and its files at ``/docs/assets``."""
    app.mount(f"{DOCS}/assets", StaticFiles(directory=ASSETS), name="api-docs-assets")

    async def api_reference(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} API reference",
            swagger_js_url=f"{root}{DOCS}/assets/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{DOCS}/assets/swagger-ui.css",
            swagger_favicon_url=f"{root}{DOCS}/assets/favicon.png",
            swagger_ui_parameters=PARAMETERS,
        )

    app.add_api_route(DOCS, api_reference, methods=["GET"], include_in_schema=False)
