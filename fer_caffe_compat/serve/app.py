"""The FastAPI application: routes, request checks and one-line JSON errors."""
from __future__ import annotations

from importlib import resources

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from .model import EmotionModel, RequestError

MAX_BYTES = 10 * 2**20
_RAW_TYPES = ("application/octet-stream",)


def _page() -> str:
    return resources.files(__package__).joinpath("page.html").read_text(encoding="utf-8")


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _is_image_type(ctype: str) -> bool:
    return ctype.startswith("image/") or ctype in _RAW_TYPES


def create_app(model: EmotionModel, max_bytes: int = MAX_BYTES) -> FastAPI:
    """The service over a loaded model; bodies over ``max_bytes`` are refused with 413."""
    app = FastAPI(title="FER emotion service", docs_url="/docs", redoc_url=None)
    page = _page()

    @app.exception_handler(RequestError)
    async def request_error(_: Request, e: RequestError) -> JSONResponse:
        return _error(e.status, e.message)

    @app.exception_handler(Exception)
    async def internal_error(_: Request, e: Exception) -> JSONResponse:  # never a traceback to the client
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        return _error(500, f"internal error: {first}")

    @app.get("/", response_class=HTMLResponse)
    async def index() -> HTMLResponse:
        return HTMLResponse(page)

    @app.get("/health")
    async def health() -> dict:
        return model.health()

    @app.post("/predict")
    async def predict(request: Request) -> dict:
        data = await _image_bytes(request, max_bytes)
        return await run_in_threadpool(model.predict, data)

    return app


async def _image_bytes(request: Request, max_bytes: int) -> bytes:
    """The image of a request: a multipart/form-data body's ``file`` field, or the body itself when its
    Content-Type is image/* (or application/octet-stream). Refused: another type (415), a body over
    ``max_bytes`` (413, read no further), an empty body or a form without a file (400)."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    multipart = ctype == "multipart/form-data"
    if not multipart and not _is_image_type(ctype):
        raise RequestError(415, f"unsupported content type {ctype or '(none)'!r}: send image/* or "
                                "multipart/form-data with a 'file' field")
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > max_bytes:
        raise RequestError(413, f"body of {int(length)} bytes is over the limit of {max_bytes} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise RequestError(413, f"body is over the limit of {max_bytes} bytes")
    if not body:
        raise RequestError(400, "empty body: send an image")
    if not multipart:
        return bytes(body)

    async def replay() -> dict:
        return {"type": "http.request", "body": bytes(body), "more_body": False}

    try:
        form = await Request(request.scope, replay).form(max_files=1, max_fields=8)
    except Exception as e:  # python-multipart's or Starlette's complaint about the form
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise RequestError(400, f"malformed multipart body: {first}") from None
    part = form.get("file")
    if not isinstance(part, UploadFile):
        raise RequestError(400, "multipart body has no 'file' field holding an image")
    ptype = (part.content_type or "").split(";")[0].strip().lower()
    if ptype and not _is_image_type(ptype):
        raise RequestError(415, f"unsupported content type {ptype!r} for the file: send an image")
    data = await part.read()
    await form.close()
    if not data:
        raise RequestError(400, "empty file: send an image")
    return data
