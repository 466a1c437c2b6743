"""Bulk import and streaming export of products, decisioning offers and commission rates.

- ``POST /v1/admin/tenants/{tenant}/imports/{kind}``: import a file (the body, or the multipart
  field ``file``) all or nothing, and answer what it did; a bad file is a 422 listing its bad rows;
- ``POST /v1/admin/tenants/{tenant}/import-jobs/{kind}``: the same in the background, 202 with
  a job to poll at ``GET /v1/admin/tenants/{tenant}/import-jobs/{id}``;
- ``GET /v1/admin/tenants/{tenant}/exports/{kind}?format=``: every object, streamed.

The format is the ``format`` query parameter, else the uploaded file's suffix, else the
``Content-Type``. Import bodies may be larger than other requests (``import_max_bytes``).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import BackgroundTasks, Path, Query, Request, status
from fastapi.responses import StreamingResponse
from starlette.datastructures import UploadFile

from offerengine.auth.deps import ConfigReader, ConfigWriter, CurrentActor
from offerengine.deps import Ctx, DbSession
from offerengine.errors import FieldError, NotFound, UnsupportedMedia
from offerengine.http import problems
from offerengine.http.routing import router
from offerengine.tenants.deps import PathTenant
from offerengine.transfer import core, jobs, kinds
from offerengine.transfer import service as transfer
from offerengine.transfer.schemas import FileFormat, ImportJobRead, ImportResult, KindPath

api = router(tags=["bulk"])
TENANT = "/v1/admin/tenants/{tenant}"
Kind = Annotated[KindPath, Path(description="products, decisioning-offers or commission-rates.")]
GivenFormat = Annotated[
    FileFormat | None,
    Query(description="json, jsonl, csv or parquet; default: the file's suffix or Content-Type."),
]

_FILE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
            "application/jsonl": {"schema": {"type": "string"}},
            "text/csv": {"schema": {"type": "string"}},
            "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}},
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


async def _file(
    request: Request, given: core.Format | None
) -> tuple[bytes, core.Format, str | None]:
    """The uploaded file, its format and its name."""
    media_type = request.headers.get("content-type", "")
    name: str | None = None
    if media_type.split(";")[0].strip().lower() == "multipart/form-data":
        async with request.form(max_files=1, max_fields=5) as form:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise UnsupportedMedia.field(
                    ("body", "file"), "send the file as the form field 'file'"
                )
            data = await upload.read()
            name, media_type = upload.filename, upload.content_type or ""
    else:
        data = await request.body()
    fmt = given or core.format_of(name, media_type)
    if fmt is None:
        raise UnsupportedMedia(
            "Say the file's format: ?format=json|jsonl|csv|parquet, a file name with that "
            "suffix, or its Content-Type.",
            [FieldError(("query", "format"), "json, jsonl, csv or parquet")],
        )
    return data, fmt, name


@api.post(
    f"{TENANT}/imports/{{kind}}",
    operation_id="importObjects",
    openapi_extra=_FILE_BODY,
    responses=problems.responses(415),
)
async def import_objects(
    tenant: PathTenant,
    kind: Kind,
    request: Request,
    _: ConfigWriter,
    actor: CurrentActor,
    session: DbSession,
    format: GivenFormat = None,
) -> ImportResult:
    """Create or update many objects from a file, all or nothing.

    Products and decisioning offers are matched by `product_code` and `name`; commission rates
    by `id` (a row without one is a new rate). Every row is checked as a single save would be;
    if any is bad nothing is imported, and the 422 lists the bad rows (the first 100, each with
    its row number, key and errors; `bad_rows` counts them all)."""
    data, fmt, name = await _file(request, format)
    done = await transfer.import_file(
        session,
        tenant=tenant,
        porter=kinds.PORTERS[kind],
        data=data,
        fmt=fmt,
        actor=actor,
        source=name,
    )
    return ImportResult(
        kind=kind,
        rows=done.rows,
        created=done.created,
        updated=done.updated,
        unchanged=done.unchanged,
    )


@api.post(
    f"{TENANT}/import-jobs/{{kind}}",
    operation_id="startImportJob",
    status_code=status.HTTP_202_ACCEPTED,
    openapi_extra=_FILE_BODY,
    responses=problems.responses(415),
)
async def start_import_job(
    tenant: PathTenant,
    kind: Kind,
    request: Request,
    _: ConfigWriter,
    actor: CurrentActor,
    ctx: Ctx,
    session: DbSession,
    background: BackgroundTasks,
    format: GivenFormat = None,
) -> ImportJobRead:
    """Import a file as `importObjects` does, in the background: poll the job it answers for
    its progress (rows checked, then written, of the file's) and its outcome."""
    data, fmt, name = await _file(request, format)
    porter = kinds.PORTERS[kind]
    job = jobs.create(session, tenant=tenant, porter=porter, actor=actor, file_name=name)
    await session.flush()
    # After the answer, so after the unit of work that stored the job committed.
    background.add_task(
        jobs.run,
        ctx,
        ctx.feed.announce,
        job_id=job.id,
        tenant=tenant,
        porter=porter,
        data=data,
        fmt=fmt,
        actor=actor,
        file_name=name,
    )
    return ImportJobRead.of(job, jobs.progress(job.id))


@api.get(f"{TENANT}/import-jobs/{{job_id}}", operation_id="getImportJob")
async def get_import_job(
    tenant: PathTenant,
    job_id: Annotated[uuid.UUID, Path(description="The job's id.")],
    _: ConfigReader,
    session: DbSession,
) -> ImportJobRead:
    """An import job: running (its phase and rows done), done (its counts) or failed (the
    problem that refused the file; nothing was imported)."""
    job = await jobs.get(session, tenant_id=tenant.id, job_id=job_id)
    if job is None:
        raise NotFound(f"No import job {job_id}.")
    return ImportJobRead.of(job, jobs.progress(job.id))


@api.get(
    f"{TENANT}/exports/{{kind}}",
    operation_id="exportObjects",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "Every object, in the shape the import takes.",
            "content": {
                media: {"schema": {"type": "string"}} for media in core.MEDIA_TYPES.values()
            },
        }
    },
)
async def export_objects(
    tenant: PathTenant,
    kind: Kind,
    _: ConfigReader,
    ctx: Ctx,
    format: Annotated[FileFormat, Query(description="jsonl, csv, parquet or json.")] = "jsonl",
) -> StreamingResponse:
    """Every object of the kind, streamed a page at a time (memory holds one page, whatever
    the number of objects), in the shape the import takes: an export imports back unchanged."""
    suffix = "parquet" if format == "parquet" else format
    filename = f"{tenant.code.lower()}-{kind}.{suffix}"
    return StreamingResponse(
        transfer.export(ctx, tenant_id=tenant.id, porter=kinds.PORTERS[kind], fmt=format),
        media_type=core.MEDIA_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
