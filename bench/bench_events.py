"""Event latency from the broker to each channel: a stop-loss hit on the paper terminal until
it reaches (a) a subscriber in the runner's process (what the terminal chat and the web page
read), (b) a subscriber of a second companion on the same data dir (a follower: the relay
through the journal, how another process hears it), (c) a client of GET /v1/events on a real
uvicorn on 127.0.0.1, (d) the local Bot API server as the bot's sendMessage.

Each round opens a 0.01-lot buy with its stop 3 pips under the bid, then steps the paper clock
bar by bar; t0 is when the step that booked the stop returned. The runtime looks every
`--poll` seconds (the default 1 s is what a trader runs), so (a) is about half of it on average.

    python bench/bench_events.py [--rounds 10] [--poll 1.0]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from pydantic import SecretStr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.support

from agent.access import free_port  # noqa: E402
from agent.app import open_companion  # noqa: E402
from agent.config import PaperSettings, Settings, TelegramSettings  # noqa: E402
from agent.events import EventType  # noqa: E402
from agent.graph.routing import StaticRouter  # noqa: E402
from channels.rest.app import create_app  # noqa: E402
from channels.rest.auth import ApiTokens  # noqa: E402
from channels.rest.server import api_server  # noqa: E402
from channels.telegram.bot import running_bot  # noqa: E402
from evals.harness import ManualClock  # noqa: E402
from tests.support.bot_api_server import BotApiServer  # noqa: E402

TOKEN, CHAT, READ = "123456:bench-token", 1001, "read-token-0123456789abcdef"
CHANNELS = ("in-process", "follower (relay)", "REST SSE", "Telegram")


async def main(rounds: int, poll_s: float) -> None:
    settings = Settings(data_dir=Path(tempfile.mkdtemp()), paper=PaperSettings(speed=0))
    seen: dict[str, dict[int, float]] = {name: {} for name in CHANNELS}
    clock = ManualClock()  # the risk engine's order-rate clock: a minute between rounds
    with BotApiServer(TOKEN, max_poll_s=0.2) as bot_api:
        async with open_companion(settings, router=StaticRouter(), clock=clock,
                                  run_runtime=True) as runner:
            runner.runtime.poll_s = poll_s
            async with open_companion(settings, router=StaticRouter(), clock=clock,
                                      run_runtime=True) as follower:
                follower.runtime.relay_s = 0.2
                port = free_port()
                api = create_app(runner.service, tokens=ApiTokens(read=SecretStr(READ)))
                server = api_server(api, "127.0.0.1", port)
                tasks = [asyncio.create_task(server.serve()),
                         asyncio.create_task(_follow(runner, seen["in-process"])),
                         asyncio.create_task(_follow(follower, seen["follower (relay)"])),
                         asyncio.create_task(_sse(port, seen["REST SSE"])),
                         asyncio.create_task(_telegram(bot_api, seen["Telegram"]))]
                tg = TelegramSettings(allowed_chat_ids=(CHAT,), base_url=bot_api.url)
                async with running_bot(runner.service, tg, SecretStr(TOKEN), poll_timeout=0.2):
                    await asyncio.sleep(1.0)  # everyone subscribed, the relay at the end
                    t0 = await _rounds(runner, rounds, seen, clock)
                server.should_exit = True
                for task in tasks[1:]:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
    print(f"event latency, stop-loss hit -> channel, {len(t0)} rounds, runtime poll {poll_s} s")
    for name in CHANNELS:
        ms = [(seen[name][p] - t) * 1000 for p, t in t0.items() if p in seen[name]]
        if not ms:
            print(f"  {name:18} no event arrived")
            continue
        q = statistics.quantiles(ms, n=20) if len(ms) > 1 else ms * 19
        print(f"  {name:18} p50 {statistics.median(ms):7.1f} ms   p95 {q[18]:7.1f} ms   "
              f"({len(ms)}/{len(t0)})")


async def _rounds(companion, rounds: int, seen, clock: ManualClock) -> dict[int, float]:
    service, paper = companion.service, companion.terminal.wrapped
    t0: dict[int, float] = {}
    for i in range(rounds):
        clock.advance(61)
        bid = companion.desk.quote("EURUSD").bid
        proposed = await service.send(f"bench-{i}", f"/buy EURUSD 0.01 sl {bid - 0.0003:.5f}")
        if proposed.ticket is None:
            raise SystemExit(f"not proposed: {proposed.text}")
        await service.resolve_ticket(proposed.ticket["id"], "approve", by="bench")
        (position,) = [p.ticket for p in companion.desk.positions()]
        while any(p.ticket == position for p in companion.desk.positions()):
            await asyncio.to_thread(paper.step, 1)
        t0[position] = time.perf_counter()
        deadline = time.perf_counter() + 10
        while not all(position in s for s in seen.values()) and time.perf_counter() < deadline:
            await asyncio.sleep(0.005)
    return t0


async def _follow(companion, seen: dict[int, float]) -> None:
    with companion.service.events([EventType.SL_HIT]) as sub:
        async for event in sub:
            seen[event.payload["position"]] = time.perf_counter()


async def _sse(port: int, seen: dict[int, float]) -> None:
    import json

    await asyncio.sleep(0.5)  # the server is up
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=None) as http, \
            http.stream("GET", "/v1/events?type=sl_hit",
                        headers={"authorization": f"Bearer {READ}"}) as stream:
        async for line in stream.aiter_lines():
            if line.startswith("data: "):
                seen[json.loads(line[6:])["payload"]["position"]] = time.perf_counter()


async def _telegram(bot_api: BotApiServer, seen: dict[int, float]) -> None:
    import re

    while True:
        for call in bot_api.sent():
            found = re.search(r"Stop loss hit: #(\d+)", call.params.get("text", ""))
            if found and int(found.group(1)) not in seen:
                seen[int(found.group(1))] = time.perf_counter()
        await asyncio.sleep(0.005)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--poll", type=float, default=1.0)
    args = parser.parse_args()
    asyncio.run(main(args.rounds, args.poll))
