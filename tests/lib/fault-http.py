#!/usr/bin/env python3
"""fault-http.py CONTROL PORTFILE LOG: a static HTTP/1.1 server on
127.0.0.1 only (port written to PORTFILE) whose faults are set per path by
the JSON file CONTROL, re-read on every request:

  {"root": "/dir/served",
   "rules": [{"match": "InRelease", "fault": "status", "code": 503, "times": 2}, ...]}

A rule applies to request paths containing "match"; with "times" only to
that many requests (a transient fault), else to all (a permanent one).
Faults:
  status     answer "code" (with "retry_after" seconds if given)
  truncate   serve the first half, with a matching Content-Length
  flip       flip one byte in the middle of the body
  drop       announce the full length, send half, close the connection
  badlen     announce "extra" more bytes than sent, then close
  stall      wait "seconds" after the headers, then send the body
  trickle    send the body at "rate" bytes per second (Range honoured)
  pause      send the first "bytes" bytes, wait "seconds", send the rest
             (Range honoured)
  ranged     serve normally, but honour a Range request (206); without a
             rule a Range is ignored (200 and the whole file)
  loop       redirect to the same path, for ever
  redirect   redirect to "to" + the path (another host)
  endless    a body without end (no Content-Length), until the client stops
  swap       serve normally, then switch the root to "then_root"
Every request is logged to LOG as "METHOD PATH STATUS FAULT RANGE" (RANGE:
the Range header, or -).  No response carries an ETag or a Last-Modified:
like many real mirrors, this server offers no validators."""
import http.server
import json
import os
import sys
import threading
import time

CONTROL, PORTFILE, LOG = sys.argv[1], sys.argv[2], sys.argv[3]
lock = threading.Lock()
used = {}  # rule index -> times applied (reset when CONTROL changes)
stamp = [None]


def control():
    with open(CONTROL) as f:
        text = f.read()
    with lock:
        if text != stamp[0]:
            stamp[0] = text
            used.clear()
    return json.loads(text)


def pick(ctl, path):
    with lock:
        for i, r in enumerate(ctl.get("rules", [])):
            if r["match"] not in path:
                continue
            if "times" in r and used.get(i, 0) >= r["times"]:
                continue
            used[i] = used.get(i, 0) + 1
            return r
    return None


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def note(self, status, fault):
        with open(LOG, "a") as f:
            f.write("%s %s %d %s %s\n" % (self.command, self.path, status, fault,
                                           self.headers.get("Range", "-")))

    def head(self, status, length, extra=()):
        self.send_response(status)
        for k, v in extra:
            self.send_header(k, v)
        if length is not None:
            self.send_header("Content-Length", str(length))
        else:
            self.send_header("Connection", "close")
        self.end_headers()

    def body(self, status, data, fault="-", extra=()):
        self.head(status, len(data), extra)
        self.wfile.write(data)
        self.note(status, fault)

    def ranged(self, data):
        """A "bytes=N-" request's part of DATA: (status, body, headers)."""
        rng = self.headers.get("Range", "")
        if rng.startswith("bytes=") and rng.endswith("-") and rng[6:-1].isdigit():
            start = int(rng[6:-1])
            if start < len(data):
                cr = "bytes %d-%d/%d" % (start, len(data) - 1, len(data))
                return 206, data[start:], [("Content-Range", cr)]
        return 200, data, []

    def do_GET(self):
        ctl = control()
        root = os.path.realpath(ctl["root"])
        path = os.path.realpath(os.path.join(root, self.path.split("?")[0].lstrip("/")))
        r = pick(ctl, self.path)
        f = r["fault"] if r else "-"
        if f == "status":
            extra = [("Retry-After", str(r["retry_after"]))] if "retry_after" in r else []
            return self.body(r["code"], b"fault\n", f, extra)
        if f == "loop":
            return self.body(302, b"", f, [("Location", self.path)])
        if f == "redirect":
            return self.body(302, b"", f, [("Location", r["to"] + self.path)])
        if not path.startswith(root + os.sep) or not os.path.isfile(path):
            return self.body(404, b"not found\n", f)
        data = open(path, "rb").read()
        if f == "truncate":
            return self.body(200, data[: len(data) // 2], f)
        if f == "flip":
            b = bytearray(data)
            b[len(b) // 2] ^= 0x01
            return self.body(200, bytes(b), f)
        if f in ("drop", "badlen"):
            self.head(200, len(data) + (r.get("extra", 100) if f == "badlen" else 0))
            self.wfile.write(data if f == "badlen" else data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            return self.note(200, f)
        if f == "stall":
            self.head(200, len(data))
            self.wfile.flush()
            time.sleep(r.get("seconds", 5))
            self.wfile.write(data)
            return self.note(200, f)
        if f == "ranged":
            status, data, extra = self.ranged(data)
            return self.body(status, data, f, extra)
        if f in ("trickle", "pause"):
            status, data, extra = self.ranged(data)
            self.head(status, len(data), extra)
            if f == "pause":
                n = r.get("bytes", 1000)
                self.wfile.write(data[:n])
                self.wfile.flush()
                time.sleep(r.get("seconds", 5))
                self.wfile.write(data[n:])
                return self.note(status, f)
            step = max(1, r.get("rate", 4096) // 10)
            for i in range(0, len(data), step):
                self.wfile.write(data[i:i + step])
                self.wfile.flush()
                time.sleep(0.1)
            return self.note(status, f)
        if f == "endless":
            self.head(200, None)
            self.close_connection = True
            try:
                while True:
                    self.wfile.write(b"Package: x\n" * 4096)
            except OSError:
                pass
            return self.note(200, f)
        self.body(200, data, f)
        if f == "swap":
            with open(CONTROL) as c:
                new = json.load(c)
            new["root"] = r["then_root"]
            new["rules"] = [x for x in new.get("rules", []) if x is not r and x != r]
            with open(CONTROL + ".tmp", "w") as c:
                json.dump(new, c)
            os.rename(CONTROL + ".tmp", CONTROL)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a client that stops reading (endless, trickle) is expected


s = Server(("127.0.0.1", 0), H)
with open(PORTFILE + ".tmp", "w") as f:
    f.write(str(s.server_address[1]))
os.rename(PORTFILE + ".tmp", PORTFILE)
s.serve_forever()
