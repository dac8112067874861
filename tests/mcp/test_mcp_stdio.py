"""`companion mcp` as a desktop client runs it: a subprocess speaking MCP over stdio, driven by
the SDK's own client. The trader confirms the ticket with `companion confirm` (another process
on the same data dir), and the MCP client sees the fill."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from tests.mcp.conftest import ORDER, text

pytestmark = pytest.mark.slow
COMPANION = str(Path(sys.executable).with_name("companion"))


def environment(data_dir: Path) -> dict[str, str]:
    """A paper companion in `data_dir`, no model, no config file, no token."""
    return {"COMPANION_DATA_DIR": str(data_dir), "COMPANION_PAPER__SPEED": "0",
            "COMPANION_CONFIG": str(data_dir / "none.toml"), "COMPANION_LOG_LEVEL": "WARNING",
            "COMPANION_MODELS__OLLAMA_HOST": "http://127.0.0.1:9"}


async def companion_cli(data_dir: Path, *args: str) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMPANION_", "OPENAI_"))}
    process = await asyncio.create_subprocess_exec(
        COMPANION, *args, env={**env, **environment(data_dir)},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    return process.returncode or 0, out.decode()


async def test_stdio_when_a_client_proposes_then_the_trader_confirms_elsewhere(tmp_path):
    server = StdioServerParameters(command=COMPANION, args=["mcp"], env=environment(tmp_path))
    async with stdio_client(server) as (read, write), ClientSession(read, write) as mcp:
        info = await mcp.initialize()
        assert info.serverInfo.name == "trading-companion"
        assert "never confirm" in (info.instructions or "")
        names = {t.name for t in (await mcp.list_tools()).tools}
        assert {"quote", "propose_order", "ticket_status"} <= names
        assert not any(word in name for name in names for word in ("approve", "confirm", "send"))
        quote = await mcp.call_tool("quote", {"symbol": "EURUSD"})
        assert quote.structuredContent["symbol"] == "EURUSD"
        refused = await mcp.call_tool("quote", {"symbol": "FOOBAR"})
        assert refused.isError and text(refused) == (
            "'FOOBAR' is not a symbol this terminal knows; check the name in Market Watch "
            "(e.g. EURUSD).")

        proposal = (await mcp.call_tool("propose_order", ORDER)).structuredContent
        assert proposal["status"] == "pending"
        assert (await mcp.call_tool("positions", {})).structuredContent == {"positions": []}

        code, said = await companion_cli(tmp_path, "confirm", proposal["ticket_id"])
        assert code == 0, said

        status = await mcp.call_tool("ticket_status", {"ticket_id": proposal["ticket_id"]})
        assert status.structuredContent["status"] == "sent"
        held = (await mcp.call_tool("positions", {})).structuredContent["positions"]
        assert [(p["symbol"], p["volume"], p["sl"]) for p in held] == [("EURUSD", 0.1, 1.11)]
        account = (await mcp.read_resource("companion://positions")).contents[0].text
        assert '"EURUSD"' in account
