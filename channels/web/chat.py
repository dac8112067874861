"""One chat turn on the page: streamed tokens, tool steps, charts, ticket cards.

Parses nothing but the events of `CompanionService.stream`; every number shown comes from
the service (charts too: their bars are the service's).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import chainlit as cl

from channels.web import cards, charts
from channels.web.session import WebSession

CHART_TOOLS = frozenset({"analyze", "bars"})
class Turn:
    """Renders one turn's events as they arrive."""

    def __init__(self, web: WebSession) -> None:
        self.web = web
        self.answer: cl.Message | None = None
        self.steps: dict[str, cl.Step] = {}
        self.charts: list[cl.Plotly] = []

    async def run(self, text: str) -> None:
        try:
            async for event in self.web.service.stream(self.web.thread_id, text):
                await getattr(self, f"_on_{event.kind}")(event.text, event.data)
        finally:
            await self._finish()

    async def _on_token(self, text: str, data: dict[str, Any]) -> None:
        if self.answer is None:
            self.answer = cl.Message("")
        await self.answer.stream_token(text)

    async def _on_tool_start(self, name: str, data: dict[str, Any]) -> None:
        step = _tool_step(name)
        step.input = data.get("args", {})
        await step.send()
        self.steps[data.get("id", name)] = step

    async def _on_tool_end(self, name: str, data: dict[str, Any]) -> None:
        step = self.steps.pop(data.get("id", name), None)
        if step is None:
            await (step := _tool_step(name)).send()
        step.output = data.get("output", "")
        await step.update()
        try:
            output = json.loads(step.output)
        except ValueError:
            return  # a denial or an error sentence: nothing to chart
        await self._chart(name, output)

    async def _on_message(self, text: str, data: dict[str, Any]) -> None:
        if data.get("command"):
            await self._chart(data["command"], data.get("data"))
        if data.get("streamed") and self.answer is not None:
            self.answer.content = cards.markdown_text(text) if text else self.answer.content
            await self._attach(self.answer)
            await self.answer.send()
            self.answer = None
            return
        await self._attach(message := cl.Message(cards.markdown_text(text)))
        await message.send()

    async def _on_ticket(self, text: str, data: dict[str, Any]) -> None:
        await self.web.show_ticket(data)

    async def _on_error(self, text: str, data: dict[str, Any]) -> None:
        await cl.ErrorMessage(text).send()

    async def _attach(self, message: cl.Message) -> None:
        message.elements = [*message.elements, *self.charts]
        self.charts = []

    async def _finish(self) -> None:
        for step in self.steps.values():
            await step.update()
        if self.answer is not None:
            await self._attach(self.answer)
            await self.answer.send()
        elif self.charts:
            await self._attach(message := cl.Message(""))
            await message.send()

    async def _chart(self, name: str, data: Any) -> None:
        figure = await chart_for(self.web, name, data)
        if figure is not None:
            self.charts.append(cl.Plotly(name=f"{name} chart", figure=figure, display="inline",
                                         size="large"))


def _tool_step(name: str) -> cl.Step:
    """A collapsible tool step, in the turn's run so it shows where it happened."""
    run = cl.context.current_step
    return cl.Step(name=name, type="tool", show_input="json", language="json",
                   parent_id=run.id if run else None)


async def chart_for(web: WebSession, name: str, data: Any) -> Any:
    """The figure that goes with a tool result or command reply, or None (drawn in a
    worker thread; a candle chart's bars come from the service)."""
    if name in CHART_TOOLS and isinstance(data, dict) and data.get("symbol"):
        symbol, timeframe = data["symbol"], data.get("timeframe", web.timeframe)
        bars = await web.service.bars_frame(symbol, timeframe, charts.FETCHED)
        return await asyncio.to_thread(charts.candles, bars, symbol, timeframe)
    if name in ("account", "status") and isinstance(data, dict) and "equity" in data:
        return await asyncio.to_thread(charts.account, data)
    if name == "positions" and isinstance(data, list) and data:
        return await asyncio.to_thread(charts.positions, data)
    if name == "daily" and isinstance(data, dict) and data.get("days"):
        return await asyncio.to_thread(charts.equity_curve, data)
    return None
