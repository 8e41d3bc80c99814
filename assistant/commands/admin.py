"""Administration: API keys, the audit log, index repair.

assistant keys create --role judge --unit 某某法院 [--name 张三]   (prints the key once)
assistant keys list | assistant keys revoke KEY_ID
assistant audit verify (exit 0 intact, 1 with the first bad record) | assistant audit export --out audit.csv
assistant repair (detect a damaged lexical or dense index and rebuild it from the sources)
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from ..cli import _emit, app, err, user_errors
from ..config import get_settings

keys_app = typer.Typer(no_args_is_help=True, help="API 密钥 API keys (roles: judge prosecutor police trainer admin)")
audit_app = typer.Typer(no_args_is_help=True, help="审计日志 audit log (hash-chained, append-only)")
app.add_typer(keys_app, name="keys")
app.add_typer(audit_app, name="audit")


def _keys():
    from ..security.keys import KeyStore

    return KeyStore(get_settings().resolved_keys_db())


def _audit():
    from ..security.audit import AuditLog

    return AuditLog(get_settings().resolved_audit_db())


@keys_app.command("create")
@user_errors
def keys_create(
    role: str = typer.Option(..., "--role", help="judge / prosecutor / police / trainer / admin"),
    unit: str = typer.Option(..., "--unit", help="单位 unit, e.g. 某某市中级人民法院"),
    name: str = typer.Option("", "--name", help="持有人或用途 holder or purpose"),
    as_json: bool = typer.Option(False, "--json"),
):
    """新建密钥 create a key (shown once; only its salted hash is stored)."""
    key, p = _keys().create(role, unit, name)
    if as_json:
        _emit({"key": key, **p.to_dict()}, True)
        return
    sys.stdout.write(key + "\n")
    err.print(f"已创建 created key {p.key_id} · {p.role} · {p.unit}. 密钥只显示这一次，请妥善保存 "
              "the key is shown only once; store it safely.")


@keys_app.command("list")
@user_errors
def keys_list(as_json: bool = typer.Option(False, "--json")):
    """列出密钥 list keys (never the secrets)."""
    rows = _keys().list()
    if as_json:
        _emit(rows, True)
        return
    t = Table("id", "role", "unit", "name", "created", "revoked")
    for r in rows:
        t.add_row(r["id"], r["role"], r["unit"], r["name"] or "", r["created_at"], r["revoked_at"] or "")
    Console().print(t if rows else "没有密钥 no keys")


@keys_app.command("revoke")
@user_errors
def keys_revoke(key_id: str = typer.Argument(..., help="密钥 id (from `assistant keys list`)")):
    """吊销密钥 revoke a key (takes effect on the next request)."""
    r = _keys().revoke(key_id)
    err.print(f"已吊销 revoked {r['id']} ({r['role']} · {r['unit']}) at {r['revoked_at']}")


@audit_app.command("verify")
@user_errors
def audit_verify(as_json: bool = typer.Option(False, "--json")):
    """校验审计链 verify the hash chain: exit 0 intact, exit 1 with the first bad record."""
    res = _audit().verify()
    if as_json:
        _emit(res, True)
    elif res["ok"]:
        sys.stdout.write(f"intact 完整: {res['records']} records, head {res['head']}\n")
    else:
        sys.stdout.write(f"TAMPERED 已被篡改: first bad record {res['bad_id']}: {res['reason']}\n")
    if not res["ok"]:
        raise typer.Exit(1)


@audit_app.command("export")
@user_errors
def audit_export(out: Path = typer.Option(..., "--out", help="CSV 文件 output CSV file")):
    """导出审计日志 export the audit log as CSV (UTF-8 with BOM)."""
    if out.suffix.lower() != ".csv":
        raise ValueError(f"输出文件应为 .csv output must be a .csv file: {out}")
    n = _audit().export_csv(out)
    err.print(f"已导出 exported {n} records to {out}")


@app.command()
@user_errors
def repair(
    rebuild: bool = typer.Option(True, "--rebuild/--check-only", help="重建损坏的索引 rebuild what is damaged"),
    dense_limit: Optional[int] = typer.Option(None, help="embed at most N chunks when rebuilding the dense index"),
    as_json: bool = typer.Option(False, "--json"),
):
    """检查并修复索引 check the lexical and dense indexes; rebuild a damaged one from the sources."""
    from ..security.repair import repair as run

    res = run(get_settings(), rebuild=rebuild, show=not as_json, dense_limit=dense_limit)
    if as_json:
        _emit(res, True)
    else:
        for part in ("lexical", "dense"):
            r = res[part]
            state = "正常 ok" if r["ok"] else ("已修复 repaired" if r.get("ok_after") else "损坏 damaged")
            err.print(f"{part}: {state} — {r['detail']}" + (f" (moved to {r['moved_to']})" if r.get("moved_to") else ""))
    if any(not r["ok"] and not r.get("ok_after") for r in res.values()):
        raise typer.Exit(1)
