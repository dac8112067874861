import json
from pathlib import Path

from agent.config import get_settings
from agent.graph import graph as wiring
from agent.graph.studio import make_graph

ROOT = Path(__file__).resolve().parents[2]


def test_langgraph_json_points_at_the_studio_factory():
    config = json.loads((ROOT / "langgraph.json").read_text())
    assert config["graphs"]["companion"] == "./agent/graph/studio.py:make_graph"


async def test_studio_factory_when_opened_then_graph_has_every_node(tmp_path, monkeypatch):
    monkeypatch.setenv("COMPANION_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("COMPANION_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("COMPANION_MODELS__OLLAMA_HOST", "http://127.0.0.1:9")
    get_settings.cache_clear()
    try:
        async with make_graph() as graph:
            nodes = set(graph.get_graph().nodes)
            assert graph.checkpointer is None
    finally:
        get_settings.cache_clear()
    assert {wiring.ROUTE, wiring.COMMAND, wiring.ASSISTANT, wiring.TOOLS, wiring.RISK_GATE,
            wiring.CONFIRM, wiring.EXECUTE, wiring.RESPOND} <= nodes
