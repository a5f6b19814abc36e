#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""tls_client.py - the load of bench/httpd/ssl-sessions: TLS 1.2 handshakes
without tickets (so the server resumes from its SSLSessionCache), each
followed by one small HTTP/1.0 request, timed one by one.

Every client process loops over "sessions": one full handshake on the
first target, then --resumes connections that offer that session, round
robin over all the targets (with two servers behind a balancer, a client
comes back to either). A connection counts as resumed only when the server
really resumed it (SSLSocket.session_reused).

    tls_client.py --targets 127.0.0.1:8443,127.0.0.1:8444 [--procs 4]
                  [--seconds 5] [--resumes 9] [--servername NAME] [--path /x]

Prints one JSON object: seconds, full and resumed handshakes per second
(counted together as handshakes/s), resumptions offered but refused, errors,
and p50/p99/max latency in ms of each kind (connect + handshake + request +
response + close).
"""
import argparse
import json
import multiprocessing
import socket
import ssl
import time


def context():
    """A client context that offers sessions by ID only (no tickets),
    TLS 1.2, no certificate checks (the bench's certificate is its own)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.options |= ssl.OP_NO_TICKET
    return ctx


def one(ctx, target, servername, path, session):
    """One connection; returns (seconds, session, reused)."""
    host, port = target
    t0 = time.perf_counter()
    raw = socket.create_connection((host, port), timeout=10)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    with ctx.wrap_socket(raw, server_hostname=servername, session=session) as s:
        s.sendall(("GET %s HTTP/1.0\r\nHost: %s\r\n\r\n" % (path, servername)).encode())
        while True:
            try:
                if not s.recv(65536):
                    break
            except (ssl.SSLEOFError, ConnectionResetError):
                break
        reused = s.session_reused
        sess = s.session
        try:
            s.unwrap()          # close_notify: the session stays resumable
        except (OSError, ssl.SSLError, ValueError):
            pass
    return time.perf_counter() - t0, sess, reused


def worker(args):
    """One client process: (full latencies, resumed latencies, refused, errors)."""
    targets, servername, path, seconds, resumes = args
    ctx = context()
    full, resumed = [], []
    refused = errors = 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        try:
            dt, sess, _ = one(ctx, targets[0], servername, path, None)
            full.append(dt)
            for i in range(resumes):
                target = targets[(i + 1) % len(targets)]
                dt, _, reused = one(ctx, target, servername, path, sess)
                if reused:
                    resumed.append(dt)
                else:
                    full.append(dt)
                    refused += 1
        except (OSError, ssl.SSLError):
            errors += 1
    return full, resumed, refused, errors


def pct(values, q):
    if not values:
        return None
    v = sorted(values)
    return round(1000.0 * v[min(len(v) - 1, int(q * len(v)))], 3)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--targets", required=True)
    ap.add_argument("--procs", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--resumes", type=int, default=9)
    ap.add_argument("--servername", default="bench.test")
    ap.add_argument("--path", default="/x")
    a = ap.parse_args()
    targets = []
    for t in a.targets.split(","):
        host, port = t.rsplit(":", 1)
        targets.append((host, int(port)))
    job = (targets, a.servername, a.path, a.seconds, a.resumes)
    t0 = time.perf_counter()
    with multiprocessing.Pool(a.procs) as pool:
        parts = pool.map(worker, [job] * a.procs)
    elapsed = time.perf_counter() - t0
    full = [x for p in parts for x in p[0]]
    resumed = [x for p in parts for x in p[1]]
    print(json.dumps({
        "seconds": round(elapsed, 2),
        "handshakes_per_s": round((len(full) + len(resumed)) / elapsed, 1),
        "full_per_s": round(len(full) / elapsed, 1),
        "resumed_per_s": round(len(resumed) / elapsed, 1),
        "refused": sum(p[2] for p in parts),
        "errors": sum(p[3] for p in parts),
        "full_p50_ms": pct(full, 0.50), "full_p99_ms": pct(full, 0.99),
        "resumed_p50_ms": pct(resumed, 0.50), "resumed_p99_ms": pct(resumed, 0.99),
        "resumed_max_ms": pct(resumed, 1.0),
        "all_p99_ms": pct(full + resumed, 0.99),
    }))


if __name__ == "__main__":
    main()
