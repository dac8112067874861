"""The embedded paper terminal: the MetaTrader5 module's API over real bars and a demo account."""

from agent.broker.paper.clock import ClockStatus, PaperClock
from agent.broker.paper.importer import ImportReport, bars_dir, import_bars
from agent.broker.paper.terminal import PAPER_LOGIN, PaperTerminal

__all__ = ["PAPER_LOGIN", "ClockStatus", "ImportReport", "PaperClock", "PaperTerminal",
           "bars_dir", "import_bars"]
