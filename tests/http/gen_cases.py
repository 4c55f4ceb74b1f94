#!/usr/bin/env python3
"""Generate the HTTP conformance matrix (tests/http/conformance.c format).

server_matrix.txt: valid and refused requests across version x method x
framing x Connection x Expect x pipelining, with the outcome RFC 9112 asks
for.  client_matrix.txt: responses across status x framing x method x
Connection x interim 1xx, complete and cut short.  Written at build time into
the directory given as argv[1]; never committed.
"""
import os
import sys


def esc(b):
    out = []
    for ch in b:
        if ch == "\r":
            out.append("\\r")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\\":
            out.append("\\\\")
        elif ch == " ":
            out.append(" ")
        else:
            out.append(ch)
    return "".join(out)


def besc(s):
    """An expectation value: no spaces or tabs allowed."""
    return esc(s).replace(" ", "\\x20")


def server_cases():
    cases = []
    n = 0
    for ver in (0, 1):
        for meth in ("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"):
            for framing in ("none", "cl", "chunked"):
                for conn in ("none", "close", "keep-alive"):
                    for expect in (False, True):
                        for pipe in (False, True):
                            n += 1
                            target = "/m/%d" % n
                            req = "%s %s HTTP/1.%d\r\n" % (meth, target, ver)
                            if ver == 1 or n % 2:
                                req += "Host: h\r\n"
                            if conn != "none":
                                req += "Connection: %s\r\n" % conn
                            if expect:
                                req += "Expect: 100-continue\r\n"
                            body_len = 0
                            if framing == "cl":
                                req += "Content-Length: 5\r\n\r\nabcde"
                                body_len = 5
                            elif framing == "chunked":
                                req += "Transfer-Encoding: chunked\r\n\r\n2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n"
                                body_len = 5
                            else:
                                req += "\r\n"
                            if pipe:
                                req += "GET /hello HTTP/1.1\r\nHost: h\r\n\r\n"
                            name = "m_%s_1%d_%s_%s_%s_%s" % (
                                meth, ver, framing, conn, "expect" if expect else "noexpect",
                                "pipe" if pipe else "single")
                            if ver == 0 and framing == "chunked":
                                cases.append((name, req, "S=400 C=close"))
                                continue
                            keep = (conn != "close") if ver == 1 else (conn == "keep-alive")
                            statuses = ["404"]
                            exp = []
                            if pipe and keep:
                                statuses.append("200")
                            if meth == "HEAD":
                                exp.append("nobody=0")
                            if pipe and keep:
                                exp.append("B=hello")
                            elif meth != "HEAD":
                                exp.append("B=" + besc("%s %s %d" % (meth, target, body_len)))
                            exp = ["S=" + ",".join(statuses),
                                   "C=" + ("open" if keep else "close")] + exp
                            cases.append((name, req, " ".join(exp)))
    # Header sections around the limit (8192 by default): fits, and too big.
    for size in (1000, 4000, 7000, 9000, 20000):
        req = "GET /hello HTTP/1.1\r\nHost: h\r\nX-Big: %s\r\n\r\n" % ("v" * size)
        if size < 8000:
            cases.append(("header_size_%d" % size, req, "S=200 C=open B=hello"))
        else:
            cases.append(("header_size_%d" % size, req, "S=431 C=close"))
    for count in (10, 100, 400, 1000):
        req = "GET /hello HTTP/1.1\r\nHost: h\r\n" + "".join(
            "X-H%d: v\r\n" % i for i in range(count)) + "\r\n"
        total = len(req)
        cases.append(("header_count_%d" % count, req,
                      "S=200 C=open B=hello" if total < 8000 else "S=431 C=close"))
    long_target = "/" + "t" * 9000
    cases.append(("target_too_long", "GET %s HTTP/1.1\r\nHost: h\r\n\r\n" % long_target,
                  "S=414 C=close"))
    # Deep pipelines: all answered, in order.
    for depth in (2, 5, 20, 50):
        req = "".join("GET /p%d HTTP/1.1\r\nHost: h\r\n\r\n" % i for i in range(depth))
        cases.append(("pipeline_depth_%d" % depth, req,
                      "S=" + ",".join(["404"] * depth) + " C=open B=" +
                      besc("GET /p%d 0" % (depth - 1))))
    return cases


def client_cases():
    cases = []
    for st in (200, 201, 204, 304, 404, 500):
        for framing in ("cl", "chunked", "eof"):
            for meth in ("GET", "HEAD"):
                for close in (False, True):
                    for interim in (False, True):
                        nobody = meth == "HEAD" or st in (204, 304)
                        resp = "HTTP/1.1 100 Continue\r\n\r\n" if interim else ""
                        resp += "HTTP/1.1 %d X\r\n" % st
                        if close:
                            resp += "Connection: close\r\n"
                        body = "body-%d" % st
                        if framing == "cl" and st != 204:
                            resp += "Content-Length: %d\r\n" % len(body)
                        elif framing == "chunked" and st not in (204, 304):
                            resp += "Transfer-Encoding: chunked\r\n"
                        resp += "\r\n"
                        if not nobody:
                            if framing == "chunked":
                                resp += "%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
                            else:
                                resp += body
                        delimited = framing != "eof" or nobody
                        if framing == "cl" and st == 204:
                            delimited = True
                        name = "r_%d_%s_%s_%s_%s" % (st, framing, meth,
                                                     "close" if close else "keep",
                                                     "interim" if interim else "final")
                        exp = ["T=complete", "S=%d" % st]
                        if meth == "HEAD":
                            exp.append("M=HEAD")
                        if not nobody:
                            exp.append("B=" + body)
                        if delimited and not close:
                            exp.append("E=open")
                        cases.append((name, resp, " ".join(exp)))
                        # The same response cut in the middle of its body.
                        if not nobody and framing != "eof":
                            cut = resp[: len(resp) - 4]
                            cases.append((name + "_cut", cut, "T=lost"))
    return cases


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for fname, cases in (("server_matrix.txt", server_cases()),
                         ("client_matrix.txt", client_cases())):
        with open(os.path.join(out, fname), "w") as f:
            f.write("# generated by tests/http/gen_cases.py\n")
            for name, inp, exp in cases:
                f.write("%s\t%s\t%s\n" % (name, esc(inp), exp))


if __name__ == "__main__":
    main()
