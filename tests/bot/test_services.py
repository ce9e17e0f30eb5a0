"""Start-up wiring: an index made by an earlier embedding model is brought up to date."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.services import open_services
from bot.settings import load_settings
from storage.embeddings import Embedder
from storage.vectors import StoredDocument
from tests.conftest import index_of_another_model

REPO = "octo/widgets"
DOCS = [
    StoredDocument("issue:1", "Export to CSV crashes the app", {"kind": "issue", "number": 1}),
    StoredDocument("issue:2", "Add a dark theme to the dashboard", {"kind": "issue", "number": 2}),
]


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No database, index or tokens configured from the environment."""
    for name in ("DATABASE_URL", "CHROMA_URL", "DATA_DIR", "DISCORD_TOKEN", "GITHUB_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


@pytest.mark.usefixtures("clean_env")
async def test_start_up_embeds_an_earlier_models_index_again(
    tmp_path: Path, embedder: Embedder
) -> None:
    index_of_another_model(tmp_path, embedder, REPO, DOCS)

    settings = load_settings(DATA_DIR=tmp_path)
    async with open_services(settings, model=embedder.model, load_model_now=True) as services:
        assert await services.extras["index_reembedding"] == len(DOCS)
        store = services.dedup.store
        assert store.stale_repositories_sync() == []
        (hits,) = await store.nearest(REPO, embedder.encode([DOCS[1].text]), 1)
        assert hits[0].id == "issue:2"
        assert hits[0].similarity == pytest.approx(1.0, abs=1e-4)
