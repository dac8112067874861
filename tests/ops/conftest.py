"""Ops tests change the process's logging: each gets it back as it was."""

from __future__ import annotations

import logging

import pytest


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    named = {name: (lg.level, list(lg.filters)) for name, lg in logging.Logger.manager.loggerDict
             .items() if isinstance(lg, logging.Logger)}
    yield
    for handler in root.handlers:
        if handler not in handlers:
            handler.close()
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, (lvl, _) in named.items():
        logging.getLogger(name).setLevel(lvl)
