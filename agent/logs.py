"""Logging, configured once per process (stdlib `dictConfig`), and reading the logs back.

- Console: rich, for humans. File: JSON lines under `Settings.logs_path` (`<role>.jsonl`),
  rotated by size with a fixed number of old files kept. Every long-running command calls
  `start_logging` (chat without the console handler: the console is the conversation).
- Levels: `Settings.log_level` for everything; per component (logger name prefix) from
  `COMPANION_LOG_LEVELS`, e.g. `agent.broker=DEBUG,channels.rest.access=WARNING`.
  Rotation: `COMPANION_LOG_MAX_BYTES` (default 10 MiB) and `COMPANION_LOG_BACKUPS` (default 5).
- Every handler carries the redaction filter: each configured secret's value (every
  `SECRET_ENV` entry found in the environment or the keyring), bearer tokens, Telegram bot
  tokens inside URLs and `token=`/`key=`/`password=` values are replaced by `***` in the
  message, the exception text and the stack, before any handler formats the record.
"""

from __future__ import annotations

import json
import logging
import logging.config
import os
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent.config import SECRET_ENV, Settings, secret
from agent.domain import CompanionError

MASK = "***"
MIN_SECRET_LENGTH = 6  # shorter values would mask ordinary words
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_PATTERNS = (
    (re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]+"), rf"\1{MASK}"),
    (re.compile(r"\bbot\d{3,}:[A-Za-z0-9_-]{10,}"), f"bot{MASK}"),
    (re.compile(r"(?i)\b((?:api[_-]?key|access[_-]?token|token|password|passwd|secret)"
                r"[\"']?\s*[=:]\s*[\"']?)[^\s&\"',}]+"), rf"\1{MASK}"),
)


@dataclass(frozen=True, kw_only=True)
class LogOptions:
    """How this process logs."""

    folder: Path
    role: str = "companion"
    level: str = "INFO"
    levels: dict[str, str] = field(default_factory=dict)
    max_bytes: int = 10 * 1024 * 1024
    backups: int = 5
    console: bool = True

    @classmethod
    def from_settings(cls, settings: Settings, *, role: str, console: bool = True) -> LogOptions:
        env = os.environ
        return cls(folder=settings.logs_path, role=role, level=settings.log_level.upper(),
                   levels=parse_levels(env.get("COMPANION_LOG_LEVELS", "")),
                   max_bytes=int(env.get("COMPANION_LOG_MAX_BYTES", 10 * 1024 * 1024)),
                   backups=int(env.get("COMPANION_LOG_BACKUPS", 5)), console=console)

    @property
    def path(self) -> Path:
        return self.folder / f"{self.role}.jsonl"


def parse_levels(text: str) -> dict[str, str]:
    """`a.b=DEBUG,c=WARNING` -> {"a.b": "DEBUG", "c": "WARNING"}; ValueError when malformed."""
    levels = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, level = item.partition("=")
        if not name or level.upper() not in LEVELS:
            raise ValueError(f"COMPANION_LOG_LEVELS: '{item}' is not component=LEVEL "
                             f"(LEVEL one of {', '.join(LEVELS)})")
        levels[name.strip()] = level.upper()
    return levels


def known_secrets(extra: Iterable[str] = ()) -> list[str]:
    """Every secret value this process could hold (environment or keyring), longest first."""
    values = {s.get_secret_value() for name in SECRET_ENV if (s := secret(name)) is not None}
    values |= set(extra)
    return sorted((v for v in values if len(v) >= MIN_SECRET_LENGTH), key=len, reverse=True)


class RedactingFilter(logging.Filter):
    """Replaces secrets in a record's message, exception and stack text (never drops it)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        values = [re.escape(s) for s in secrets if len(s) >= MIN_SECRET_LENGTH]
        self._values = re.compile("|".join(values)) if values else None

    def redact(self, text: str) -> str:
        if self._values is not None:
            text = self._values.sub(MASK, text)
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = self.redact(_message(record)), ()
        if record.exc_info:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None  # handlers must not render the raw exception again
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def _message(record: logging.LogRecord) -> str:
    try:
        return record.getMessage()
    except Exception:  # noqa: BLE001 - a bad format string must not lose the line
        return f"{record.msg} {record.args!r}"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, exception text."""

    def format(self, record: logging.LogRecord) -> str:
        line = {"time": datetime.fromtimestamp(record.created, UTC).isoformat(
                    timespec="milliseconds"),
                "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        if record.exc_text:
            line["exc"] = record.exc_text
        if record.stack_info:
            line["stack"] = record.stack_info
        return json.dumps(line, ensure_ascii=False)


def _rich_handler() -> logging.Handler:
    from rich.console import Console
    from rich.logging import RichHandler

    return RichHandler(console=Console(stderr=True), show_path=False, markup=False,
                       rich_tracebacks=False)


def configure_logging(options: LogOptions, *, secrets: Iterable[str] | None = None) -> None:
    """Configure the process's logging (call once, at start). `secrets`: values to mask;
    by default every secret the configuration knows (`known_secrets()`)."""
    options.folder.mkdir(parents=True, exist_ok=True)
    handlers: dict[str, Any] = {"file": {
        "class": "logging.handlers.RotatingFileHandler", "filename": str(options.path),
        "maxBytes": options.max_bytes, "backupCount": options.backups, "encoding": "utf-8",
        "formatter": "json", "filters": ["redact"]}}
    if options.console:
        handlers["console"] = {"()": _rich_handler, "filters": ["redact"]}
    quiet = {"httpx": "WARNING", "httpcore": "WARNING", "uvicorn.access": "WARNING",
             "aiosqlite": "WARNING"}
    logging.config.dictConfig({
        "version": 1, "disable_existing_loggers": False,
        "filters": {"redact": {"()": RedactingFilter,
                               "secrets": known_secrets() if secrets is None else secrets}},
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": handlers,
        "root": {"level": options.level, "handlers": list(handlers)},
        "loggers": {name: {"level": level} for name, level in {**quiet, **options.levels}.items()},
    })


def start_logging(settings: Settings, role: str, *, console: bool = True) -> LogOptions:
    """Logging for a long-running command (chat, web, telegram, api, serve, bridge): the
    rotating `<role>.jsonl` that `companion logs` reads, and a first line saying it started.
    CompanionError when the log variables are malformed."""
    try:
        options = LogOptions.from_settings(settings, role=role, console=console)
    except ValueError as exc:
        raise CompanionError("bad_log_settings", f"The log settings are malformed: {exc}.") \
            from None
    configure_logging(options)
    logging.getLogger(__name__).info("companion %s started (pid %d)", role, os.getpid())
    return options


# -- reading the logs back (`companion logs`) ----------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class LogQuery:
    component: str | None = None  # a logger name prefix
    level: str = "DEBUG"

    def matches(self, line: dict[str, Any]) -> bool:
        name = str(line.get("logger", ""))
        if self.component and not (name == self.component
                                   or name.startswith(self.component + ".")):
            return False
        return LEVELS.index(line.get("level", "INFO")) >= LEVELS.index(self.level.upper()) \
            if line.get("level") in LEVELS else True


def read_logs(folder: Path, query: LogQuery) -> list[dict[str, Any]]:
    """Every matching line of the current and rotated files, oldest first."""
    lines = [line for path in sorted(folder.glob("*.jsonl*")) for line in _lines(path)]
    return sorted((line for line in lines if query.matches(line)), key=lambda l: l["time"])


def follow_logs(folder: Path, query: LogQuery, *, poll_s: float = 0.5) -> Iterator[dict]:
    """Matching lines as they are written to the current files (follows rotation)."""
    offsets = {path: path.stat().st_size for path in folder.glob("*.jsonl")}
    while True:
        for path in folder.glob("*.jsonl"):
            size = path.stat().st_size
            start = offsets.get(path, 0)
            if size < start:  # rotated: the file started again
                start = 0
            if size > start:
                with path.open("rb") as handle:
                    handle.seek(start)
                    chunk = handle.read(size - start)
                complete = chunk.rfind(b"\n") + 1
                offsets[path] = start + complete
                yield from (line for line in _parse(chunk[:complete]) if query.matches(line))
            else:
                offsets[path] = size
        time.sleep(poll_s)


def _lines(path: Path) -> list[dict[str, Any]]:
    return list(_parse(path.read_bytes()))


def _parse(data: bytes) -> Iterator[dict[str, Any]]:
    for raw in data.splitlines():
        try:
            line = json.loads(raw)
        except ValueError:
            continue  # a line cut by a crash: skip it
        if isinstance(line, dict) and "time" in line:
            yield line
