"""The `/alert SYMBOL ...` grammar: a trader's words to a compiled rule."""

from __future__ import annotations

import re

from agent.market.alerts.rules import Rule, bad_alert, compile_rule

_IND_TEXT = re.compile(r"^([a-z]+?)(\d*)\s*([<>])\s*(-?[\d.]+)$")
_MOVE_TEXT = re.compile(r"^(move|up|down)\s*>\s*([\d.]+)%?$")


def parse_condition(symbol: str, text: str) -> Rule:
    """The rule a command condition names (the `/alert SYMBOL ...` grammar):

    `above 1.12` / `below 1.10`; `rsi<30 [TF]`, `rsi7>70 H4`, `ema50>1.09`, `close>1.12 D1`;
    `move>0.5% [N] [TF]` (either way), `up>0.5% 24 H1`, `down>1% 5 D1`; `spread>25`;
    `pl<-50 [TICKET]` (floating P/L in account currency).
    """
    words = text.lower().split()
    if not words:
        raise bad_alert("say what to watch, e.g. 'above 1.1200' or 'rsi<30 H1'")
    try:
        if words[0] in ("above", "below") and len(words) == 2:
            return compile_rule(kind="price", symbol=symbol, op=">" if words[0] == "above"
                                else "<", threshold=float(words[1]))
        head, rest = _joined(words)
        if m := _MOVE_TEXT.match(head):
            way, pct = m.group(1), float(m.group(2))
            count = int(rest.pop(0)) if rest and rest[0].isdigit() else 1
            tf = rest.pop(0) if rest else "H1"
            _done(rest)
            return compile_rule(kind="move", symbol=symbol, op="<" if way == "down" else ">",
                                threshold=-pct if way == "down" else pct, bars=count,
                                timeframe=tf, absolute=way == "move")
        m = _IND_TEXT.match(head)
        if m is None:
            raise bad_alert(f"cannot read the condition '{text}'")
        name, period, op, value = m.group(1), m.group(2), m.group(3), float(m.group(4))
        if name == "spread":
            _done(rest)
            return compile_rule(kind="spread", symbol=symbol, op=op, threshold=value)
        if name in ("pl", "pnl"):
            ticket = int(rest.pop(0)) if rest else None
            _done(rest)
            return compile_rule(kind="pnl", symbol=symbol, op=op, threshold=value,
                                position=ticket)
        tf = rest.pop(0) if rest else "H1"
        _done(rest)
        return compile_rule(kind="indicator", symbol=symbol, op=op, threshold=value,
                            indicator=name, period=int(period or 0), timeframe=tf)
    except ValueError:
        raise bad_alert(f"cannot read the condition '{text}'") from None


def _joined(words: list[str]) -> tuple[str, list[str]]:
    """`rsi < 30 H1`, `rsi <30 H1` and `rsi<30 H1` alike: the comparison glued, then the rest."""
    ops = ("<", ">")
    if len(words) >= 3 and words[1] in ops:
        return "".join(words[:3]), words[3:]
    if len(words) >= 2 and (words[0].endswith(ops) or words[1].startswith(ops)):
        return "".join(words[:2]), words[2:]
    return words[0], words[1:]


def _done(rest: list[str]) -> None:
    if rest:
        raise ValueError("extra words")
