"""The graph for LangGraph's own CLI and Studio (`langgraph.json` points here).

It is the companion's graph over the configured broker and models, compiled without a
checkpointer: the LangGraph server brings its own persistence.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from langgraph.graph.state import CompiledStateGraph

from agent.app import open_companion
from agent.graph.graph import build_graph


@asynccontextmanager
async def make_graph(config: Any = None) -> AsyncIterator[CompiledStateGraph]:
    """Open the companion and yield its graph for the LangGraph server's lifetime."""
    async with open_companion() as companion:
        yield build_graph(companion.deps)
