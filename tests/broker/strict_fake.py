"""A strict fake of the MetaTrader5 module, built from the `metatrader5-stubs` signatures.

`StrictTerminal` checks every call's form against the real module's signatures (positional-only
stays positional, keyword-only stays keyword; a call the real module would reject raises
TypeError), records it in `.calls`, then answers from an inner terminal (e.g. `PaperTerminal`)
or from scripted `responses`. Functions the stubs do not declare use the signatures of
MetaQuotes' documentation, written below in the stubs' own notation.
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
from pathlib import Path
from typing import Any

#: Functions the stubs leave out, as MetaQuotes documents them.
DOCUMENTED = '''
def login(login, *, password=..., server=..., timeout=...): ...
def version(): ...
def account_info(): ...
def symbols_total(): ...
def symbols_get(*, group=...): ...
def symbol_info(symbol): ...
def copy_rates_from(symbol, timeframe, date_from, count, /): ...
def copy_rates_range(symbol, timeframe, date_from, date_to, /): ...
def copy_ticks_from(symbol, date_from, count, flags, /): ...
def copy_ticks_range(symbol, date_from, date_to, flags, /): ...
def order_calc_profit(action, symbol, volume, price_open, price_close, /): ...
def order_check(request): ...
def orders_total(): ...
def history_orders_total(date_from, date_to, /): ...
def history_orders_get(date_from=..., date_to=..., /, *, group=..., ticket=..., position=...): ...
def history_deals_total(date_from, date_to, /): ...
def history_deals_get(date_from=..., date_to=..., /, *, group=..., ticket=..., position=...): ...
'''


def stub_source() -> str:
    """Text of the installed `metatrader5-stubs` package's __init__.pyi."""
    spec = importlib.util.find_spec("MetaTrader5-stubs")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("metatrader5-stubs is not installed")
    return (Path(next(iter(spec.submodule_search_locations))) / "__init__.pyi").read_text()


def _signature(node: ast.FunctionDef) -> inspect.Signature:
    a = node.args
    positional = [(p, inspect.Parameter.POSITIONAL_ONLY) for p in a.posonlyargs] + [
        (p, inspect.Parameter.POSITIONAL_OR_KEYWORD) for p in a.args]
    first_default = len(positional) - len(a.defaults)
    params = [inspect.Parameter(p.arg, kind, default=... if i >= first_default
                                else inspect.Parameter.empty)
              for i, (p, kind) in enumerate(positional)]
    if a.vararg:
        params.append(inspect.Parameter(a.vararg.arg, inspect.Parameter.VAR_POSITIONAL))
    params += [inspect.Parameter(p.arg, inspect.Parameter.KEYWORD_ONLY,
                                 default=inspect.Parameter.empty if d is None else ...)
               for p, d in zip(a.kwonlyargs, a.kw_defaults, strict=True)]
    if a.kwarg:
        params.append(inspect.Parameter(a.kwarg.arg, inspect.Parameter.VAR_KEYWORD))
    return inspect.Signature(params)


def signatures(source: str) -> dict[str, inspect.Signature]:
    """Module-level function signatures of a stub source."""
    return {n.name: _signature(n) for n in ast.parse(source).body if isinstance(n, ast.FunctionDef)}


def records(source: str) -> dict[str, list[str]]:
    """Field names, in order, of every NamedTuple / TypedDict class of a stub source."""
    return {n.name: [s.target.id for s in n.body if isinstance(s, ast.AnnAssign)]
            for n in ast.parse(source).body if isinstance(n, ast.ClassDef)}


def constants(source: str) -> dict[str, Any]:
    """UPPER_CASE module constants of a stub source with their values."""
    out: dict[str, Any] = {}
    for n in ast.parse(source).body:
        if isinstance(n, ast.AnnAssign) and n.value is not None and n.target.id.isupper():
            out[n.target.id] = eval(compile(ast.Expression(n.value), "<stub>", "eval"),
                                    {"__builtins__": {}})
    return out


def real_signatures() -> dict[str, inspect.Signature]:
    """The stubs' signatures, completed by the documented ones."""
    return {**signatures(DOCUMENTED), **signatures(stub_source())}


class StrictTerminal:
    """The MetaTrader5 API with the real module's call forms enforced and every call recorded."""

    def __init__(self, inner: Any = None, responses: dict[str, Any] | None = None) -> None:
        self._inner = inner
        self._responses = responses or {}
        self._signatures = real_signatures()
        self._constants = constants(stub_source())
        self.calls: list[tuple[str, tuple, dict]] = []

    def __getattr__(self, name: str) -> Any:
        if name.isupper():
            return getattr(self._inner, name) if self._inner is not None else self._constants[name]
        signature = self._signatures.get(name)
        if signature is None:
            raise AttributeError(f"the MetaTrader5 module has no function {name!r}")

        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                signature.bind(*args, **kwargs)
            except TypeError as exc:
                raise TypeError(f"MetaTrader5.{name}{signature} rejects this call: {exc}") from None
            self.calls.append((name, args, kwargs))
            if self._inner is not None:
                return getattr(self._inner, name)(*args, **kwargs)
            answer = self._responses.get(name)
            return answer(*args, **kwargs) if callable(answer) else answer

        return call
