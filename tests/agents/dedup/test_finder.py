"""DuplicateIndex over real chromadb with the real model: verdicts, exclusion, upserts."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from agents.dedup.documents import imported_document
from agents.dedup.evidence import Candidate, judge, title_overlap
from agents.dedup.finder import DuplicateIndex
from agents.dedup.scoring import DEFAULT_THRESHOLDS, Scoring, combined_scores
from agents.dedup.types import Thresholds
from bot.settings import load_settings
from storage.embeddings import Embedder
from storage.vectors import VectorStore, shared_embedder

REPO = "octo/widgets"
ISSUES = [
    {
        "number": 1,
        "title": "App crashes when exporting to CSV",
        "body": "Clicking Export on the settings page closes the whole window with an error "
        "instead of downloading the CSV file.",
        "url": "https://github.com/octo/widgets/issues/1",
        "state": "open",
        "labels": ["bug"],
    },
    {
        "number": 2,
        "title": "Add a dark mode",
        "body": "Please add a dark theme for the dashboard; the white background is too "
        "bright at night.",
        "url": "https://github.com/octo/widgets/issues/2",
        "state": "open",
        "labels": ["enhancement"],
    },
    {
        "number": 3,
        "title": "Login fails with two-factor authentication",
        "body": "After I enter the 2FA code the login page reloads and I am still signed out.",
        "url": "https://github.com/octo/widgets/issues/3",
        "state": "open",
        "labels": [],
    },
    {
        "number": 4,
        "title": "Memory leak in background sync",
        "body": "RAM use grows steadily while the background sync runs; after a day the "
        "process uses 4 GB.",
        "url": "https://github.com/octo/widgets/issues/4",
        "state": "closed",
        "labels": ["bug", "performance"],
    },
]
EXPORT_PARAPHRASE = (
    "Whenever I hit the export button in settings the app just quits with an error "
    "and I never get my CSV download."
)


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The process-wide embedder; the model loads once per session."""
    return shared_embedder()


@pytest.fixture
async def index(tmp_path: Path, embedder: Embedder) -> DuplicateIndex:
    """An index holding ISSUES in a fresh data directory."""
    store = VectorStore.open(data_dir=tmp_path, embedder=embedder)
    index = DuplicateIndex(store, embedder)
    await index.upsert_issues(REPO, ISSUES)
    return index


async def test_paraphrased_duplicate_is_found(index: DuplicateIndex) -> None:
    result = await index.find(EXPORT_PARAPHRASE, repo=REPO)
    assert result.verdict in ("duplicate", "possible_duplicate")
    top = result.matches[0]
    assert (top.id, top.number, top.state) == ("issue:1", 1, "open")
    assert top.url == ISSUES[0]["url"]
    assert top.title == ISSUES[0]["title"]
    assert all(0 <= m.score <= 1 for m in result.matches)
    assert [m.score for m in result.matches] == sorted(
        (m.score for m in result.matches), reverse=True
    )


async def test_unrelated_text_is_new(index: DuplicateIndex) -> None:
    result = await index.find("Love the new logo colours, great work everyone!", repo=REPO)
    assert result.verdict == "new"


async def test_closed_issue_is_a_candidate_marked_closed(index: DuplicateIndex) -> None:
    result = await index.find(
        "the background sync keeps eating memory until it uses gigabytes of RAM", repo=REPO
    )
    assert result.matches[0].id == "issue:4"
    assert result.matches[0].state == "closed"
    assert result.verdict != "new"


async def test_exclude_id_leaves_the_query_document_out(index: DuplicateIndex) -> None:
    text = f"{ISSUES[1]['title']}\n\n{ISSUES[1]['body']}"
    assert (await index.find(text, repo=REPO)).matches[0].id == "issue:2"
    result = await index.find(text, repo=REPO, exclude_id="issue:2", k=10)
    assert "issue:2" not in [m.id for m in result.matches]
    assert len(result.matches) == len(ISSUES) - 1


async def test_thresholds_per_call_decide_the_verdict(index: DuplicateIndex) -> None:
    strict = Thresholds(duplicate=1.0, possible=1.0)
    lenient = Thresholds(duplicate=0.0, possible=0.0)
    assert (await index.find(EXPORT_PARAPHRASE, repo=REPO, thresholds=strict)).verdict == "new"
    result = await index.find(EXPORT_PARAPHRASE, repo=REPO, thresholds=lenient)
    assert result.verdict == "duplicate"


async def test_reimport_is_idempotent_and_updates_state(index: DuplicateIndex) -> None:
    await index.upsert_issues(REPO, ISSUES)
    assert await index.count(REPO) == len(ISSUES)
    await index.add_issue(**{**ISSUES[0], "repo": REPO, "state": "closed"})
    assert await index.count(REPO) == len(ISSUES)
    assert await index.known_states(REPO, [1, 2, 99]) == {1: "closed", 2: "open"}


async def test_feedback_matches_later_feedback(index: DuplicateIndex) -> None:
    await index.add_feedback(
        item_id=42, text="Push notifications arrive twice on Android", repo=REPO
    )
    result = await index.find(
        "I get every push notification two times on my android phone", repo=REPO
    )
    assert result.matches[0].id == "feedback:42"
    assert result.matches[0].number is None
    own = await index.find(
        "Push notifications arrive twice on Android", repo=REPO, exclude_id="feedback:42"
    )
    assert "feedback:42" not in [m.id for m in own.matches]


async def test_concurrent_items_share_one_search_and_one_write_per_repository(
    index: DuplicateIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    writes: list[tuple[str, int]] = []
    upsert = index.store.upsert

    async def counting_upsert(repo: str, documents: Any, embeddings: Any = None) -> None:
        writes.append((repo, len(documents)))
        await upsert(repo, documents, embeddings)

    monkeypatch.setattr(index.store, "upsert", counting_upsert)
    texts = {
        50: (REPO, "Push notifications arrive twice on Android"),
        51: (REPO, "The calendar widget shows yesterday's date"),
        52: ("octo/other", "Search ignores accented letters"),
    }
    await asyncio.gather(
        *(index.add_feedback(item_id=i, text=t, repo=r) for i, (r, t) in texts.items())
    )
    assert sorted(writes) == [("octo/other", 1), (REPO, 2)]

    searches: list[tuple[str, int]] = []
    nearest = index.store.nearest_sync

    def counting_nearest(repo: str, embeddings: Any, n: int) -> Any:
        searches.append((repo, len(embeddings)))
        return nearest(repo, embeddings, n)

    monkeypatch.setattr(index.store, "nearest_sync", counting_nearest)
    results = await asyncio.gather(*(index.find(t, repo=r) for r, t in texts.values()))
    assert [r.matches[0].id for r in results] == [f"feedback:{i}" for i in texts]
    assert sorted(searches) == [("octo/other", 1), (REPO, 2)]


async def test_empty_repository_gives_new(index: DuplicateIndex) -> None:
    result = await index.find(EXPORT_PARAPHRASE, repo="someone/else")
    assert result.verdict == "new"
    assert result.matches == []


async def test_index_survives_a_restart(tmp_path: Path, embedder: Embedder) -> None:
    first = DuplicateIndex(VectorStore.open(data_dir=tmp_path, embedder=embedder), embedder)
    await first.upsert_issues(REPO, ISSUES)
    settings = load_settings(DATA_DIR=tmp_path)
    reopened = await DuplicateIndex.open(settings, embedder)
    assert await reopened.count(REPO) == len(ISSUES)
    assert reopened.thresholds.duplicate == settings.triage.duplicate_threshold
    assert (await reopened.find(EXPORT_PARAPHRASE, repo=REPO)).matches[0].id == "issue:1"


def test_import_documents_and_query_many(tmp_path: Path, embedder: Embedder) -> None:
    index = DuplicateIndex(VectorStore.open(data_dir=tmp_path, embedder=embedder), embedder)
    documents = [
        imported_document(doc_id=str(i["number"]), title=i["title"], body=i["body"]) for i in ISSUES
    ]
    batches: list[int] = []
    written = index.import_documents(REPO, documents * 2, batch_size=3, on_batch=batches.append)
    assert written == 2 * len(ISSUES)
    assert sum(batches) == written
    assert index.store.count_sync(REPO) == len(ISSUES)
    results = index.query_many(
        REPO, [("1", EXPORT_PARAPHRASE), (None, "dark theme please")], k=2, batch_size=1
    )
    first_ids = [m.id for m in results[0].matches]
    assert first_ids
    assert "1" not in first_ids
    assert results[1].matches[0].id == "2"
    assert len(results[1].matches) == 2


def test_hybrid_scores_stay_in_unit_range_and_favour_shared_words() -> None:
    texts = ["export csv crash settings", "dark theme dashboard", "export csv crash settings"]
    scores = combined_scores("csv export crash", [1.2, 0.5, -0.3], texts)
    assert all(0 <= s <= 1 for s in scores)
    assert scores[0] > scores[2] > 0
    dense = combined_scores("csv export crash", [0.9, 0.5], texts[:2], scoring=Scoring.DENSE)
    assert dense == [0.9, 0.5]


def test_verdicts_follow_the_thresholds() -> None:
    t = DEFAULT_THRESHOLDS
    title = "App crashes when exporting to CSV"
    query = "the app crashes every time I try exporting my list to csv"
    clear = [Candidate(title, t.duplicate), Candidate("Dark mode", t.possible - 0.1)]
    assert judge(query, clear, t).verdict == "duplicate"
    between = (t.duplicate + t.possible) / 2
    assert judge(query, [Candidate(title, between)], t).verdict == "possible_duplicate"
    assert judge(query, [Candidate(title, t.possible - 0.01)], t).verdict == "new"
    assert judge(query, [], t).verdict == "new"


def test_duplicate_needs_title_words_and_a_lead() -> None:
    t = DEFAULT_THRESHOLDS
    title = "App crashes when exporting to CSV"
    query = "the app crashes every time I try exporting my list to csv"
    strange = judge("my spreadsheet download quits", [Candidate(title, 0.9)], t)
    assert strange.verdict == "possible_duplicate"
    assert "none of its title's words" in strange.reason
    tied = judge(query, [Candidate(title, 0.7), Candidate("Export crash", 0.69)], t)
    assert tied.verdict == "possible_duplicate" and "as close" in tied.reason
    sure = judge(query, [Candidate(title, 0.7), Candidate("Dark mode", 0.5)], t)
    assert sure.verdict == "duplicate"
    assert '"crashes"' in sure.reason and "0.20 ahead" in sure.reason
    assert title_overlap("Exported files", "export file")[1] == 1.0


async def test_near_duplicate_sharing_no_title_words_is_only_possible(
    index: DuplicateIndex,
) -> None:
    text = (
        "Clicking the download spreadsheet button on the settings page closes the whole "
        "window with an error instead of downloading the file."
    )
    result = await index.find(text, repo=REPO)
    top = result.matches[0]
    assert top.id == "issue:1"
    assert top.score >= DEFAULT_THRESHOLDS.duplicate  # a score alone would call it a duplicate
    assert result.verdict == "possible_duplicate"
    assert "none of its title's words" in result.reason


async def test_paraphrase_sharing_title_words_is_a_duplicate_with_a_reason(
    index: DuplicateIndex,
) -> None:
    result = await index.find(
        "The app crashes when exporting to CSV: clicking Export on the settings page closes "
        "the window with an error.",
        repo=REPO,
    )
    assert result.verdict == "duplicate"
    assert result.matches[0].id == "issue:1"
    assert "ahead of the next candidate" in result.reason
