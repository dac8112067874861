"""Start the web app for browser tests: paper terminal in a folder, scripted model.

python -m tests.e2e.webapp DATA_DIR PORT [--policy demo|down] [--delay S] [--broker-down]
    [--login auto|password]
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from agent.config import PaperSettings, Settings, WebSettings
from agent.graph.routing import ModelTarget, StaticRouter
from agent.models.scripted import ScriptedChatModel
from channels.web.serve import serve
from tests.e2e import policies


class UnreachableTerminal:
    """A MetaTrader 5 terminal that cannot be reached: every call raises."""

    def __getattr__(self, name: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            raise ConnectionError("terminal at 10.0.0.9:443 unreachable")
        return call


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("port", type=int)
    parser.add_argument("--policy", default="demo")
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--broker-down", action="store_true")
    parser.add_argument("--login", default="auto", choices=["auto", "password"])
    args = parser.parse_args()
    settings = Settings(data_dir=args.data_dir, paper=PaperSettings(speed=0),
                        web=WebSettings(host="127.0.0.1", port=args.port, login=args.login))
    model = ScriptedChatModel(policy=getattr(policies, args.policy), delay_s=args.delay)
    serve(settings, router=StaticRouter([ModelTarget(f"scripted-{args.policy}", model)]),
          terminal=UnreachableTerminal() if args.broker_down else None)


if __name__ == "__main__":
    main()
