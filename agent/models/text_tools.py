"""Tool calls a model wrote as text, turned into real ones.

Small models sometimes print a call instead of making it: `<tool_call>{"name": "quote",
"arguments": {"symbol": "EURUSD"}}</tool_call>` (Qwen/Hermes markup the server did not parse),
a bare JSON object, or `functions.quote(symbol="EURUSD")`. When the whole reply is such calls,
and each names a tool bound for this turn, the reply becomes an AIMessage with structured
`tool_calls` (validated later by the tool's own schema like any other call). Anything else -
prose that merely mentions a tool - is left as it is.
"""

from __future__ import annotations

import ast
import json
import re
import uuid
from collections.abc import Collection
from typing import Any

from langchain_core.messages import AIMessage

_TAGGED = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.DOTALL)
_FENCE = re.compile(r"^```(?:json|python)?\s*|\s*```$")
_PY_CALL = re.compile(r"^(?:functions\.)?([A-Za-z_]\w*)\((.*)\)$", re.DOTALL)


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


def parse_calls(text: str, tools: Collection[str]) -> list[tuple[str, dict[str, Any]]]:
    """Every call in `text` if the text is nothing but calls to `tools`; else []."""
    text = text.strip()
    if not text:
        return []
    tagged = _TAGGED.findall(text)
    pieces = tagged if tagged and not _TAGGED.sub("", text).strip() else [text]
    calls = [_one_call(_FENCE.sub("", piece.strip())) for piece in pieces]
    if not calls or any(c is None or c[0] not in tools for c in calls):
        return []
    return [c for c in calls if c is not None]


def _one_call(text: str) -> tuple[str, dict[str, Any]] | None:
    return _json_call(text) or _python_call(text)


def _json_call(text: str) -> tuple[str, dict[str, Any]] | None:
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    name = data.get("name") or (data.get("function") or {}).get("name")
    args = data.get("arguments", data.get("parameters", data.get("args", {})))
    if isinstance(args, str):
        try:
            args = json.loads(args)
        except ValueError:
            return None
    return (name, args) if isinstance(name, str) and isinstance(args, dict) else None


def _python_call(text: str) -> tuple[str, dict[str, Any]] | None:
    match = _PY_CALL.match(text)
    if match is None:
        return None
    try:
        call = ast.parse(f"f({match.group(2)})", mode="eval").body
    except SyntaxError:
        return None
    if not isinstance(call, ast.Call) or call.args:
        return None
    try:
        args = {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords if kw.arg}
    except ValueError:
        return None
    return match.group(1), args
