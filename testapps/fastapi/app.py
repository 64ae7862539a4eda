"""Tapline's FastAPI test application.

It stands behind the proxy tap in tests and in the demo. Every request is
answered with what the application received (method, path, headers, body
size) as JSON, and logged with its request id and trace id, so a test can
check what reached the application and join the log line to the tap's
events.

Endpoints:
  GET  /healthz           liveness
  GET  /slow?ms=250       answers after a delay (at most 30 s)
  ANY  /fail              answers 500
  GET  /status/{code}     answers with the given status (100-599 excluded 1xx)
  WS   /ws                echoes text and binary messages
  ANY  /{anything}        echoes the request

Run: python3 -m uvicorn app:app --app-dir testapps/fastapi --port 8000
(or with --fd N to serve a socket the caller opened).
"""

import asyncio
import json
import logging
import sys

from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse

log = logging.getLogger("tapline.testapp")
if not log.handlers:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False

app = FastAPI(title="tapline-testapp", docs_url=None, redoc_url=None, openapi_url=None)


def trace_id(traceparent):
    """The trace id of a W3C traceparent header, or "" if it is not one."""
    parts = (traceparent or "").split("-")
    if len(parts) >= 4 and len(parts[1]) == 32:
        return parts[1]
    return ""


def log_request(request, status):
    log.info(json.dumps({
        "msg": "request",
        "method": request.method,
        "path": request.url.path,
        "status": status,
        "request_id": request.headers.get("x-request-id", ""),
        "trace_id": trace_id(request.headers.get("traceparent")),
        "principal": request.headers.get("x-tapline-principal", ""),
    }, sort_keys=True))


async def echo(request, status=200):
    body = await request.body()
    # Header names as received, lower case; repeated headers keep every value.
    headers = {}
    for name, value in request.headers.items():
        headers.setdefault(name.lower(), []).append(value)
    log_request(request, status)
    return JSONResponse(status_code=status, content={
        "method": request.method,
        "path": request.url.path,
        "query": request.url.query,
        "http_version": request.scope.get("http_version", ""),
        "headers": headers,
        "body_bytes": len(body),
        "request_id": request.headers.get("x-request-id", ""),
        "trace_id": trace_id(request.headers.get("traceparent")),
    })


@app.get("/healthz")
async def healthz():
    return {"status": "ok"}


@app.get("/slow")
async def slow(request: Request, ms: int = 250):
    await asyncio.sleep(min(max(ms, 0), 30000) / 1000.0)
    return await echo(request)


@app.api_route("/fail", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
async def fail(request: Request):
    return await echo(request, status=500)


@app.get("/status/{code}")
async def status(request: Request, code: int):
    if code < 200 or code > 599:
        code = 400
    return await echo(request, status=code)


@app.websocket("/ws")
async def ws_echo(websocket: WebSocket):
    await websocket.accept()
    log.info(json.dumps({
        "msg": "websocket",
        "request_id": websocket.headers.get("x-request-id", ""),
        "trace_id": trace_id(websocket.headers.get("traceparent")),
        "principal": websocket.headers.get("x-tapline-principal", ""),
    }, sort_keys=True))
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            if message.get("text") is not None:
                await websocket.send_text(message["text"])
            elif message.get("bytes") is not None:
                await websocket.send_bytes(message["bytes"])
    except WebSocketDisconnect:
        return


@app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"])
async def catch_all(request: Request, path: str):
    return await echo(request)
