"""Keep the bot token and chat content out of the logs.

python-telegram-bot puts the token in request URLs, which httpx logs and exceptions may
quote; at DEBUG it also logs every Bot API payload, trader messages included (from chats
outside the allow-list too).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

MASK = "<bot-token>"


@contextmanager
def token_redacted(token: str) -> Iterator[None]:
    """While inside, any log record mentioning `token` shows `MASK` instead; httpx's request
    lines are silenced below WARNING and python-telegram-bot's payload dumps below INFO."""
    previous = logging.getLogRecordFactory()
    quieted = {logging.getLogger("httpx"): logging.WARNING,
               logging.getLogger("telegram"): logging.INFO}
    levels = {logger: logger.level for logger in quieted}

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is left for logging to report
            return record
        if token in message:
            record.msg, record.args = message.replace(token, MASK), None
        if record.exc_info:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_info, record.exc_text = None, text.replace(token, MASK)
        return record

    logging.setLogRecordFactory(factory)
    for logger, floor in quieted.items():
        logger.setLevel(max(logger.level, floor))
    try:
        yield
    finally:
        logging.setLogRecordFactory(previous)
        for logger, level in levels.items():
            logger.setLevel(level)
