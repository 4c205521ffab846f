"""The writer share against a small real HTTP server: every write recorded once with the stores
that acknowledged it; deletes only of acknowledged upserts; failures are not acknowledged."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from harness.load.writer import WriteLoad
from harness.timeline import Timeline


class _Docs(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: ClassVar[list[dict[str, object]]] = []

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Docs.seen.append(body)
        n = len(_Docs.seen)
        status, acked = (503, "") if n % 5 == 0 else (200, "qdrant,redis" if n % 2 else "qdrant")
        data = b"{}"
        self.send_response(status)
        self.send_header("X-Write-Acked", acked)
        self.send_header("X-Replica", "app-x")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture()
def server() -> Iterator[str]:
    _Docs.seen = []
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Docs)
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()
    t.join(2)


def test_every_write_is_recorded_with_its_acknowledgement(server: str) -> None:
    tl = Timeline()
    w = WriteLoad(url=server, api_key="k", rate=60, seed=3, timeline=tl, delete_share=0.3,
                  timeout_s=2.0)
    w.start()
    time.sleep(1.5)
    counts = w.stop()
    ops = tl.events_of("writes.op")
    assert counts["sent"] == len(ops) == len(_Docs.seen) > 40
    assert counts["acknowledged"] + counts["failed"] == counts["sent"]
    assert len({o.get("write_id") for o in ops}) == len(ops)  # unique write ids
    by_id = {o.get("write_id"): o for o in ops}
    failed = [o for o in ops if o.get("status") == 503]
    assert failed and all(o.get("acked") == [] and o.get("error") == "HTTP503" for o in failed)
    assert {tuple(o.get("acked")) for o in ops if o.get("status") == 200} == {
        ("qdrant", "redis"), ("qdrant",)}
    acked_upserts = {o.get("doc_id") for o in ops if o.get("op") == "upsert" and o.get("acked")}
    deletes = [o for o in ops if o.get("op") == "delete"]
    assert deletes and all(d.get("doc_id") in acked_upserts for d in deletes)
    assert len({d.get("doc_id") for d in deletes}) == len(deletes)  # each doc deleted once
    sent = {b["write_id"]: b for b in _Docs.seen}
    assert all(sent[k]["op"] == v.get("op") for k, v in by_id.items())
    assert tl.events_of("writes.start") and tl.events_of("writes.stop")[0].get("sent") == len(ops)


def test_unreachable_service_writes_are_not_acknowledged() -> None:
    tl = Timeline()
    w = WriteLoad(url="http://127.0.0.1:9", api_key="k", rate=30, seed=1, timeline=tl,
                  timeout_s=0.5)
    w.start()
    time.sleep(0.5)
    w.stop()
    ops = tl.events_of("writes.op")
    assert ops and all(o.get("acked") == [] and o.get("error") for o in ops)
    assert all(o.get("op") == "upsert" for o in ops)  # nothing acknowledged, nothing to delete
