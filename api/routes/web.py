"""The browser chat page (/ and /static) and an offline-friendly /docs."""
from __future__ import annotations

import html
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

STATIC = Path(__file__).resolve().parent.parent / "static"
router = APIRouter(include_in_schema=False)


@router.get("/")
def index():
    return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


@router.get("/docs")
def docs(request: Request):
    """Swagger UI needs CDN assets; offline, the endpoint list rendered here stays visible instead."""
    app = request.app
    page = get_swagger_ui_html(openapi_url=app.openapi_url, title=f"{app.title} API").body.decode()
    rows = []
    for path, ops in app.openapi().get("paths", {}).items():
        for method, op in ops.items():
            rows.append(f"<tr><td><code>{method.upper()}</code></td><td><code>{html.escape(path)}</code></td>"
                        f"<td>{html.escape(op.get('summary', ''))}</td></tr>")
    fallback = (
        '<div id="offline-docs" style="font-family:sans-serif;max-width:960px;margin:2em auto">'
        "<h1>明责 API</h1><p>Swagger UI 需要联网加载资源；离线时请参考下表或 "
        '<a href="/openapi.json">/openapi.json</a>。 Swagger UI needs CDN assets; offline, use this list or '
        '<a href="/openapi.json">/openapi.json</a>.</p><table border="1" cellpadding="4" style="border-collapse:collapse">'
        + "".join(rows) + "</table></div>"
        "<script>window.addEventListener('load',function(){if(window.SwaggerUIBundle){"
        "var d=document.getElementById('offline-docs');d&&d.remove();}});</script>"
    )
    return HTMLResponse(page.replace("<body>", "<body>" + fallback, 1))
