"""assistant serve: the HTTP API and the browser chat page (uvicorn)."""
from __future__ import annotations

import os
import socket

import typer

from ..cli import app, err, fail, user_errors

LEVELS = ["critical", "error", "warning", "info", "debug"]


@app.command()
@user_errors
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="监听地址 bind address"),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="端口 port"),
    dense_background: bool = typer.Option(True, "--dense-background/--no-dense-background",
                                          help="在服务进程内补全向量索引 finish the dense index in the background"),
    log_level: str = typer.Option("info", "--log-level", help="critical/error/warning/info/debug"),
):
    """启动服务 start the API and the chat page (OpenAI-compatible /v1/chat/completions)."""
    import uvicorn

    if log_level not in LEVELS:
        fail(f"未知日志级别 unknown log level: {log_level}; choose from {', '.join(LEVELS)}")

    try:  # a clear message instead of uvicorn's traceback when the port is taken
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(fam, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, port))
    except OSError as exc:
        fail(f"无法监听 cannot listen on {host}:{port}: {exc.strerror or exc}")
    if dense_background:
        os.environ.setdefault("ASSISTANT_DENSE_BACKGROUND", "1")  # an explicit env value still wins
    else:
        os.environ["ASSISTANT_DENSE_BACKGROUND"] = "0"
    shown = f"[{host}]" if ":" in host else host
    print(f"打开 open http://{shown}:{port}/", flush=True)
    err.print(f"API 文档 docs: http://{shown}:{port}/docs  ·  健康 health: http://{shown}:{port}/healthz", soft_wrap=True)
    uvicorn.run("api.app:create_app", factory=True, host=host, port=port, log_level=log_level)
