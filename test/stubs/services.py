#!/usr/bin/env python3
"""Stub of the platform's other services (venue, ticket, payment, marketplace,
notification) for the worker tests. Python 3 standard library only.

    services.py PORT RECORD_FILE SECRET

Every request is appended to RECORD_FILE as one JSON line (method, path,
headers that matter, body, the status answered, and whether the HMAC
signature checked out with SECRET). Behaviour is changed through a control
endpoint:

    POST /_control {"prefix": "/internal/refunds", "fail": 2, "status": 503}
        the next 2 requests whose path starts with prefix get 503
    POST /_control {"prefix": "...", "fail_always": true, "status": 422}
    POST /_control {"prefix": "...", "delay_ms": 300}      answer late
    POST /_control {"prefix": "...", "hang": true}         never answer (until reset)
    POST /_control {"prefix": "...", "key": "refund:...", "fail_always": true, "status": 422}
        a rule that applies only to requests with that Idempotency-Key
    POST /_control {"tickets": 250}                        tickets the event has
    POST /_reset                                           clear rules (not the record)
    GET  /_requests                                        the record as a JSON array

Service routes (request and response shapes: docs/operations.md):
    GET  /internal/events/{id}/tickets          -> {"tickets": [{"id", "userId", "status"}]}
    POST /internal/tickets/cancel-batch         -> {"cancelled": n}
    POST /internal/refunds/bulk                 -> {"refundsRequested": n}
        (n = ticketIds + refunds; a request whose Idempotency-Key was answered
        2xx before gets that answer again, recorded with "replayed": true: the
        payment service pays a refund once, however often it is asked)
    POST /internal/events/{id}/cancel-listings  -> {"cancelled": n}
    POST /internal/notifications/batch          -> {"sent": n}
    GET  /internal/venues/{id}                  -> {"id", "name", "capacity", ...} (404 for ids ending 404404404404)
"""
import hashlib
import hmac
import json
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT, RECORD, SECRET = int(sys.argv[1]), sys.argv[2], sys.argv[3].encode()
LOCK = threading.Lock()
RULES = []          # dicts: prefix, fail, fail_always, status, delay_ms, hang
STATE = {"tickets": 10}
PAID = {}           # Idempotency-Key -> the first 2xx answer of /internal/refunds/bulk
HANG = threading.Event()


def record(entry):
    with LOCK, open(RECORD, "a") as f:
        f.write(json.dumps(entry) + "\n")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def reply(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def handle_one(self, method):
        raw = self.body()
        path = self.path.split("?")[0]
        if path == "/_control":
            rule = json.loads(raw or b"{}")
            with LOCK:
                if "tickets" in rule:
                    STATE["tickets"] = int(rule["tickets"])
                if "prefix" in rule:
                    RULES.append(rule)
            return self.reply(200, {"ok": True})
        if path == "/_reset":
            with LOCK:
                RULES.clear()
            HANG.set()
            return self.reply(200, {"ok": True})
        if path == "/_requests":
            with LOCK:
                try:
                    with open(RECORD) as f:
                        rows = [json.loads(l) for l in f if l.strip()]
                except FileNotFoundError:
                    rows = []
            return self.reply(200, rows)

        ts = self.headers.get("X-Timestamp", "")
        signed = "\n".join([method, self.path, ts, raw.decode()]).encode()
        want = hmac.new(SECRET, signed, hashlib.sha256).hexdigest()
        sig_ok = hmac.compare_digest(want, self.headers.get("X-Signature", ""))
        try:
            doc = json.loads(raw) if raw else {}
        except ValueError:
            doc = None

        status, delay, hang = None, 0, False
        with LOCK:
            for r in RULES:
                if not path.startswith(r["prefix"]):
                    continue
                if "key" in r and r["key"] != self.headers.get("Idempotency-Key"):
                    continue
                if r.get("hang"):
                    hang = True
                elif r.get("fail_always"):
                    status = r.get("status", 500)
                elif r.get("fail", 0) > 0:
                    r["fail"] -= 1
                    status = r.get("status", 503)
                delay = max(delay, r.get("delay_ms", 0))
        entry = {"t": time.time(), "method": method, "path": self.path, "body": doc,
                 "idempotency_key": self.headers.get("Idempotency-Key"),
                 "service": self.headers.get("X-Service-Name"),
                 "tenant": self.headers.get("X-Tenant-Id"), "sig_ok": sig_ok}
        if hang:
            entry["status"] = "hang"
            record(entry)
            HANG.wait(120)
            return
        if delay:
            time.sleep(delay / 1000.0)
        if status is None and not sig_ok:
            status = 401
        if status is not None:
            entry["status"] = status
            record(entry)
            return self.reply(status, {"error": "stub failure", "status": status})

        if method == "GET" and path.startswith("/internal/events/") and path.endswith("/tickets"):
            ev = path.split("/")[3]
            n = STATE["tickets"]
            res = {"tickets": [{"id": "tkt-%s-%05d" % (ev[:8], i), "userId": "user-%05d" % (i % max(1, n // 2 or 1)),
                                "status": "ACTIVE"} for i in range(n)]}
        elif path == "/internal/tickets/cancel-batch":
            res = {"cancelled": len(doc.get("ticketIds", []))}
        elif path == "/internal/refunds/bulk":
            key = self.headers.get("Idempotency-Key")
            with LOCK:
                first = PAID.get(key)
                if first is None:
                    res = {"refundsRequested": len(doc.get("ticketIds", [])) + len(doc.get("refunds", []))}
                    PAID[key] = res
                else:
                    res = first
                    entry["replayed"] = True
        elif path.startswith("/internal/events/") and path.endswith("/cancel-listings"):
            res = {"cancelled": 3}
        elif path == "/internal/notifications/batch":
            res = {"sent": len(doc.get("recipients", []))}
        elif method == "GET" and path.startswith("/internal/venues/") and path.split("/")[3].split("?")[0].endswith("404404404404"):
            entry["status"] = 404
            record(entry)
            return self.reply(404, {"error": "no such venue"})
        elif method == "GET" and path.startswith("/internal/venues/"):
            vid = path.split("/")[3].split("?")[0]
            res = {"id": vid, "name": "Stub Arena", "capacity": 5000, "timezone": "UTC", "isActive": True}
        else:
            entry["status"] = 404
            record(entry)
            return self.reply(404, {"error": "no such route"})
        entry["status"] = 200
        record(entry)
        return self.reply(200, res)

    def do_GET(self):
        self.handle_one("GET")

    def do_POST(self):
        self.handle_one("POST")

    def do_PUT(self):
        self.handle_one("PUT")


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


if __name__ == "__main__":
    Server(("127.0.0.1", PORT), Handler).serve_forever()
