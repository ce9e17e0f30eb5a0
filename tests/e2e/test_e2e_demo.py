"""`python -m bot` without a token runs the local demo end to end and exits 0."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from bot.sandbox.process import child_environment

pytestmark = pytest.mark.slow


async def test_no_token_runs_the_demo_to_the_end(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        cwd=tmp_path,
        env=child_environment({"LOG_FORMAT": "console"}),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), 240)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    out, err = stdout.decode(), stderr.decode()
    assert process.returncode == 0, f"stdout:\n{out}\nstderr:\n{err}"
    assert "No DISCORD_BOT_TOKEN is configured" in err
    for expected in (
        "riley-reporter writes (bug report)",
        "duplicate candidates (",
        "GitHub issue #1 created in acme/widgets",
        "riley-reporter is told",
        "clicks Reject",
        "Reason: Questions are answered",
        "clicks Duplicate on item #4 and enters issue #1",
        "item #1 (bug report, riley-reporter): filed → issue #1",
        "item #3 (question, jordan-newcomer): rejected",
        "item #4 (near-duplicate of the bug, sam-tester): duplicate → issue #1",
        "item #5 (praise, casey-fan):",
        "GitHub acme/widgets holds 1 issue(s)",
        "total after the model was loaded",
    ):
        assert expected in out, f"missing {expected!r} in:\n{out}"
    assert not (tmp_path / "data").exists(), "the demo keeps its state in a temporary directory"
