"""Fixtures of the process-level tests, and the bot logs attached to their failures."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tests.e2e.harness import BACKENDS, PROCESSES, SHARED_ENV, Deployment, deployment

_LOG_MARKS = pytest.StashKey[dict[int, int]]()


@pytest.fixture(scope="package", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The database backend of the bot under test (every e2e test runs on both)."""
    return str(request.param)


@pytest.fixture(scope="package")
async def shared(
    backend: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Deployment]:
    """One bot process for the scenarios that do not stop it; tight per-user rate limit."""
    workdir = tmp_path_factory.mktemp(f"shared-{backend}")
    async with deployment(workdir, backend=backend, extra_env=SHARED_ENV) as running:
        yield running


@pytest.fixture(autouse=True)
def _bot_log_marks(request: pytest.FixtureRequest) -> Iterator[None]:
    """Remember how far each bot log was written when the test started."""
    request.node.stash[_LOG_MARKS] = {id(p): p.log_size() for p in PROCESSES}
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """On failure, attach what every bot process logged during the test."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if not report.failed:
        return
    marks = item.stash.get(_LOG_MARKS, {})
    for process in PROCESSES:
        since = marks.get(id(process), 0)
        if process.log_size() <= since:
            continue
        report.sections.append(
            (
                f"bot process log {process.log_path} (pid {process.pid})",
                process.log_text(since=since, max_chars=25_000),
            )
        )
