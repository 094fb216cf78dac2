#!/usr/bin/env python3
"""A loopback HTTP proxy in front of a registry that misbehaves once per path:
the first GET of each blob sends half of it and drops the connection, the first GET of each
manifest answers 500. Usage: fault_proxy.py LISTEN_PORT UPSTREAM_PORT [slow]
With "slow" it makes no faults and sends blobs in 16 KiB pieces 5 ms apart, so a test can
kill a client in the middle of a download."""
import http.server, sys, time, urllib.request, urllib.error

SLOW = len(sys.argv) > 3 and sys.argv[3] == "slow"

UP = "http://127.0.0.1:%s" % sys.argv[2]
seen = set()

class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def forward(self, method):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else None
        req = urllib.request.Request(UP + self.path, data=body, method=method)
        for k, v in self.headers.items():
            if k.lower() not in ("host", "content-length", "connection"): req.add_header(k, v)
        try:
            r = urllib.request.urlopen(req)
        except urllib.error.HTTPError as e:
            r = e
        data = r.read()
        first = (method, self.path) not in seen and not SLOW
        seen.add((method, self.path))
        if first and method == "GET" and "/manifests/" in self.path:
            self.send_response(500); self.send_header("Content-Length", "0"); self.end_headers(); return
        self.send_response(r.status if hasattr(r, "status") else r.code)
        for k, v in r.headers.items():
            if k.lower() not in ("transfer-encoding", "connection", "content-length"): self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if first and method == "GET" and "/blobs/" in self.path and len(data) > 1000:
            self.wfile.write(data[: len(data) // 2]); self.wfile.flush()
            self.close_connection = True
            return
        if method == "HEAD": return
        if SLOW and "/blobs/" in self.path:
            for i in range(0, len(data), 16384):
                self.wfile.write(data[i:i + 16384]); self.wfile.flush(); time.sleep(0.005)
            return
        self.wfile.write(data)
    def do_GET(self): self.forward("GET")
    def do_HEAD(self): self.forward("HEAD")

http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
