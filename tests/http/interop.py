#!/usr/bin/env python3
"""Python peers against our server (tests/http/python_interop.c runs this with
the server's port): http.client keep-alive and bodies, raw-socket pipelining,
byte-at-a-time dribbling, and malformed input.  Exit 0 on success."""
import http.client
import re
import socket
import sys
import time

port = int(sys.argv[1])


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


# http.client: several requests on one kept-alive connection.
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
for i in range(3):
    conn.request("GET", "/hello")
    r = conn.getresponse()
    body = r.read()
    if r.status != 200 or body != b"hello" or r.getheader("Date") is None:
        fail("GET /hello #%d: %d %r" % (i, r.status, body))
payload = bytes(range(256)) * 400
conn.request("POST", "/echo", body=payload)
r = conn.getresponse()
if r.status != 200 or r.read() != payload:
    fail("POST /echo")
conn.request("POST", "/echo", body=iter([b"abc", b"defg"]),
             headers={"Transfer-Encoding": "chunked"}, encode_chunked=True)
r = conn.getresponse()
if r.status != 200 or r.read() != b"abcdefg":
    fail("chunked POST /echo")
conn.request("HEAD", "/hello")
r = conn.getresponse()
if r.status != 200 or r.read() != b"" or r.getheader("Content-Length") != "5":
    fail("HEAD /hello")
conn.close()


def raw(data, dribble=False, want_close=True):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    if dribble:
        for b in data:
            s.send(bytes([b]))
            time.sleep(0.001)
    else:
        s.sendall(data)
    out = b""
    s.settimeout(0.5 if not want_close else 5)
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    except socket.timeout:
        pass
    s.close()
    return out


# Pipelining: three requests in one write, answered in order.
out = raw(b"GET /hello HTTP/1.1\r\nHost: a\r\n\r\n"
          b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n"
          b"GET /hello HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
statuses = re.findall(rb"HTTP/1\.1 (\d{3}) ", out)
if statuses != [b"200", b"404", b"200"]:
    fail("pipelined statuses %r" % statuses)

# Byte at a time.
out = raw(b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
          dribble=True)
if not out.startswith(b"HTTP/1.1 200 ") or not out.endswith(b"hello"):
    fail("dribbled POST: %r" % out)

# Malformed: 400 and close, the smuggled request never answered.
for bad in (b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
            b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /hello HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET /hello HTTP/1.1\r\nHost: a\r\nX: a\r\n folded\r\n\r\n",
            b"\x00\x01\x02garbage\r\n\r\n"):
    out = raw(bad)
    if not out.startswith(b"HTTP/1.1 400 ") or out.count(b"HTTP/1.1") != 1:
        fail("malformed input %r answered %r" % (bad, out))
print("ok")
