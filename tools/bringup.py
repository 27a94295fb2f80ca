#!/usr/bin/env python3
"""Quick bring-up probe (issue 14): `bringup.py BIN N` launches the daemon with N one-resource
groups and N pid monitors (idle_memory.config) and times it until every group is online per the
socket's Status; prints that time, the daemon's CPU time so far and its VmRSS.
Environment: WRAP (a command to run the daemon under, e.g. `perf record -g --`), LOGLVL (the
daemon's UPKEEP_LOG, default warn), ERRF (a file for its stderr)."""
import os, subprocess, sys, tempfile, time

from idle_memory import config, cpu_ms, status

binp, n = sys.argv[1], int(sys.argv[2])
d = tempfile.mkdtemp()
open(f"{d}/c.ron", "w").write(config(n))
sock = f"{d}/s.sock"
t0 = time.monotonic()
p = subprocess.Popen(os.environ.get("WRAP", "").split() + [binp, "daemon", "--config", f"{d}/c.ron", "--state-dir", f"{d}/st", "--log-dir", f"{d}/log", "--socket", sock], env=dict(os.environ, UPKEEP_LOG=os.environ.get("LOGLVL", "warn")), stdout=subprocess.DEVNULL, stderr=open(os.environ.get("ERRF", "/dev/null"), "w"))
while True:
    st = status(sock)
    if st and len(st["groups"]) == n and all(x["state"] == "online" for x in st["groups"]):
        break
    time.sleep(0.02)
t = time.monotonic() - t0
rss = [l for l in open(f"/proc/{p.pid}/status") if l.startswith("VmRSS")][0].split()[1]
print(f"n={n} bring-up {t*1000:.0f} ms, daemon cpu {cpu_ms(p.pid):.0f} ms, VmRSS {rss} KiB")
p.terminate(); p.wait()
