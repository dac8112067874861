"""Trading integration over any object with the MetaTrader5 module API.

`MT5Broker` reads, `OrderSender` sends (the only code that does), `TerminalManager` keeps the
terminal connected and `open_terminal` picks it from the settings. The paper terminal lives
in `agent.broker.paper` and is imported only when it is the one in use.
"""

from agent.broker.broker import MT5Broker
from agent.broker.manager import TerminalManager, open_terminal
from agent.broker.sender import OrderSender

__all__ = ["MT5Broker", "OrderSender", "TerminalManager", "open_terminal"]
