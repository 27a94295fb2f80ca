#!/usr/bin/env python3
"""Quick bring-up probe: launch the daemon with N one-resource groups (+N pid monitors) and time
until every group is online per the socket's Status. Usage: bringup.py BIN N [monitors_per]"""
import json, os, socket, subprocess, sys, tempfile, time
binp, n = sys.argv[1], int(sys.argv[2])
d = tempfile.mkdtemp()
g = ",".join(f'(name: "g{i}", resources: [(name: "r{i}", start: (program: "/bin/sleep", args: ["3600"]), mode: Async)])' for i in range(n))
m = ",".join(f'(name: "m{i}", kind: Pid(resource: "r{i}"), interval: "1s")' for i in range(n))
open(f"{d}/c.ron", "w").write(f'(name: "SSS", edition: "SSS", groups: [{g}], monitors: [{m}])')
sock = f"{d}/s.sock"
t0 = time.monotonic()
p = subprocess.Popen(os.environ.get("WRAP","").split() + [binp, "daemon", "--config", f"{d}/c.ron", "--state-dir", f"{d}/st", "--log-dir", f"{d}/log", "--socket", sock], env=dict(os.environ, UPKEEP_LOG=os.environ.get("LOGLVL","warn")), stdout=subprocess.DEVNULL, stderr=open(os.environ.get("ERRF","/dev/null"),"w"))
def status():
    s = socket.socket(socket.AF_UNIX); s.connect(sock); s.sendall(b'{"type":"Status","version":1}\n')
    buf = b""
    while not buf.endswith(b"\n"):
        c = s.recv(1 << 20)
        if not c: break
        buf += c
    return json.loads(buf)
while True:
    try:
        st = status()
        if all(x["state"] == "online" for x in st["groups"]) and len(st["groups"]) == n:
            break
    except Exception:
        pass
    time.sleep(0.02)
t = time.monotonic() - t0
rss = [l for l in open(f"/proc/{p.pid}/status") if l.startswith("VmRSS")][0].split()[1]
f = open(f"/proc/{p.pid}/stat").read().rsplit(")",1)[1].split()
cpu = (int(f[11]) + int(f[12])) * 1000 // os.sysconf("SC_CLK_TCK")
print(f"n={n} bring-up {t*1000:.0f} ms, daemon cpu {cpu} ms, VmRSS {rss} KiB")
p.terminate(); p.wait()
