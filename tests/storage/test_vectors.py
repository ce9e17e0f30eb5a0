"""VectorStore against real chromadb (embedded and over HTTP) with the real model."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from storage.chroma_worker import WorkerProcess
from storage.embeddings import Embedder
from storage.memory import rss_mib
from storage.vectors import StoredDocument, VectorStore, collection_name, shared_embedder
from tests.conftest import index_of_another_model

REPO = "Octo/Widgets"
DOCS = [
    StoredDocument("issue:1", "Export to CSV crashes the app", {"kind": "issue", "number": 1}),
    StoredDocument("issue:2", "Add a dark theme to the dashboard", {"kind": "issue", "number": 2}),
    StoredDocument("feedback:7", "Login fails after entering the 2FA code", {"kind": "feedback"}),
]


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The process-wide embedder; the model loads once per session."""
    return shared_embedder()


@pytest.fixture
def store(tmp_path: Path, embedder: Embedder) -> VectorStore:
    """An embedded store in a fresh data directory."""
    return VectorStore.open(data_dir=tmp_path, embedder=embedder)


def test_collection_names_are_valid_and_distinct() -> None:
    names = [collection_name(r) for r in ("a/b-c", "a-b/c", "Octo/Widgets", "x.y/..z__")]
    for name in names:
        assert re.fullmatch(r"[a-z0-9][a-z0-9-]{1,510}[a-z0-9]", name), name
    assert len(set(names)) == len(names)
    assert collection_name("Octo/Widgets") == collection_name("octo/widgets")


def test_upsert_then_nearest_finds_the_closest_text(store: VectorStore, embedder: Embedder) -> None:
    store.upsert_sync(REPO, DOCS)
    (hits,) = store.nearest_sync(REPO, embedder.encode(["the csv export makes it crash"]), 3)
    assert hits[0].id == "issue:1"
    assert len(hits) == 3
    assert hits[0].similarity > hits[-1].similarity
    assert hits[0].metadata["number"] == 1
    assert hits[0].text == DOCS[0].text


def test_upsert_twice_keeps_one_copy_and_updates_it(store: VectorStore) -> None:
    store.upsert_sync(REPO, DOCS)
    changed = StoredDocument(
        "issue:1", "Export to CSV crashes", {"kind": "issue", "state": "closed"}
    )
    store.upsert_sync(REPO, [*DOCS[1:], changed])
    assert store.count_sync(REPO) == len(DOCS)
    assert store.get_sync(REPO, ["issue:1"])["issue:1"].metadata["state"] == "closed"


def test_repeated_id_in_one_batch_keeps_the_last(store: VectorStore) -> None:
    first, last = StoredDocument("x", "first text"), StoredDocument("x", "last text")
    store.upsert_sync(REPO, [first, last])
    assert store.count_sync(REPO) == 1
    assert store.get_sync(REPO, ["x"])["x"].text == "last text"


def test_documents_survive_a_new_client(tmp_path: Path, embedder: Embedder) -> None:
    first = VectorStore.open(data_dir=tmp_path, embedder=embedder)
    first.upsert_sync(REPO, DOCS)
    first.close()
    reopened = VectorStore.open(data_dir=tmp_path, embedder=embedder)
    assert reopened.count_sync(REPO) == len(DOCS)
    (hits,) = reopened.nearest_sync(REPO, embedder.encode(["dark mode please"]), 1)
    assert hits[0].id == "issue:2"


def test_unknown_repository_reads_empty_without_creating_it(store: VectorStore) -> None:
    vectors = np.ones((2, 384), dtype=np.float32) / np.sqrt(384)
    assert store.nearest_sync("nobody/here", vectors, 5) == [[], []]
    assert store.count_sync("nobody/here") == 0
    assert store.get_sync("nobody/here", ["issue:1"]) == {}
    assert store.repositories_sync() == []


def test_repositories_are_kept_apart(store: VectorStore) -> None:
    store.upsert_sync("a/one", DOCS[:1])
    store.upsert_sync("a/two", DOCS)
    assert store.count_sync("a/one") == 1
    assert store.repositories_sync() == ["a/one", "a/two"]


def test_stored_vectors_are_read_back_for_the_ids_that_exist(store: VectorStore) -> None:
    vectors = np.eye(3, 384, dtype=np.float32)
    store.upsert_sync(REPO, DOCS, vectors)
    ids, found = store.vectors_sync(REPO, ["feedback:7", "issue:9", "issue:1"])
    assert sorted(ids) == ["feedback:7", "issue:1"]
    by_id = dict(zip(ids, found, strict=True))
    np.testing.assert_allclose(by_id["issue:1"], vectors[0], atol=1e-6)
    np.testing.assert_allclose(by_id["feedback:7"], vectors[2], atol=1e-6)
    assert store.vectors_sync("nobody/here", ["issue:1"])[0] == []


def test_embeddings_must_match_documents(store: VectorStore) -> None:
    with pytest.raises(ValueError, match="one embedding per document"):
        store.upsert_sync(REPO, DOCS, np.zeros((1, 384), dtype=np.float32))


async def test_async_methods_round_trip(store: VectorStore, embedder: Embedder) -> None:
    await store.upsert(REPO, DOCS)
    assert await store.count(REPO) == len(DOCS)
    (hits,) = await store.nearest(REPO, embedder.encode(["two factor login broken"]), 1)
    assert hits[0].id == "feedback:7"
    await store.delete(REPO, ["feedback:7"])
    assert set(await store.get(REPO, ["feedback:7", "issue:2"])) == {"issue:2"}


async def test_collections_of_an_earlier_model_are_embedded_again(
    tmp_path: Path, embedder: Embedder
) -> None:
    index_of_another_model(tmp_path, embedder, REPO, DOCS)
    index_of_another_model(tmp_path, embedder, "octo/fresh", DOCS[:1])

    store = VectorStore.open(data_dir=tmp_path, embedder=embedder, model="current-model")
    assert store.stale_repositories_sync() == ["octo/fresh", REPO.lower()]
    assert await store.reembed_stale(batch_size=2) == len(DOCS) + 1
    for doc in DOCS:
        (hits,) = store.nearest_sync(REPO, embedder.encode([doc.text]), 1)
        assert hits[0].id == doc.id
        assert hits[0].similarity == pytest.approx(1.0, abs=1e-4)
    assert store.get_sync(REPO, ["issue:1"])["issue:1"].metadata["number"] == 1
    assert await store.reembed_stale() == 0
    store.close()

    reopened = VectorStore.open(data_dir=tmp_path, embedder=embedder, model="current-model")
    assert reopened.stale_repositories_sync() == []
    assert reopened.count_sync(REPO) == len(DOCS)
    reopened.close()


def test_a_new_collection_is_tagged_with_the_model_that_filled_it(
    store: VectorStore,
) -> None:
    store.upsert_sync(REPO, DOCS)
    assert store.stale_repositories_sync() == []


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[str]:
    """A real chromadb server on a free loopback port."""
    port = _free_port()
    chroma = Path(sys.executable).parent / "chroma"
    process = subprocess.Popen(
        [str(chroma), "run", "--path", str(tmp_path / "server"), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail("chroma server did not start")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_http_client_when_a_url_is_given(
    chroma_server: str, tmp_path: Path, embedder: Embedder
) -> None:
    store = VectorStore.open(data_dir=tmp_path / "unused", url=chroma_server, embedder=embedder)
    store.upsert_sync(REPO, DOCS)
    assert store.location == chroma_server
    assert not (tmp_path / "unused" / "chroma").exists()
    again = VectorStore.open(data_dir=tmp_path, url=chroma_server, embedder=embedder)
    (hits,) = again.nearest_sync(REPO, embedder.encode(["csv export crash"]), 1)
    assert hits[0].id == "issue:1"


def test_bad_url_is_rejected(tmp_path: Path, embedder: Embedder) -> None:
    with pytest.raises(ValueError, match="CHROMA_URL"):
        VectorStore.open(data_dir=tmp_path, url="ftp://example", embedder=embedder)


_KILLED_OWNER_PROBE = """
import os, sys, time
from pathlib import Path
from storage.vectors import VectorStore

VectorStore.open(data_dir=Path(sys.argv[1])).count_sync("octo/widgets")
print(os.getpid(), flush=True)
time.sleep(120)
"""


def _descendants(pid: int) -> set[int]:
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_the_embedded_database_process_exits_when_its_owner_is_killed(tmp_path: Path) -> None:
    owner = subprocess.Popen(
        [sys.executable, "-c", _KILLED_OWNER_PROBE, str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert owner.stdout is not None
        pid = int(owner.stdout.readline())
        helpers = _descendants(pid)
        assert helpers, "the embedded database runs in a child process"
    finally:
        owner.kill()
        owner.wait(timeout=10)
    deadline = time.monotonic() + 15
    while (alive := {p for p in helpers if Path(f"/proc/{p}").exists()}) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.2)
    assert not alive


def test_a_stuck_embedded_database_is_replaced_and_keeps_its_data(
    tmp_path: Path, embedder: Embedder
) -> None:
    worker = WorkerProcess(str(tmp_path / "chroma"), call_timeout=3.0)
    try:
        worker.call("upsert", REPO, DOCS, embedder.encode([d.text for d in DOCS]), "test")
        [stuck] = worker.pids
        os.kill(stuck, signal.SIGSTOP)  # alive, holding its database, answering nothing

        with pytest.raises(TimeoutError, match="count"):
            worker.call("count", REPO)

        assert worker.call("count", REPO) == len(DOCS)
        assert stuck not in worker.pids
        assert not Path(f"/proc/{stuck}").exists() or "Z" in _state(stuck)
    finally:
        worker.close()


def test_a_dead_embedded_database_process_is_replaced_and_keeps_its_data(
    tmp_path: Path, embedder: Embedder
) -> None:
    worker = WorkerProcess(str(tmp_path / "chroma"))
    try:
        worker.call("upsert", REPO, DOCS, embedder.encode([d.text for d in DOCS]), "test")
        [dead] = worker.pids
        os.kill(dead, signal.SIGKILL)  # the OOM killer, say
        _wait_for(lambda: _gone(dead))

        with pytest.raises(TimeoutError, match="died"):
            worker.call("count", REPO)  # the caller retries, as after a timeout

        assert worker.call("count", REPO) == len(DOCS)
        assert dead not in worker.pids
    finally:
        worker.close()


def test_closing_does_not_wait_for_a_stuck_database_process(tmp_path: Path) -> None:
    worker = WorkerProcess(str(tmp_path / "chroma"), call_timeout=2.0)
    worker.call("ping")
    [stuck] = worker.pids
    os.kill(stuck, signal.SIGSTOP)
    began = time.monotonic()
    worker.close()
    assert time.monotonic() - began < 15
    assert _gone(stuck)


def _gone(pid: int) -> bool:
    """Exited (or a zombie waiting to be reaped)."""
    try:
        return "Z" in _state(pid)
    except OSError:
        return True


def _wait_for(condition: Callable[[], bool], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.05)


def _worker_growth_after_writes(path: Path, trim_after: float | None) -> float:
    """MiB the embedded database's process grows by over 250 writes of 8 documents."""
    rng = np.random.default_rng(0)
    worker = WorkerProcess(str(path), trim_after=trim_after)
    try:
        worker.call("ping")
        [pid] = worker.pids
        before = _rss_mib(pid)
        _write_feedback(worker, rng, 2000)
        time.sleep(0.5)  # the trim after the last write
        return _rss_mib(pid) - before
    finally:
        worker.close()


def _write_feedback(worker: WorkerProcess, rng: np.random.Generator, count: int) -> None:
    """`count` documents with random vectors, 8 to a write, as triage adds them."""
    for n in range(0, count, 8):
        docs = [
            StoredDocument(f"feedback:{n + i}", f"report {n + i}: " + "export fails " * 40)
            for i in range(8)
        ]
        worker.call("upsert", REPO, docs, rng.standard_normal((8, 384)).astype(np.float32), "t")


def test_the_embedded_database_gives_freed_memory_back_after_writes(tmp_path: Path) -> None:
    kept = _worker_growth_after_writes(tmp_path / "kept", None)
    trimmed = _worker_growth_after_writes(tmp_path / "trimmed", 0.0)
    assert trimmed <= 0.8 * kept, (trimmed, kept)


def _rss_mib(pid: int) -> float:
    size = rss_mib(pid)
    assert size is not None, f"process {pid} is gone"
    return size


def _state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def test_a_grown_idle_database_process_is_replaced_and_answers_the_same(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    worker = WorkerProcess(str(tmp_path / "chroma"), recycle_growth_mib=4.0, recycle_after=0.5)
    try:
        worker.call("ping")
        [first] = worker.pids
        _write_feedback(worker, rng, 2000)
        query = rng.standard_normal((3, 384)).astype(np.float32)
        before = worker.call("nearest", REPO, query, 5)
        grown = _rss_mib(first)
        deadline = time.monotonic() + 30
        while worker.recycles == 0 and time.monotonic() < deadline:
            time.sleep(0.1)

        assert worker.recycles == 1, "grown past the limit, then idle: replaced once"
        [second] = worker.pids
        assert second != first
        assert not Path(f"/proc/{first}").exists() or "Z" in _state(first)
        assert _rss_mib(second) < grown
        assert worker.call("count", REPO) == 2000
        assert worker.call("nearest", REPO, query, 5) == before
        time.sleep(1.5)  # idle again, its index loaded: the fresh size counted it
        assert worker.recycles == 1 and worker.pids == [second]
    finally:
        worker.close()


def test_a_database_process_that_stays_small_is_kept(tmp_path: Path, embedder: Embedder) -> None:
    worker = WorkerProcess(str(tmp_path / "chroma"), recycle_after=0.3)
    try:
        worker.call("upsert", REPO, DOCS, embedder.encode([d.text for d in DOCS]), "test")
        [pid] = worker.pids
        time.sleep(1.0)
        assert worker.recycles == 0 and worker.pids == [pid]
    finally:
        worker.close()
