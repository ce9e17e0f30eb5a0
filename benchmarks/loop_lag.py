"""Event-loop lag and interaction ack time while the bot triages a burst of messages.

The real bot runs in this process against the loopback fakes (`bot.sandbox.stack`):
`--messages` feedback messages are posted to the feedback channel at once, and while the
bot triages them a sampler sleeps 10 ms at a time on the same event loop and records how
late it wakes (the lag every other coroutine sees), and a maintainer runs `/status` and
clicks Reject on freshly posted review messages, timing how long each takes to be acked.

The reference is the same sampler on the same loop with the bot idle, in the same run.
The fakes share the loop with the bot, so their work counts against the lag too.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import (
    describe_ms,
    feedback_texts,
    load_model,
    machine_line,
    percentile_ms,
    rss_mb,
    verdict,
)

TARGET_P99_LAG_MS = 50.0
ACK_DEADLINE_SECONDS = 3.0
SAMPLE_SECONDS = 0.010


class LagSampler:
    """Sleeps `SAMPLE_SECONDS` in a loop and records how late each wake-up is."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            started = time.perf_counter()
            await asyncio.sleep(SAMPLE_SECONDS)
            self.samples.append(max(0.0, time.perf_counter() - started - SAMPLE_SECONDS))

    def start(self) -> None:
        """Begin sampling (clears earlier samples)."""
        self.samples = []
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> list[float]:
        """Stop sampling and return the lags in seconds."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        return self.samples


async def _timed(coro: Any) -> float:
    """Seconds until the interaction's first response; infinity if it never came."""
    began = time.perf_counter()
    interaction = await coro
    try:
        await interaction.wait_response(timeout=3 * ACK_DEADLINE_SECONDS)
    except TimeoutError:
        return float("inf")
    return time.perf_counter() - began


async def _maintainer(sb: Any, done: asyncio.Event, acks: dict[str, list[float]]) -> None:
    """Run /status and reject new review messages until the burst is triaged."""
    clicked: set[int] = set()
    while not done.is_set():
        acks["/status"].append(
            await _timed(sb.discord.slash_command("status", None, sb.maintainer))
        )
        for message in sb.discord.messages_in(sb.discord.review_channel_id)[-3:]:
            reject = next((c for c in message.custom_ids() if ":reject:" in c), None)
            if reject is None or message.id in clicked:
                continue
            clicked.add(message.id)
            acks["reject button"].append(
                await _timed(sb.discord.click_button(message.id, reject, sb.maintainer))
            )
            break
        await asyncio.sleep(0.25)


async def run(texts: Sequence[str], idle_seconds: float) -> int:
    """Start the bot, measure idle lag, post the burst, measure lag and acks until triaged."""
    from bot.sandbox.stack import sandbox_stack

    model = load_model()
    with tempfile.TemporaryDirectory(prefix="loop-lag-") as tmp:
        async with sandbox_stack(
            data_dir=Path(tmp),
            model=model,
            extra_env={"RATE_LIMIT_ITEMS": str(len(texts) * 2)},
        ) as sb:
            sampler = LagSampler()
            sampler.start()
            await asyncio.sleep(idle_seconds)
            idle = await sampler.stop()

            acks: dict[str, list[float]] = {"/status": [], "reject button": []}
            done = asyncio.Event()
            sampler.start()
            began = time.perf_counter()
            maintainer = asyncio.create_task(_maintainer(sb, done, acks))
            channel = sb.discord.feedback_channel_id
            for text in texts:
                await sb.discord.post_message(channel, sb.reporter, text[:1900])
            posted = time.perf_counter() - began
            while True:
                counts = await sb.services.items.counts_by_status()
                pending = counts.get("received", 0) + counts.get("triaging", 0)
                if sum(counts.values()) >= len(texts) and pending == 0:
                    break
                await asyncio.sleep(0.5)
            triaged = time.perf_counter() - began
            done.set()
            await maintainer
            busy = await sampler.stop()
            rss = rss_mb()

    print(f"\n{len(texts)} messages posted in {posted:.1f}s, all triaged after {triaged:.1f}s")
    print(f"  final statuses: {counts}")
    print(f"  loop lag, idle bot: {describe_ms(idle)}")
    print(f"  loop lag, burst:    {describe_ms(busy)}")
    worst_ack = 0.0
    for name, samples in acks.items():
        acked = [s for s in samples if s != float("inf")]
        missed = len(samples) - len(acked)
        print(f"  ack of {name:<14} {describe_ms(acked)}; never acked: {missed}")
        worst_ack = max([worst_ack, *samples])
    print(f"  RSS: {rss:.0f} MiB")
    p99 = percentile_ms(busy, 99)
    idle_p99 = max(percentile_ms(idle, 99), 0.1)
    ok = p99 < TARGET_P99_LAG_MS and worst_ack < ACK_DEADLINE_SECONDS
    print(
        f"\nburst lag p99 {p99:.1f} ms (target < {TARGET_P99_LAG_MS:.0f} ms; {p99 / idle_p99:.1f}x "
        f"the idle p99), slowest ack {worst_ack * 1000:.0f} ms (deadline "
        f"{ACK_DEADLINE_SECONDS:.0f} s) -> {verdict(ok)}"
    )
    return 0 if ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Parse flags and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--idle-seconds", type=float, default=3.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    print(machine_line())
    return asyncio.run(run(feedback_texts(args.messages), args.idle_seconds))


if __name__ == "__main__":
    sys.exit(main())
