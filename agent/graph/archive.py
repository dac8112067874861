"""The archive: a long conversation's older turns move out of the graph's state into the journal.

Invariant: the thread is kept whole and in order (journal archive + state), while the
checkpoint, and so every turn's checkpoint read and write and LangGraph's scan of the state,
stays bounded whatever the thread's length.

When a turn ends (routed here only when `due`), every whole turn before the last
`memory.STATE_TURNS` is written to the journal's `thread_messages` (one row per message, at its
place in the thread) and then removed from the state with `RemoveMessage`; the state's
"archived" key keeps the facts the window of the coming turns still needs
(`agent.graph.memory.compact`), so the model is sent the same window as with the whole thread.
The current turn is never moved, and neither is a pending ticket's: a ticket waits inside its
turn (confirm), and this node runs only once a turn is over.

The journal write comes first and is idempotent (same messages, same places), so a process
killed before the checkpoint is saved loses nothing: the next turn moves the same messages
again. A journal that cannot be written leaves the state whole (nothing is removed).
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

from langchain_core.messages import BaseMessage, RemoveMessage, message_to_dict, messages_from_dict
from langchain_core.runnables import RunnableConfig

from agent.graph import memory
from agent.graph.context import GraphDeps
from agent.graph.state import AgentState
from agent.store.journal import Journal

log = logging.getLogger(__name__)

EVERY = 1  # turns a thread grows past STATE_TURNS before its older turns move out


def due(state: AgentState) -> bool:
    """True when the state holds turns to move out (cheap: reads from the end)."""
    return memory.compact_due(state["messages"], keep=memory.STATE_TURNS, every=EVERY)


def make_archive(deps: GraphDeps):
    journal = deps.tickets.journal

    def archive(state: AgentState, config: RunnableConfig) -> dict[str, Any]:
        """Move the turns before the last STATE_TURNS to the journal; keep their facts."""
        thread_id = config.get("configurable", {}).get("thread_id")
        compaction = memory.compact(state["messages"], state.get("archived"))
        if thread_id is None or compaction is None or any(
                m.id is None for m in compaction.moved):
            return {}
        try:
            journal.archive_messages(str(thread_id), compaction.first_seq,
                                     [message_to_dict(m) for m in compaction.moved])
        except sqlite3.Error:  # kept in the state, moved at a later turn
            log.warning("could not archive %d messages of thread %s; they stay in its state",
                        len(compaction.moved), thread_id, exc_info=True)
            return {}
        return {"messages": [RemoveMessage(id=m.id) for m in compaction.moved],
                "archived": compaction.archived}
    return archive


def thread_messages(journal: Journal, state_messages: list[BaseMessage],
                    archived: memory.Archived | None, thread_id: str) -> list[BaseMessage]:
    """The whole thread: its archived messages, then the state's. Only the messages the
    state says were moved out are read, so a write not yet saved in the state (a turn
    running now, or one that died) is not read twice."""
    if not archived or not archived["messages"]:
        return list(state_messages)
    rows = journal.archived_messages(thread_id, before=archived["messages"])
    return [*messages_from_dict(rows), *state_messages]
