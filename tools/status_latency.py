#!/usr/bin/env python3
"""Quick status probe (issue 14): `status_latency.py BIN N` runs the daemon with N one-resource
groups and N pid monitors (idle_memory.config) and prints, over 200 requests each, the daemon's
CPU per Status, the socket round trip and the whole `upkeep status --json` command (p50, p99)."""
import os, subprocess, sys, tempfile, time

from idle_memory import config, cpu_ms, status

binp, n = sys.argv[1], int(sys.argv[2])
d = tempfile.mkdtemp()
open(f"{d}/c.ron", "w").write(config(n))
sock = f"{d}/s.sock"
p = subprocess.Popen([binp, "daemon", "--config", f"{d}/c.ron", "--state-dir", f"{d}/st", "--log-dir", f"{d}/log", "--socket", sock], env=dict(os.environ, UPKEEP_LOG="warn"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
while status(sock) is None:
    time.sleep(0.1)
time.sleep(3)

def timed(f):
    xs = []
    for _ in range(200):
        t = time.monotonic(); f(); xs.append(time.monotonic() - t)
    xs.sort()
    return f"p50 {xs[100]*1e3:.2f} ms p99 {xs[198]*1e3:.2f} ms"

c0 = cpu_ms(p.pid)
for _ in range(200): status(sock)
print(f"n={n} daemon cpu per status: {(cpu_ms(p.pid) - c0) / 200:.2f} ms")
print(f"n={n} socket: {timed(lambda: status(sock))}")
command = [binp, "status", "--json", "--socket", sock]
print(f"n={n} status --json: {timed(lambda: subprocess.run(command, capture_output=True))}")
p.terminate(); p.wait()
