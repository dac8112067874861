"""A logging proxy for an OpenAI-compatible model server, on 127.0.0.1: read what the model got.

    python bench/logging_proxy.py --upstream http://127.0.0.1:PORT/v1 --port 8099 --log proxy.jsonl

then point the companion (or an eval) at http://127.0.0.1:8099/v1. Every request body and the
whole answer (a streamed answer reassembled from its chunks, plus the raw chunks) is appended
to the log as one JSON line, so a score can be explained from the exact prompt and tool list
the model saw. Nothing is changed on the way through.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import httpx
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import Response, StreamingResponse


def make_app(upstream: str, log_path: Path) -> FastAPI:
    app = FastAPI()
    client = httpx.AsyncClient(base_url=upstream.rstrip("/"), timeout=None, trust_env=False)

    def write(entry: dict) -> None:
        with open(log_path, "a") as log:
            log.write(json.dumps(entry) + "\n")

    @app.api_route("/v1/{path:path}", methods=["GET", "POST"])
    async def proxy(path: str, request: Request) -> Response:
        body = await request.body()
        started = time.time()
        upstream_request = client.build_request(
            request.method, f"/{path}", content=body,
            headers={"content-type": request.headers.get("content-type", "application/json")})
        answer = await client.send(upstream_request, stream=True)
        entry = {"t": started, "path": path, "request": json.loads(body) if body else None,
                 "status": answer.status_code}

        async def relay():
            chunks = []
            try:
                async for chunk in answer.aiter_raw():
                    chunks.append(chunk)
                    yield chunk
            finally:
                await answer.aclose()
                raw = b"".join(chunks).decode(errors="replace")
                entry["seconds"] = round(time.time() - started, 3)
                try:
                    entry["response"] = json.loads(raw)
                except ValueError:
                    entry["response_stream"] = raw
                write(entry)

        return StreamingResponse(relay(), status_code=answer.status_code,
                                 media_type=answer.headers.get("content-type"))

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--log", type=Path, default=Path("proxy.jsonl"))
    args = parser.parse_args()
    uvicorn.run(make_app(args.upstream, args.log), host="127.0.0.1", port=args.port,
                log_level="warning")


if __name__ == "__main__":
    main()
