"""The MCP server: the companion's read tools and propose-only tools for any MCP client.

`companion mcp` serves the Model Context Protocol (official `mcp` SDK) over stdio or streamable
HTTP on 127.0.0.1. Every tool is a thin call into `CompanionService`. A proposal answers with the
risk engine's decision and the ticket id; no tool approves, confirms or sends anything: the trader
confirms the ticket in the web chat, Telegram or the CLI (see docs/mcp.md).
"""
