"""Start-up time and memory of `python -m bot` against the loopback fakes.

Measures, for a fresh process: time from spawn to gateway READY (the bot's /healthz
answers once READY is handled), time from spawn to the first triage (a message posted the
moment the bot is ready gets its review message), RSS at idle, and RSS after `--items`
more items are triaged (they are written straight into the database while the bot is
stopped, then the restarted bot triages them all through `resume_pending`); each reading
is taken `SETTLE_SECONDS` after the work stopped.

The reference, measured in the same run, is a bare process that imports
sentence-transformers, loads the same model and embeds one text: the floor for any first
triage, and the memory any process holding the model needs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import (
    DATA_DIR,
    REPO_ROOT,
    feedback_texts,
    format_memory,
    machine_line,
    memory_by_process,
    rss_mb,
    verdict,
)

#: Targets of the running bot's process tree (the fakes run in this process, not the bot's).
IDLE_RSS_TARGET_MIB = 500
GROWTH_TARGET_MIB = 100
#: Quiet seconds before each memory reading: what the bot gives back once idle (the
#: encoder's arena after 2 s, the vector database's trim after 1 s and its replacement
#: after 10 s) is given back by then, as it is in a bot that keeps running.
SETTLE_SECONDS = 15

_BARE = """
import json, os, time
started = time.perf_counter()
from storage.embeddings import load_model
model = load_model()
model.encode(["the app crashes when I open settings"])
seconds = time.perf_counter() - started
rss = next(int(l.split()[1]) / 1024 for l in open("/proc/self/status") if l.startswith("VmRSS"))
print(json.dumps({"seconds": seconds, "rss": rss}))
"""


def bare_model_process() -> tuple[float, float]:
    """(wall seconds from spawn, RSS MiB) of a process that loads the model and embeds once."""
    began = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", _BARE],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin"},
    )
    wall = time.perf_counter() - began
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return wall, float(result["rss"])


def item_texts(count: int) -> list[str]:
    """`count` feedback texts: every distinct one the data holds, then repeats with new words.

    Short reviews (both files) and NLBSE'24 issues, interleaved. A busy channel repeats
    itself: past the distinct texts, each repeat says on which build it happened again.
    """
    distinct = feedback_texts(10**9)
    with (DATA_DIR / "app_reviews_clap_dev.jsonl").open(encoding="utf-8") as stream:
        distinct += [json.loads(line)["text"] for line in stream if line.strip()]
    distinct = list(dict.fromkeys(distinct))
    return [
        text if n < len(distinct) else f"{text}\n\n(again on build 7.{n})"
        for n, text in ((n, distinct[n % len(distinct)]) for n in range(count))
    ]


async def _wait_review_messages(discord: Any, count: int, timeout: float) -> float:  # noqa: ASYNC109
    began = time.perf_counter()
    await discord.state.signal.wait_for(
        lambda: True if len(discord.messages_in(discord.review_channel_id)) >= count else None,
        timeout,
        f"{count} review messages",
    )
    return time.perf_counter() - began


async def _seed_items(db_url: str, texts: Sequence[str], guild_id: int, channel: int) -> None:
    from storage.db import Database
    from storage.items import ItemRepository
    from storage.models import FeedbackItemBase

    db = Database(db_url)
    items = ItemRepository(db)
    for n, text in enumerate(texts):
        await items.create(
            item=FeedbackItemBase(
                source_kind="channel",
                source_key=f"message:{9_000_000_000 + n}",
                guild_id=guild_id,
                channel_id=channel,
                message_id=9_000_000_000 + n,
                author_id=1,
                author_name="bench",
                raw_text=text,
            ),
            actor="bench",
        )
    await db.close()


async def _wait_all_triaged(db_url: str, expected: int, timeout: float) -> float:  # noqa: ASYNC109
    from storage.db import Database
    from storage.items import ItemRepository

    db = Database(db_url)
    items = ItemRepository(db)
    began = time.perf_counter()
    try:
        while True:
            counts = await items.counts_by_status()
            pending = counts.get("received", 0) + counts.get("triaging", 0)
            if sum(counts.values()) >= expected and pending == 0:
                return time.perf_counter() - began
            if time.perf_counter() - began > timeout:
                raise TimeoutError(f"not triaged after {timeout:.0f}s: {counts}")
            await asyncio.sleep(1.0)
    finally:
        await db.close()


async def measure(items: int, bot_env: dict[str, str] | None = None) -> dict[str, Any]:
    """Spawn the bot, time READY and the first triage, then RSS before and after `items`."""
    from bot.sandbox.discord import FakeDiscord
    from bot.sandbox.fake_github import FakeGitHub
    from bot.sandbox.process import BotProcess
    from bot.sandbox.stack import sandbox_env

    texts = item_texts(items + 1)
    with tempfile.TemporaryDirectory(prefix="startup-") as tmp:
        data_dir = Path(tmp) / "data"
        async with FakeDiscord() as discord, FakeGitHub() as github:
            reporter = discord.add_user("reporter")
            env = sandbox_env(
                discord=discord,
                github=github,
                data_dir=data_dir,
                extra_env={
                    "RATE_LIMIT_ITEMS": "1000000",
                    "LOG_LEVEL": "WARNING",
                    **(bot_env or {}),
                },
            )
            bot = BotProcess(
                env, discord=discord, log_path=Path(tmp) / "bot.log", workdir=Path(tmp)
            )
            began = time.perf_counter()
            try:
                await bot.start()
                ready = time.perf_counter() - began
                await discord.post_message(discord.feedback_channel_id, reporter, texts[0])
                await _wait_review_messages(discord, 1, 300)
                first = time.perf_counter() - began
                await asyncio.sleep(SETTLE_SECONDS)
                idle_rss = rss_mb(bot.pid)
                idle_by_process = memory_by_process(bot.pid)
                await bot.terminate()
                db_url = f"sqlite+aiosqlite:///{data_dir / 'iterateswarm.sqlite3'}"
                await _seed_items(db_url, texts[1:], discord.guild_id, discord.feedback_channel_id)
                restarted = time.perf_counter()
                # The restarted bot triages its backlog while it connects: READY takes longer.
                await bot.restart(ready_timeout=120 + items / 20)
                ready_with_backlog = time.perf_counter() - restarted
                triage_seconds = await _wait_all_triaged(db_url, items + 1, 600 + items)
                await asyncio.sleep(SETTLE_SECONDS)
                loaded_rss = rss_mb(bot.pid)
                loaded_by_process = memory_by_process(bot.pid)
            finally:
                await bot.stop()
    return {
        "ready": ready,
        "first_triage": first,
        "idle_rss": idle_rss,
        "loaded_rss": loaded_rss,
        "triage_seconds": triage_seconds,
        "ready_with_backlog": ready_with_backlog,
        "idle_by_process": idle_by_process,
        "loaded_by_process": loaded_by_process,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the reference and the bot; print the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000, help="items triaged for the RSS")
    parser.add_argument(
        "--env", action="append", default=[], metavar="NAME=VALUE", help="set in the bot's env"
    )
    args = parser.parse_args(argv)
    bot_env = dict(pair.split("=", 1) for pair in args.env)
    logging.basicConfig(level=logging.WARNING)
    print(machine_line() + (f"; bot env {bot_env}" if bot_env else ""))
    bare_seconds, bare_rss = bare_model_process()
    result = asyncio.run(measure(args.items, bot_env))
    print(
        f"\nbare process (import, load model, embed once): {bare_seconds:5.1f}s, {bare_rss:.0f} MiB"
    )
    print(f"bot: spawn -> gateway READY:       {result['ready']:5.1f}s")
    print(
        f"bot: spawn -> first review posted: {result['first_triage']:5.1f}s "
        f"({result['first_triage'] / bare_seconds:.2f}x the bare model process)"
    )
    print(
        f"bot: RSS idle {result['idle_rss']:.0f} MiB ({result['idle_rss'] / bare_rss:.2f}x bare); "
        f"after {args.items + 1} items {result['loaded_rss']:.0f} MiB "
        f"({result['loaded_rss'] / bare_rss:.2f}x bare; resume + triage took "
        f"{result['triage_seconds']:.0f}s)"
    )
    print(
        f"bot: restart -> healthy with {args.items} items to triage: "
        f"{result['ready_with_backlog']:.1f}s"
    )
    print(f"\nidle, by process (MiB):\n{format_memory(result['idle_by_process'])}")
    print(
        f"after {args.items + 1} items, by process (MiB):\n"
        f"{format_memory(result['loaded_by_process'])}"
    )
    growth = result["loaded_rss"] - result["idle_rss"]
    checks = {
        "first triage within 2x the bare model load + 10 s": result["first_triage"]
        < 2 * bare_seconds + 10,
        f"idle RSS <= {IDLE_RSS_TARGET_MIB} MiB": result["idle_rss"] <= IDLE_RSS_TARGET_MIB,
        f"growth after {args.items + 1} items <= {GROWTH_TARGET_MIB} MiB ({growth:+.0f} MiB)": (
            growth <= GROWTH_TARGET_MIB
        ),
    }
    print()
    for name, passed in checks.items():
        print(f"{name} -> {verdict(passed)}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
