"""The demo's FastAPI application: testapps/fastapi/app.py with one timing
middleware in front.

Debian has no OpenTelemetry SDK for Python, so the application cannot send
its own spans. This middleware does the part that needs the application's
point of view: for every HTTP request it prints one JSON line ("msg": "hop")
with the request id and traceparent the application received, when the
request started and how long it took, the status and the caller the proxy
vouched for. `tapline demo` reads these lines and sends the application's
span and its access event (source "app") with the OpenTelemetry Go SDK.

Run (testapps/fastapi on the import path):
  PYTHONPATH=testapps/fastapi python3 -m uvicorn demo_app:app --app-dir demo/app
"""

import json
import sys
import time

from app import app as echo_app


class HopLog:
    """ASGI middleware printing one "hop" line per HTTP request."""

    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.inner(scope, receive, send)
            return
        start = time.time_ns()
        status = {"code": 0}

        async def send_status(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.inner(scope, receive, send_status)
        finally:
            headers = {}
            for name, value in scope.get("headers", []):
                headers.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))
            print(json.dumps({
                "msg": "hop",
                "start_ns": start,
                "duration_ns": time.time_ns() - start,
                "method": scope.get("method", ""),
                "path": scope.get("path", ""),
                "query": scope.get("query_string", b"").decode("latin-1"),
                "status": status["code"] or 500,
                "request_id": headers.get("x-request-id", ""),
                "traceparent": headers.get("traceparent", ""),
                "principal": headers.get("x-tapline-principal", ""),
                "principal_type": headers.get("x-tapline-principal-type", ""),
                "user_agent": headers.get("user-agent", ""),
            }, sort_keys=True), file=sys.stdout, flush=True)


app = HopLog(echo_app)
