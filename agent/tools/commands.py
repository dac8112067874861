"""Explicit commands (`/price EURUSD`, `/buy EURUSD 0.10 sl 1.0750 tp 1.0900`, ...).

They work with no model at all and go through the same graph and risk gate as the agent's
proposals. Parsing is strict: anything malformed is a `CompanionError` with a usage line, and
nothing is done.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agent.alerts.book import Alert, AlertBook
from agent.domain import CompanionError
from agent.market.alerts import Kind, Mode, Rule, parse_condition
from agent.risk.pnl import MAX_DAYS, Period, period
from agent.risk.sizer import DISTANCE_UNITS, UNIT_WORDS, RiskAsk, parse_level, parse_risk
from agent.risk.trails import TrailBook
from agent.tools.jsonable import to_jsonable

if TYPE_CHECKING:
    from agent.tools.desk import Desk

USAGE: dict[str, str] = {
    "price": "/price SYMBOL",
    "bars": "/bars SYMBOL [TF] [N]",
    "analyze": "/analyze SYMBOL [TF]",
    "sentiment": "/sentiment SYMBOL",
    "size": "/size SYMBOL RISK%|AMOUNT+CCY sl PRICE|N pips [buy|sell]",
    "buy": "/buy SYMBOL LOTS sl PRICE|N pips [tp PRICE|N pips] [at PRICE]",
    "sell": "/sell SYMBOL LOTS sl PRICE|N pips [tp PRICE|N pips] [at PRICE]",
    "close": "/close TICKET [LOTS]",
    "closeall": "/closeall [SYMBOL]",
    "modify": "/modify POSITION|ORDER [at PRICE] [sl PRICE|none] [tp PRICE|none]",
    "be": "/be POSITION",
    "trail": "/trail POSITION DISTANCE [pips|points|price]",
    "trails": "/trails",
    "untrail": "/untrail POSITION",
    "orders": "/orders",
    "cancel": "/cancel ORDER",
    "positions": "/positions",
    "account": "/account",
    "history": "/history [DAYS]",
    "profit": "/profit [today|week|month|all] [SYMBOL]",
    "equity": "/equity [today|week|month|all] [SYMBOL]  (the P/L with its equity curve)",
    "daily": "/daily [DAYS]",
    "status": "/status",
    "halt": "/halt [REASON]",
    "resume": "/resume",
    "alerts": "/alerts",
    "alert": "/alert SYMBOL above|below PRICE  or  /alert SYMBOL rsi<30 [TF] [recurring]",
    "cancelalert": "/cancelalert ID",
    "help": "/help",
}
ALIASES = {"quote": "price", "p": "price", "pos": "positions", "acc": "account",
           "performance": "profit", "breakeven": "be", "equity": "profit"}
PROPOSING = frozenset({"buy", "sell", "close", "modify", "cancel", "closeall", "be", "trail"})
RECURRING_COOLDOWN_S = 900  # a recurring /alert stays quiet this long after firing
_SYMBOL = re.compile(r"^[A-Z][A-Z0-9._#-]{1,19}$")


@dataclass(frozen=True, slots=True)
class ParsedCommand:
    """A command name and its validated arguments."""

    name: str
    args: dict[str, Any] = field(default_factory=dict)

    @property
    def proposes_order(self) -> bool:
        return self.name in PROPOSING


def is_command(text: str) -> bool:
    return text.lstrip().startswith("/")


def help_text() -> str:
    return "Commands:\n" + "\n".join(f"  {usage}" for usage in USAGE.values())


def parse_command(text: str) -> ParsedCommand:
    """Parse one slash command; raise CompanionError('bad_command', ...) when malformed."""
    words = text.strip().split()
    if not words or not words[0].startswith("/"):
        raise CompanionError("bad_command", "Commands start with '/'. Try /help.")
    name = words[0][1:].split("@", 1)[0].lower()  # Telegram sends /price@BotName
    name = ALIASES.get(name, name)
    if name not in USAGE:
        raise CompanionError("bad_command", f"Unknown command /{name}. Try /help.")
    parse = _PARSERS.get(name, _no_args)
    try:
        return ParsedCommand(name, parse(words[1:]))
    except CompanionError:
        raise
    except (ValueError, IndexError) as exc:
        raise CompanionError("bad_command", f"Usage: {USAGE[name]}") from exc


def command_text(name: str, **args: Any) -> str:
    """The command line of a proposal a channel makes without chat (`companion cancel 123`,
    `POST /v1/orders/123/cancel`, the MCP server's tools): the text `parse_command` reads back
    into `args` (buy/sell: symbol, volume, sl, tp, price; close: ticket, volume)."""
    match name:
        case "buy" | "sell":
            levels = "".join(f" {word} {float(args[key])!r}" for word, key in (
                ("sl", "sl"), ("tp", "tp"), ("at", "price")) if args.get(key) is not None)
            return f"/{name} {symbol(args['symbol'])} {float(args['volume'])!r}{levels}"
        case "close":
            volume = "" if args.get("volume") is None else f" {float(args['volume'])!r}"
            return f"/close {int(args['ticket'])}{volume}"
        case "cancel":
            return f"/cancel {int(args['order'])}"
        case "modify":
            levels = "".join(f" {word} {'none' if args[k] is None else repr(float(args[k]))}"
                             for word, k in (("at", "price"), ("sl", "sl"), ("tp", "tp"))
                             if k in args)
            return f"/modify {int(args['ticket'])}{levels}"
        case "closeall":
            return "/closeall" + (f" {symbol(args['symbol'])}" if args.get("symbol") else "")
        case "be":
            return f"/be {int(args['ticket'])}"
        case "trail":
            return (f"/trail {int(args['ticket'])} {float(args['distance'])!r} "
                    f"{args.get('unit', 'pips')}")
    raise CompanionError("bad_command", f"/{name} is not a proposal.")


def symbol(word: str) -> str:
    """Validate a symbol name (letters and digits, as brokers spell them)."""
    sym = word.upper()
    if not _SYMBOL.match(sym):
        raise CompanionError("bad_symbol", f"'{word}' is not a symbol name.")
    return sym


def number(word: str) -> float:
    """A finite, positive number, or ValueError."""
    value = float(word.rstrip("%"))
    if not math.isfinite(value) or value <= 0:
        raise ValueError(word)
    return value




def _levels(words: list[str], keys: tuple[str, ...]) -> dict[str, float]:
    """Trailing `key value [unit]` words: `sl 1.0750 tp 1.0900`, `sl 20 pips tp 40pips`.
    A price is kept under its key (`sl`); a distance under the key and its unit (`sl_pips`,
    `tp_points`), to be measured from the entry. `at` (an entry) is always a price."""
    out: dict[str, float] = {}
    seen: set[str] = set()
    i = 0
    while i < len(words):
        key = words[i].lower()
        if key not in keys or key in seen or i + 1 == len(words):
            raise ValueError(key)
        joined = i + 2 < len(words) and words[i + 2].lower() in UNIT_WORDS  # "20 pips"
        span = words[i + 1:i + 3] if joined else words[i + 1:i + 2]
        try:
            value, unit = parse_level(" ".join(span))
        except CompanionError:
            raise ValueError(words[i + 1]) from None
        i += joined
        if unit and key == "at":
            raise ValueError("an entry is a price")
        seen.add(key)
        out[f"{key}_{unit}" if unit else key] = value
        i += 2
    return out


def _stop_distance(args: dict[str, Any], key: str) -> tuple[float, str] | None:
    """(value, unit) of a level given as a distance (`sl_pips` -> (20.0, "pips")), or None."""
    return next(((args[f"{key}_{unit}"], unit) for unit in DISTANCE_UNITS
                 if args.get(f"{key}_{unit}") is not None), None)


def _no_args(words: list[str]) -> dict[str, Any]:
    if words:
        raise ValueError("no arguments expected")
    return {}


def _symbol_only(words: list[str]) -> dict[str, Any]:
    (sym,) = words
    return {"symbol": symbol(sym)}


def _bars(words: list[str]) -> dict[str, Any]:
    if not 1 <= len(words) <= 3:
        raise ValueError("arity")
    args: dict[str, Any] = {"symbol": symbol(words[0]), "timeframe": "H1", "count": 20}
    if len(words) > 1:
        args["timeframe"] = words[1].upper()
    if len(words) > 2:
        args["count"] = int(words[2])
        if not 1 <= args["count"] <= 5000:
            raise ValueError("count")
    return args


def _analyze(words: list[str]) -> dict[str, Any]:
    if not 1 <= len(words) <= 2:
        raise ValueError("arity")
    return {"symbol": symbol(words[0]),
            "timeframe": words[1].upper() if len(words) == 2 else "H1"}


def _size(words: list[str]) -> dict[str, Any]:
    sym, risk, *rest = words
    if rest and re.fullmatch(r"[A-Za-z]{3}|%", rest[0]) and rest[0].lower() not in ("buy",):
        risk += rest.pop(0)  # "50 USD", "1 %"
    side = None
    if rest and rest[-1].lower() in ("buy", "sell"):
        side = rest.pop().lower()
    stop = _levels(rest, ("sl",))
    if not stop:
        raise ValueError("sl")
    ask = parse_risk(risk)
    amount = ({"risk_money": ask.amount, "currency": ask.currency} if ask.is_money
              else {"risk_pct": ask.amount})
    return {"symbol": symbol(sym), **amount, "sl": None, **stop, "side": side}


def _order(side: str):
    def parse(words: list[str]) -> dict[str, Any]:
        sym, volume, *rest = words
        keyed = _levels(rest, ("sl", "tp", "at"))
        distances = {k: v for k, v in keyed.items() if k not in ("sl", "tp", "at")}
        return {"symbol": symbol(sym), "side": side, "volume": number(volume),
                "sl": keyed.get("sl"), "tp": keyed.get("tp"), "price": keyed.get("at"),
                **distances}
    return parse


def _close(words: list[str]) -> dict[str, Any]:
    if not 1 <= len(words) <= 2:
        raise ValueError("arity")
    ticket = int(words[0])
    if ticket <= 0:
        raise ValueError("ticket")
    return {"ticket": ticket, "volume": number(words[1]) if len(words) == 2 else None}


def _ticket_number(word: str, what: str) -> int:
    """A position or order number (#12345 or 12345); CompanionError for anything else."""
    digits = word.removeprefix("#")
    if not (digits.isascii() and digits.isdigit() and 0 < int(digits) < 2**63):
        article, listing = ("an", "/orders") if what == "order" else ("a", "/positions")
        raise CompanionError(f"bad_{what}", f"'{word}' is not {article} {what} number; use the "
                             f"number {listing} shows, e.g. 12345.")
    return int(digits)


def _level(word: str, name: str) -> float | None:
    """A new SL or TP: a finite positive price, or `none` to remove it."""
    if word.lower() == "none":
        return None
    try:
        return number(word)
    except ValueError:
        raise CompanionError("bad_price", f"'{word}' is not a price for the {name}: use a "
                             "positive number such as 1.1050, or none.") from None


_MODIFY_KEYS = {"sl": ("sl", "stop-loss"), "tp": ("tp", "take-profit"),
                "at": ("price", "order"), "price": ("price", "order")}


def _modify(words: list[str]) -> dict[str, Any]:
    position, *rest = words
    if not rest or len(rest) % 2 or len(rest) > 6:
        raise ValueError("pairs")
    args: dict[str, Any] = {"ticket": _ticket_number(position, "position")}
    for key, value in zip(rest[::2], rest[1::2], strict=True):
        field, name = _MODIFY_KEYS.get(key.lower(), (None, ""))
        if field is None or field in args:
            raise ValueError(key)
        args[field] = _level(value, name)
        if field == "price" and args[field] is None:
            raise CompanionError("bad_price", "A pending order needs a price: give a number "
                                 "such as 1.1050.")
    return args


def _one_position(words: list[str]) -> dict[str, Any]:
    (position,) = words
    return {"ticket": _ticket_number(position, "position")}


TRAIL_UNITS = ("pips", "points", "price")


def _trail(words: list[str]) -> dict[str, Any]:
    if not 2 <= len(words) <= 3:
        raise ValueError("arity")
    position, distance, *unit = words
    if distance.lower().endswith(("pips", "pip")):  # "20pips"
        distance, unit = distance.lower().rstrip("s").removesuffix("pip"), ["pips"]
    word = unit[0].lower() if unit else "pips"
    word = {"pip": "pips", "point": "points", "pts": "points"}.get(word, word)
    if word not in TRAIL_UNITS:
        raise CompanionError("bad_unit", f"'{unit[0]}' is not a unit: say pips, points or "
                             "price (a distance such as 0.0020).")
    return {"ticket": _ticket_number(position, "position"), "distance": number(distance),
            "unit": word}


def _closeall(words: list[str]) -> dict[str, Any]:
    if len(words) > 1:
        raise ValueError("arity")
    return {"symbol": symbol(words[0]) if words else None}


def _cancel(words: list[str]) -> dict[str, Any]:
    (order,) = words
    return {"order": _ticket_number(order, "order")}


def _days(words: list[str], default: int, most: int) -> int:
    if len(words) > 1:
        raise ValueError("arity")
    days = int(words[0]) if words else default
    if not 1 <= days <= most:
        raise ValueError("days")
    return days


def _profit(words: list[str]) -> dict[str, Any]:
    """`[period] [symbol]`, in either order: `/profit week`, `/profit EURUSD month`."""
    if len(words) > 2:
        raise ValueError("arity")
    periods = [w for w in words if w.lower() in tuple(Period)]
    others = [w for w in words if w.lower() not in tuple(Period)]
    if len(periods) > 1 or len(others) > 1 or (others and len(words) == 1 and
                                               not _SYMBOL.match(others[0].upper())):
        period(others[0] if len(words) == 1 else words[-1])  # the sentence for a wrong period
        raise ValueError("arity")
    return {"period": periods[0].lower() if periods else Period.ALL.value,
            "symbol": symbol(others[0]) if others else None}


def _daily(words: list[str]) -> dict[str, Any]:
    return {"days": _days(words, 7, MAX_DAYS)}


def _history(words: list[str]) -> dict[str, Any]:
    return {"days": _days(words, 7, 3650)}


def _halt(words: list[str]) -> dict[str, Any]:
    return {"reason": " ".join(words) or "manual halt"}


def _alert(words: list[str]) -> dict[str, Any]:
    if len(words) < 2:
        raise ValueError("arity")
    return {"symbol": symbol(words[0]), "condition": " ".join(words[1:])}


def _cancel_alert(words: list[str]) -> dict[str, Any]:
    (alert_id,) = words
    return {"alert_id": alert_id}


_PARSERS = {
    "price": _symbol_only, "sentiment": _symbol_only, "bars": _bars, "analyze": _analyze,
    "size": _size, "buy": _order("buy"), "sell": _order("sell"), "close": _close,
    "history": _history, "halt": _halt, "alert": _alert, "cancelalert": _cancel_alert,
    "modify": _modify, "cancel": _cancel, "profit": _profit, "daily": _daily,
    "be": _one_position, "trail": _trail, "closeall": _closeall, "untrail": _one_position,
}


class CommandRunner:
    """Runs read-only commands against the desk and turns order commands into proposals."""

    def __init__(self, desk: Desk, alerts: AlertBook | None = None) -> None:
        self.desk = desk
        self.alerts = alerts if alerts is not None else AlertBook(desk.risk_state.journal)

    @property
    def trails(self) -> TrailBook:
        """The trailing-stop rules in the journal."""
        return TrailBook(self.desk.risk_state.journal)

    def intent_for(self, cmd: ParsedCommand) -> dict[str, Any]:
        """The proposal an order command makes (the risk gate evaluates it)."""
        if cmd.name == "close":
            return {"kind": "close", "position_ticket": cmd.args["ticket"],
                    "volume": cmd.args["volume"]}
        if cmd.name == "modify":  # only the levels named: the others stay as they are
            return {"kind": "modify", "position_ticket": cmd.args["ticket"],
                    **{k: cmd.args[k] for k in ("sl", "tp", "price") if k in cmd.args}}
        if cmd.name == "be":
            return {"kind": "breakeven", "position_ticket": cmd.args["ticket"]}
        if cmd.name == "trail":
            return {"kind": "trail", "position_ticket": cmd.args["ticket"],
                    "distance": cmd.args["distance"], "unit": cmd.args["unit"]}
        if cmd.name == "closeall":
            return {"kind": "close_all", "symbol": cmd.args["symbol"]}
        if cmd.name == "cancel":
            return {"kind": "cancel", "order_ticket": cmd.args["order"]}
        return {"kind": "open", **cmd.args}

    def run(self, cmd: ParsedCommand) -> Any:
        """Plain JSON-able data for a read-only command."""
        desk, a = self.desk, cmd.args
        match cmd.name:
            case "price":
                return to_jsonable(desk.quote(a["symbol"]))
            case "bars":
                return desk.bars_table(a["symbol"], a["timeframe"], a["count"])
            case "analyze":
                return desk.analyze(a["symbol"], a["timeframe"])
            case "sentiment":
                return desk.sentiment(a["symbol"])
            case "size":
                risk = (RiskAsk(a["risk_money"], a["currency"]) if a.get("risk_money")
                        else a["risk_pct"])
                return to_jsonable(desk.size(a["symbol"], risk, a.get("sl"), a.get("side"),
                                             sl_distance=_stop_distance(a, "sl")))
            case "positions":
                return to_jsonable(desk.positions())
            case "account" | "status":
                return desk.account_status()
            case "history":
                return to_jsonable(desk.history(a["days"]))
            case "orders":
                return to_jsonable(desk.orders())
            case "profit":
                return to_jsonable(desk.profit(Period(a["period"]), a.get("symbol")))
            case "daily":
                return to_jsonable(desk.daily(a["days"]))
            case "halt":
                return desk.risk_state.halt(a["reason"], by="command", now=desk.clock()).to_dict()
            case "resume":
                return desk.risk_state.resume(by="command", now=desk.clock()).to_dict()
            case "help":
                return {"help": help_text()}
            case "alerts":
                return [alert.to_dict() for alert in self.alerts.active()]
            case "alert":
                return self.alert_from_text(a["symbol"], a["condition"]).to_dict()
            case "cancelalert":
                return self.alerts.cancel(a["alert_id"]).to_dict()
            case "trails":
                return [rule.to_dict() for rule in self.trails.active()]
            case "untrail":
                ended = self.trails.end(a["ticket"], "stopped by the trader", now=desk.clock())
                if ended is None:
                    raise CompanionError("trail_unknown", f"Position #{a['ticket']} has no "
                                         "trailing stop.")
                return ended.to_dict()
        raise CompanionError("not_available", f"/{cmd.name} is not available here yet.")

    def alert_from_text(self, symbol: str, condition: str, *,
                        channel: str = "command") -> Alert:
        """Arm an alert from the `/alert` grammar (`above 1.12`, `rsi<30 H1`); a trailing
        `recurring` fires it again after its cooldown instead of once."""
        words = condition.split()
        recurring = bool(words) and words[-1].lower() == "recurring"
        rule = parse_condition(symbol, " ".join(words[:-1] if recurring else words))
        added = self.add_alert(rule, text=f"{symbol} {' '.join(words)}", recurring=recurring,
                               channel=channel)
        return self.alerts.get(added["id"])  # type: ignore[return-value]

    def add_alert(self, rule: Rule, *, text: str, recurring: bool = False,
                  cooldown_s: int | None = None, channel: str = "command") -> dict[str, Any]:
        """Store a compiled rule for a symbol the terminal knows; price rules are armed with
        the bid now, so they fire on a real crossing."""
        reference = None
        if rule.kind is Kind.PRICE:
            reference = self.desk.quote(rule.symbol).bid
        else:
            self.desk.broker.symbol_spec(rule.symbol)  # an unknown symbol raises here
        cooldown = cooldown_s if cooldown_s is not None else (
            RECURRING_COOLDOWN_S if recurring else 0)
        alert = self.alerts.add(rule, now=self.desk.clock(), text=text, cooldown_s=cooldown,
                                mode=Mode.RECURRING if recurring else Mode.ONCE,
                                reference=reference, channel=channel)
        return alert.to_dict()
