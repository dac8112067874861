"""Logging: JSON lines with size rotation, levels per component, secrets never written."""

from __future__ import annotations

import json
import logging

import pytest

from agent.config import Settings
from agent.logs import (
    LogOptions,
    LogQuery,
    RedactingFilter,
    configure_logging,
    known_secrets,
    parse_levels,
    read_logs,
)

BOT_TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
API_TOKEN = "api-token-that-must-never-be-logged-42"


def file_text(folder) -> str:
    return "".join(p.read_text() for p in folder.glob("*.jsonl*"))


def test_rotation_when_size_reached_then_rotates_and_keeps_backups(tmp_path, restore_logging):
    configure_logging(LogOptions(folder=tmp_path, max_bytes=2_000, backups=2, console=False),
                      secrets=[])
    log = logging.getLogger("agent.test")
    for i in range(200):
        log.info("line %03d %s", i, "x" * 40)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["companion.jsonl", "companion.jsonl.1", "companion.jsonl.2"]
    assert all(p.stat().st_size <= 2_000 for p in tmp_path.iterdir())
    last = json.loads((tmp_path / "companion.jsonl").read_text().splitlines()[-1])
    assert last["message"].startswith("line 199") and last["logger"] == "agent.test"


def test_secrets_when_logged_every_way_then_masked_in_file(tmp_path, monkeypatch,
                                                           restore_logging):
    monkeypatch.setenv("COMPANION_API_TOKEN", API_TOKEN)
    monkeypatch.setenv("COMPANION_MT5_PASSWORD", "hunter2-mt5-password")
    configure_logging(LogOptions(folder=tmp_path, console=False))
    log = logging.getLogger("channels.test")
    log.warning("header Authorization: Bearer %s", "some-unconfigured-bearer-token")
    log.warning("calling https://api.telegram.org/bot%s/getUpdates", BOT_TOKEN)
    log.warning("configured token %s and password %s", API_TOKEN, "hunter2-mt5-password")
    log.warning("url https://example.test/x?api_key=abcdef123456&x=1")
    try:
        raise RuntimeError(f"login failed with {API_TOKEN}")
    except RuntimeError:
        log.exception("boom")
    text = file_text(tmp_path)
    for secret in (API_TOKEN, "hunter2-mt5-password", BOT_TOKEN, "abcdef123456",
                   "some-unconfigured-bearer-token"):
        assert secret not in text
    assert text.count("***") >= 6
    assert "RuntimeError: login failed with ***" in text


def test_known_secrets_when_env_set_then_every_secret_env_is_collected(monkeypatch):
    from agent.config import SECRET_ENV

    for i, env in enumerate(SECRET_ENV.values()):
        monkeypatch.setenv(env, f"secret-value-{i:02d}-abcdef")
    assert len(known_secrets()) == len(SECRET_ENV)


def test_filter_when_message_has_percent_and_no_args_then_kept():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "100% done", (), None)
    RedactingFilter(["irrelevant-secret"]).filter(record)
    assert record.getMessage() == "100% done"


def test_levels_when_per_component_then_quiet_component_drops_lines(tmp_path, monkeypatch,
                                                                  restore_logging):
    monkeypatch.setenv("COMPANION_LOG_LEVELS", "agent.broker=ERROR,agent.risk=DEBUG")
    options = LogOptions.from_settings(Settings(data_dir=tmp_path), role="test", console=False)
    configure_logging(options, secrets=[])
    logging.getLogger("agent.broker.manager").warning("broker warning")
    logging.getLogger("agent.risk.engine").debug("risk debug")
    logging.getLogger("agent.other").debug("other debug")
    messages = [line["message"] for line in read_logs(options.folder, LogQuery())]
    assert messages == ["risk debug"]
    assert options.path.name == "test.jsonl"


def test_parse_levels_when_malformed_then_sentence():
    assert parse_levels("a=debug, b.c=ERROR") == {"a": "DEBUG", "b.c": "ERROR"}
    with pytest.raises(ValueError, match="is not component=LEVEL"):
        parse_levels("a=LOUD")


def test_read_logs_when_filtered_then_component_and_level_apply(tmp_path, restore_logging):
    configure_logging(LogOptions(folder=tmp_path, console=False, level="DEBUG"), secrets=[])
    logging.getLogger("channels.rest.access").info("GET /v1/positions")
    logging.getLogger("channels.restless").error("not rest")
    logging.getLogger("channels.rest").error("rest error")
    rest = read_logs(tmp_path, LogQuery(component="channels.rest"))
    errors = read_logs(tmp_path, LogQuery(component="channels.rest", level="error"))
    assert [l["message"] for l in rest] == ["GET /v1/positions", "rest error"]
    assert [l["message"] for l in errors] == ["rest error"]
