"""The local demo (`make run` without a token) runs end to end in a world of its own."""

from __future__ import annotations

import asyncio
import socket
import sys
from pathlib import Path

import pytest

from bot.sandbox.process import child_environment

pytestmark = pytest.mark.slow


async def test_make_run_without_a_token_runs_the_demo_in_a_world_of_its_own(
    tmp_path: Path,
) -> None:
    # An operator's production settings must not reach the demo: the health port is taken,
    # the chromadb server and the database do not answer, the shard filter owns nothing.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        hostile = {
            "LOG_FORMAT": "console",
            "HEALTH_PORT": str(taken.getsockname()[1]),
            "CHROMA_URL": "http://127.0.0.1:9",
            "DATABASE_URL": "postgresql://nobody@127.0.0.1:9/production",
            "SHARD_COUNT": "2",
            "SHARD_IDS": "1",
        }
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            "--demo-without-token",
            cwd=tmp_path,
            env=child_environment(hostile),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        await _finished_demo(process, tmp_path)


async def _finished_demo(process: asyncio.subprocess.Process, tmp_path: Path) -> None:
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
        "kim-uploader opens a post tagged 'bug'",
        "kind hint bug, title 'Uploads over 10 MB fail silently'",
        "post tags: bug, tracked · open",
        "post tags: bug, tracked, resolved · archived",
        "total after the model was loaded",
    ):
        assert expected in out, f"missing {expected!r} in:\n{out}"
    assert not (tmp_path / "data").exists(), "the demo keeps its state in a temporary directory"
