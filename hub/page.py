"""The live demo page at `/`: one HTML file, its script and style under
`/static/`, all talking to the real API of the same origin (no build step, no
third-party host). It is a demo of the API, not the web client.

The page is public (no token is needed to load it; it logs in by itself), and
its Content-Security-Policy allows only this origin's scripts, styles and
sockets, so no inline script or style can run even if a message body were ever
put into the DOM as markup (the script never does: bodies go in as text)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Final

from litestar import Response, get
from litestar.static_files import create_static_files_router

#: Beside this module, so that it works from a wheel too (package data).
STATIC_DIR: Final = Path(__file__).parent / "static"

CONTENT_SECURITY_POLICY: Final = (
    "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; "
    "style-src 'self'; script-src 'self'"
)
PAGE_HEADERS: Final = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


@cache
def _index() -> bytes:
    return (STATIC_DIR / "index.html").read_bytes()


@get("/", exclude_from_auth=True, include_in_schema=False, media_type="text/html")
async def index() -> Response[bytes]:
    """The demo page."""
    return Response(_index(), media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)


static_files = create_static_files_router(
    path="/static",
    directories=[STATIC_DIR],
    opt={"exclude_from_auth": True},
    include_in_schema=False,
)

ROUTES = [index, static_files]
