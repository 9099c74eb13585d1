"""The web pages: the residents' trip planner (`/`), the planners' policy workspace
(`/planner`) and the providers' status board (`/providers-board`), with their assets under
`/static`.

`fairtrip serve` serves them itself: the HTML, CSS and JavaScript modules are package data
of `api` (`api/static/`), written in the project, with no build step and nothing fetched
from elsewhere. The pages are clients of the public API like any other; this module only
hands out files. Each page is sent with a Content-Security-Policy that allows nothing but
this server, so a page that tried to load a font, a script or a tile from the internet
would fail loudly in the browser's console instead of quietly depending on it.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from api.errors import ApiError

#: the pages' files, shipped inside the package (pyproject's package-data)
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
#: where the assets are served (FastAPIOffline's docs assets live under /static/docs)
STATIC_URL = "/static"
#: page path -> its HTML file in STATIC_DIR
PAGES: dict[str, str] = {
    "/": "index.html",
    "/planner": "planner.html",
    "/providers-board": "providers.html",
}
#: only this server: scripts are files (no inline script), requests go to the API only;
#: inline styles stay allowed (they load nothing)
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    # a page is small; revalidating it on every load keeps a shared link current
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

router = APIRouter(include_in_schema=False)


def page_response(filename: str) -> FileResponse:
    """One page's HTML with the page headers; 404 when the file is not shipped."""
    path = STATIC_DIR / filename
    if not path.is_file():
        raise ApiError(404, "not_found", f"the page file {filename} is not installed")
    return FileResponse(path, media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)


@router.get("/", response_class=FileResponse)
def trip_planner() -> FileResponse:
    """Residents: plan a trip."""
    return page_response(PAGES["/"])


@router.get("/planner", response_class=FileResponse)
def policy_workspace() -> FileResponse:
    """Planners: the policy workspace."""
    return page_response(PAGES["/planner"])


@router.get("/providers-board", response_class=FileResponse)
def providers_board() -> FileResponse:
    """Providers: the status board."""
    return page_response(PAGES["/providers-board"])


def install_pages(app: FastAPI) -> None:
    """Serve the pages and mount their assets (called once by `api.app.create_app`)."""
    app.include_router(router)
    app.mount(STATIC_URL, StaticFiles(directory=STATIC_DIR), name="static")
