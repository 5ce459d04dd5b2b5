#!/usr/bin/env python3
"""flaky-http.py DOCROOT PORTFILE LOG: a static HTTP/1.1 server on
127.0.0.1 (port written to PORTFILE) that misbehaves the way CDNs do,
once per path, for the download tests:
  *InRelease, repomd.xml  -> 429 with Retry-After: 1, then served
  *.deb, *.rpm            -> first 503, then the first half of the body and
                             a dropped connection, then served (Range honoured)
Every request is logged to LOG as "METHOD PATH STATUS RANGE"."""
import http.server, os, sys

ROOT, PORTFILE, LOG = sys.argv[1], sys.argv[2], sys.argv[3]
seen = {}

class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def note(self, status):
        with open(LOG, "a") as f:
            f.write("%s %s %d %s\n" % (self.command, self.path, status, self.headers.get("Range", "-")))

    def send_body(self, status, body, extra=()):
        self.send_response(status)
        for k, v in extra:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.note(status)

    def do_GET(self):
        path = os.path.normpath(os.path.join(ROOT, self.path.lstrip("/")))
        if not path.startswith(ROOT) or not os.path.isfile(path):
            return self.send_body(404, b"not found\n")
        n = seen.get(self.path, 0)
        seen[self.path] = n + 1
        data = open(path, "rb").read()
        if self.path.endswith(("InRelease", "repomd.xml")) and n == 0:
            return self.send_body(429, b"slow down\n", [("Retry-After", "1")])
        if self.path.endswith((".deb", ".rpm")):
            if n == 0:
                return self.send_body(503, b"busy\n")
            if n == 1:  # half the body, then the connection drops
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                self.note(200)
                self.close_connection = True
                return
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes=") and rng.endswith("-"):
            start = int(rng[6:-1])
            return self.send_body(206, data[start:], [("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))])
        self.send_body(200, data)

s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
with open(PORTFILE + ".tmp", "w") as f:
    f.write(str(s.server_address[1]))
os.rename(PORTFILE + ".tmp", PORTFILE)
s.serve_forever()
