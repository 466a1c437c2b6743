from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import Query, Request, Response
from pydantic import BaseModel, Field
from starlette.datastructures import UploadFile

from offerengine import text as unstorable
from offerengine.auth.deps import ConfigReader, ConfigWriter, CurrentActor
from offerengine.catalog import core, service
from offerengine.catalog.schemas import (
    MAX_BULK_ROWS,
    BulkResult,
    ProductBulk,
    ProductExport,
    ProductRead,
    RuntimeProduct,
    RuntimeProductList,
)
from offerengine.deps import DbSession
from offerengine.errors import FieldError, Invalid, MalformedInput, NotFound, UnsupportedMedia
from offerengine.http import problems
from offerengine.http.body import validate
from offerengine.http.routing import router
from offerengine.http.runtime import Call, RuntimeRouter, respond
from offerengine.tenants.deps import PathTenant
from offerengine.versioning.kind_routes import RouteDocs, add_kind_routes

api = router(tags=["catalog"])
TENANT_PRODUCTS = "/v1/admin/tenants/{tenant}/products"


def product_filters(
    type: Annotated[
        str | None, Query(min_length=1, max_length=50, description="Product type, e.g. SEAT.")
    ] = None,
    category: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    active: Annotated[
        bool | None, Query(description="Only active (true) or inactive (false).")
    ] = None,
    q: Annotated[
        str | None,
        Query(min_length=1, max_length=200, description="Search code, name, description."),
    ] = None,
) -> service.ProductFilter:
    return service.ProductFilter(product_type=type, category=category, active=active, q=q)


add_kind_routes(
    api,
    service.PRODUCT_KIND,
    filters=product_filters,
    docs=RouteDocs(
        list="The tenant's products, by code, filtered and searched, a page at a time.",
        create="Create a product. Accepts seed 001's `base_price_nuc` (minor units of NUC) as "
        "well.",
        get="A product; its `ETag` is its version, for `If-Match` on a later change.",
        update="Replace a product's fields. With `If-Match` (or `version`), a stale version is "
        "a 409.",
        delete="Delete a product. Its history stays; a rollback recreates it.",
    ),
)


_BULK_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        {  # ProductBulk: its rows are validated one by one, as ProductCreate
                            "type": "object",
                            "properties": {
                                "products": {
                                    "type": "array",
                                    "maxItems": MAX_BULK_ROWS,
                                    "items": {"$ref": "#/components/schemas/ProductCreate"},
                                }
                            },
                            "required": ["products"],
                            "additionalProperties": False,
                        },
                        {
                            "type": "array",
                            "maxItems": MAX_BULK_ROWS,
                            "items": {"$ref": "#/components/schemas/ProductCreate"},
                        },
                    ]
                }
            },
            "text/csv": {
                "schema": {"type": "string"},
                "example": "product_type,product_code,name,base_price,currency\n"
                "BAG,BAG-23KG,Checked bag 23 kg,35.00,USD\n",
            },
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                    "required": ["file"],
                }
            },
        },
    }
}


@api.post(
    f"{TENANT_PRODUCTS}/bulk",
    operation_id="bulkUpsertProducts",
    openapi_extra=_BULK_BODY,
    responses=problems.responses(415),
)
async def bulk_upsert_products(
    tenant: PathTenant, request: Request, _: ConfigWriter, actor: CurrentActor, session: DbSession
) -> BulkResult:
    """Create or update many products by `product_code`, all or nothing.

    Send JSON (`{"products": [...]}` or a bare list), a CSV body with `Content-Type: text/csv`, or a
    CSV file uploaded as the form field `file` (the columns of the CSV export). If any row is bad
    nothing is imported, and the 422 lists every bad row with its errors.
    """
    rows, row_errors = await _bulk_rows(request)
    outcome = await service.bulk_upsert(
        session, tenant=tenant, rows=rows, actor=actor, row_errors=row_errors
    )
    return BulkResult(
        created=len(outcome.created),
        updated=len(outcome.updated),
        unchanged=len(outcome.unchanged),
        items=[ProductRead.of(p) for p in outcome.all],
    )


Rows = tuple[list[dict[str, Any]], dict[int, list[FieldError]]]


async def _bulk_rows(request: Request) -> Rows:
    """The rows of a bulk import, from JSON (the seed's object or a bare list), a CSV body, or a
    CSV file uploaded as the form field ``file``; with the errors found while reading them."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type == "multipart/form-data":
        async with request.form(max_files=1, max_fields=5) as form:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise Invalid.field(("body", "file"), "send the CSV file as the form field 'file'")
            return _csv_rows(await upload.read())
    body = await request.body()
    if media_type in ("text/csv", "application/csv"):
        return _csv_rows(body)
    if media_type in ("application/json", ""):
        return _json_rows(body), {}
    raise UnsupportedMedia(
        f"Send JSON, text/csv or a multipart file upload, not {media_type!r}.",
        [
            FieldError(
                ("header", "Content-Type"),
                "expected application/json, text/csv or multipart/form-data",
            )
        ],
    )


def _csv_rows(body: bytes) -> Rows:
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MalformedInput.field(("body",), "the CSV is not UTF-8 text") from exc
    rows, problems = core.read_csv(text)
    header = [p for p in problems if p.loc[:2] == ("body", "header")]
    if header:
        raise Invalid(header[0].msg, header)
    unstorable.check(rows, ("products",))  # cells, and the JSON of metadata cells
    if len(rows) > MAX_BULK_ROWS:
        raise Invalid.field(("body",), f"at most {MAX_BULK_ROWS} rows per import")
    by_row: dict[int, list[FieldError]] = {}
    for problem in problems:
        by_row.setdefault(int(problem.loc[1]), []).append(problem)
    return rows, by_row


def _json_rows(body: bytes) -> list[dict[str, Any]]:
    unstorable.check_json(body)
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise MalformedInput.field(("body",), "not valid JSON") from exc
    if isinstance(data, list):
        data = {"products": data}
    return validate(ProductBulk, data).products


@api.get(
    f"{TENANT_PRODUCTS}/export",
    operation_id="exportProducts",
    response_model=ProductExport,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
async def export_products(
    tenant: PathTenant,
    _: ConfigReader,
    session: DbSession,
    format: Annotated[Literal["json", "csv"], Query(description="json or csv.")] = "json",
) -> Response:
    """Every product, in the shape bulk import takes (so an export can be re-imported)."""
    rows = await service.export(session, tenant_id=tenant.id)
    filename = f"{tenant.code.lower()}-products.{format}"
    disposition = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if format == "csv":
        return Response(
            core.write_csv(rows), media_type="text/csv; charset=utf-8", headers=disposition
        )
    return Response(
        ProductExport(products=rows).model_dump_json(),
        media_type="application/json",
        headers=disposition,
    )


# --- run time: served from the tenant's compiled snapshot, never from the database ---------------


runtime = RuntimeRouter(tags=["run time"])


class CatalogQuery(BaseModel):
    type: str | None = Field(default=None, min_length=1, max_length=50)
    category: str | None = Field(default=None, min_length=1, max_length=100)


class ProductPath(BaseModel):
    product_code: str = Field(max_length=50, description="The product's code.")


@runtime.get(
    "/v1/catalog/products",
    operation_id="listCatalogProducts",
    query=CatalogQuery,
    response=RuntimeProductList,
)
async def list_catalog_products(call: Call, query: CatalogQuery) -> Response:
    """Active products of the key's tenant, from its compiled snapshot (runtime key)."""
    index = call.snapshot.catalog
    return respond(
        index.encode_list(index.select(product_type=query.type, category=query.category))
    )


@runtime.get(
    "/v1/catalog/products/{product_code}",
    operation_id="getCatalogProduct",
    params=ProductPath,
    response=RuntimeProduct,
)
async def get_catalog_product(call: Call, params: ProductPath) -> Response:
    """One active product of the key's tenant, by code, from its compiled snapshot."""
    encoded = call.snapshot.catalog.encoded.get(params.product_code)
    if encoded is None:
        raise NotFound(f"No active product {params.product_code!r}.")
    return respond(encoded)
