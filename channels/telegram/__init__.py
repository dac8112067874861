"""The Telegram channel: a python-telegram-bot application over the companion's service.

Split by topic: `bot` (assembly, gate, lifecycle), `commands`, `tickets`, `alerts` (event
pushes and their settings), `formatting`, `outbox` (retried delivery), `cli`.
"""
