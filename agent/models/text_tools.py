"""Tool calls a model wrote as text, turned into real ones.

Small models sometimes print a call instead of making it: `<tool_call>{"name": "quote",
"arguments": {"symbol": "EURUSD"}}</tool_call>` (Qwen/Hermes markup the server did not parse),
a bare JSON object (or a list of them), or `functions.quote(symbol="EURUSD")`, one call per
line. When the whole reply is such calls, and each names a tool bound for this turn, the reply
becomes an AIMessage with structured `tool_calls` (validated later by the tool's own schema
like any other call). Anything else - prose that merely mentions a tool - is left as it is.

While a reply streams, `may_be_calls` tells whether the text so far could still turn out to
be such calls, so a channel holds it instead of showing call text to the trader. Invariant
(a property test): every prefix of a text that `parse_calls` turns into calls is one that
`may_be_calls` holds, so a text released as prose never becomes calls.
"""

from __future__ import annotations

import ast
import json
import re
import uuid
from collections.abc import Collection
from typing import Any, Literal

from langchain_core.messages import AIMessage

Call = tuple[str, dict[str, Any]]

_TAG, _TAG_END = "<tool_call>", "</tool_call>"
_TOOLS_TAG = "<tools>"
_TAGGED = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.DOTALL)
_FENCE = re.compile(r"^```(?:json|python)?\s*|\s*```$")
_FENCE_OPEN = re.compile(r"```(?:json|python)?")
#: A closing fence at the end of a text still streaming, perhaps partly written.
_FENCE_TAIL = re.compile(r"\s*`{1,3}\s*$")
_PY_CALL = re.compile(r"^(?:functions\.)?([A-Za-z_]\w*)\((.*)\)$", re.DOTALL)
_PY_HEAD = re.compile(r"(?:functions\.)?[A-Za-z_]\w*\(")
#: What may follow `name(`: `)`, a keyword argument `name=`, or one still being written.
_PY_FIRST_ARG = re.compile(r"\s*(?:\)|[A-Za-z_]\w*\s*(?:=|\Z)|\Z)")
#: `functions.quo`, `quote`: a call's name still being written.
_PY_GROWING = re.compile(r"[A-Za-z_][\w.]*")
_JSON_OPEN = re.compile(r"\{\s*(?:\"|\}|\Z)|\[\s*(?:\{|\]|\Z)")
_JSON = json.JSONDecoder()

Scan = Literal["calls", "open", "prose"]


def calls_from_text(answer: AIMessage, tools: Collection[str]) -> AIMessage:
    """`answer` with its text tool calls made structured; unchanged when it has none."""
    if answer.tool_calls or not tools:
        return answer
    text = answer.content if isinstance(answer.content, str) else ""
    calls = parse_calls(text, tools)
    if not calls:
        return answer
    return AIMessage("", tool_calls=[
        {"name": name, "args": args, "id": f"call_{uuid.uuid4().hex[:12]}", "type": "tool_call"}
        for name, args in calls], id=answer.id, response_metadata=answer.response_metadata,
        additional_kwargs={"parsed_from_text": True})


def parse_calls(text: str, tools: Collection[str]) -> list[Call]:
    """Every call in `text` if the text is nothing but calls to `tools`; else []."""
    text = _as_tool_call_tags(text.strip())
    if not text:
        return []
    tagged = _TAGGED.findall(text)
    pieces = tagged if tagged and not _TAGGED.sub("", text).strip() else [text]
    calls: list[Call] = []
    for piece in pieces:
        found = _calls_in(_FENCE.sub("", piece.strip()))
        if not found:
            return []
        calls += found
    return calls if all(name in tools for name, _ in calls) else []


def may_be_calls(text: str) -> bool:
    """True while `text`, the start of a model's reply, could still turn out to be tool calls
    written as text (hold it); False once it cannot (it is prose: show it).

    Held: a start of `<tool_call>`, `{"`, `[{`, a code fence, `functions.`, a word still being
    written (it may be followed by `(`), and `name(` calls with keyword arguments, one per line.
    Released: `EURUSD is...`, `RSI(14) ...`, `quote(symbol="EURUSD") returned ...`.
    """
    text = text.lstrip()
    if not text or _TAG.startswith(text) or _TOOLS_TAG.startswith(text):
        return True
    text = _as_tool_call_tags(text)
    return _may_be_tagged(text) if text.startswith(_TAG) else _may_be_piece(text)


def _as_tool_call_tags(text: str) -> str:
    """`<tools>...</tools>` (the tool list's own tags, which small Qwen models echo around a
    call) read as `<tool_call>...</tool_call>`."""
    return text.replace(_TOOLS_TAG, _TAG).replace("</tools>", _TAG_END)


def _may_be_tagged(text: str) -> bool:
    """`text` starts with `<tool_call>`: each tag's content may be calls, nothing outside."""
    inner, closed, after = text[len(_TAG):].partition(_TAG_END)
    if not closed:
        return _may_be_piece(_drop_partial(_drop_partial(inner, _TAG_END), "</tools>"))
    after = after.lstrip()
    if not after or _TAG.startswith(after):
        return _may_be_piece(inner)
    return after.startswith(_TAG) and _may_be_piece(inner) and _may_be_tagged(after)


def _may_be_piece(text: str) -> bool:
    """One piece (the whole text, or one tag's content) may still be calls."""
    text = _FENCE_TAIL.sub("", text.lstrip())
    if "```".startswith(text):
        return True
    if (fence := _FENCE_OPEN.match(text)) is not None:
        text = text[fence.end():].lstrip()
    if text[:1] in ("{", "["):
        return _may_be_json(text)
    return _scan_python(text)[1] != "prose"


def _may_be_json(text: str) -> bool:
    if text.startswith("{{"):  # the chat template's literal example, doubled braces copied
        text = text.replace("{{", "{").replace("}}", "}")
    if not _JSON_OPEN.match(text):
        return False
    try:
        _, end = _JSON.raw_decode(text)
    except ValueError:
        return True  # not finished (or broken: held until the reply ends)
    return not text[end:].strip()


def _drop_partial(text: str, closer: str) -> str:
    """`text` without the start of `closer` it may end with (`...</tool_c`)."""
    for n in range(min(len(closer), len(text)), 0, -1):
        if text.endswith(closer[:n]):
            return text[:-n]
    return text


def _calls_in(text: str) -> list[Call] | None:
    return _json_calls(text) or _python_calls(text)


def _json_calls(text: str) -> list[Call] | None:
    """`{"name": ..., "arguments": ...}`, or a list of them; also with the doubled braces of a
    chat template's literal example (`{{"name": ..., "arguments": {...}}}}`) copied."""
    try:
        data = json.loads(text)
    except ValueError:
        try:
            data = json.loads(text.replace("{{", "{").replace("}}", "}"))
        except ValueError:
            return None
    calls = [_json_call(item) for item in (data if isinstance(data, list) else [data])]
    return [c for c in calls if c is not None] if calls and None not in calls else None


def _json_call(data: Any) -> Call | None:
    if not isinstance(data, dict):
        return None
    if isinstance(data.get("function"), dict):  # {"type": "function", "function": {...}}
        data = data["function"]
    name = data.get("name")
    args = data.get("arguments", data.get("parameters", data.get("args", {})))
    if isinstance(args, dict) and ("properties" in args or args.get("type") == "object"):
        return None  # a tool's schema echoed back, not a call
    if isinstance(args, str):
        try:
            args = json.loads(args)
        except ValueError:
            return None
    return (name, args) if isinstance(name, str) and isinstance(args, dict) else None


def _python_calls(text: str) -> list[Call] | None:
    """`functions.quote(symbol="EURUSD")`, one call per line."""
    spans, state = _scan_python(text)
    if state != "calls":
        return None
    calls = [_python_call(text[start:end]) for start, end in spans]
    return [c for c in calls if c is not None] if None not in calls else None


def _scan_python(text: str) -> tuple[list[tuple[int, int]], Scan]:
    """The spans of `name(...)` calls in `text`, one per line, and what the text is: "calls"
    (nothing else), "open" (a start of calls: the last one not finished), or "prose".

    Reads left to right and decides "prose" only on what it has read, so a text that is prose
    stays prose however it goes on. Strings are skipped; the arguments are parsed later.
    """
    spans: list[tuple[int, int]] = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i].isspace():
            i += 1
        if i == n:
            return spans, "calls" if spans else "open"
        head = _PY_HEAD.match(text, i)
        if head is None:
            return spans, "open" if _PY_GROWING.fullmatch(text, i) else "prose"
        if not _PY_FIRST_ARG.match(text, head.end()):
            return spans, "prose"
        end = _closing_paren(text, head.end())
        if end is None:
            return spans, "open"
        spans.append((i, end))
        i = end
        while i < n and text[i] in " \t":
            i += 1
        if i < n and text[i] not in "\r\n":
            return spans, "prose"  # `quote(symbol="EURUSD") returned 1.0850`


def _closing_paren(text: str, start: int) -> int | None:
    """The index just past the `)` that closes the `(` before `start`; None: not written yet."""
    depth, quote, i = 1, "", start
    while i < len(text):
        char = text[i]
        if quote:
            if char == "\\":
                i += 1
            elif char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return None


def _python_call(text: str) -> Call | None:
    match = _PY_CALL.match(text)
    if match is None:
        return None
    try:
        call = ast.parse(f"f({match.group(2)})", mode="eval").body
    except (SyntaxError, ValueError, RecursionError):
        return None
    if not isinstance(call, ast.Call) or call.args or any(kw.arg is None for kw in call.keywords):
        return None
    try:
        args = {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords if kw.arg}
    except (ValueError, TypeError, SyntaxError, RecursionError):
        return None
    return match.group(1), args
