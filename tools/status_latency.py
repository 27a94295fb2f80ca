#!/usr/bin/env python3
import json, os, socket, subprocess, sys, tempfile, time
binp, n = sys.argv[1], int(sys.argv[2])
d = tempfile.mkdtemp()
g = ",".join(f'(name: "g{i}", resources: [(name: "r{i}", start: (program: "/bin/sleep", args: ["3600"]), mode: Async)])' for i in range(n))
m = ",".join(f'(name: "m{i}", kind: Pid(resource: "r{i}"), interval: "1s")' for i in range(n))
open(f"{d}/c.ron", "w").write(f'(name: "SSS", edition: "SSS", groups: [{g}], monitors: [{m}])')
sock = f"{d}/s.sock"
p = subprocess.Popen([binp, "daemon", "--config", f"{d}/c.ron", "--state-dir", f"{d}/st", "--log-dir", f"{d}/log", "--socket", sock], env=dict(os.environ, UPKEEP_LOG="warn"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
time.sleep(1)
while subprocess.run([binp, "status", "--json", "--socket", sock], capture_output=True).returncode != 0: time.sleep(0.1)
time.sleep(3)
xs = []
for i in range(200):
    t = time.monotonic(); r = subprocess.run([binp, "status", "--json", "--socket", sock], capture_output=True); xs.append(time.monotonic() - t)
def raw():
    s = socket.socket(socket.AF_UNIX); s.connect(sock); s.sendall(b'{"type":"Status","version":1}\n')
    buf = b""
    while not buf.endswith(b"\n"):
        c = s.recv(1 << 20)
        if not c: break
        buf += c
    return buf
def cpu():
    f = open(f"/proc/{p.pid}/stat").read().rsplit(")",1)[1].split()
    return (int(f[11]) + int(f[12])) * 1000 / os.sysconf("SC_CLK_TCK")
c0 = cpu()
for i in range(200): raw()
print(f"n={n} daemon cpu per status: {(cpu()-c0)/200:.2f} ms")
ys = []
for i in range(200):
    t = time.monotonic(); raw(); ys.append(time.monotonic() - t)
ys.sort()
print(f"n={n} socket: p50 {ys[100]*1e3:.2f} ms p99 {ys[198]*1e3:.2f} ms")
xs.sort()
print(f"n={n} status --json: p50 {xs[100]*1e3:.2f} ms p99 {xs[198]*1e3:.2f} ms, bytes {len(r.stdout)}")
p.terminate(); p.wait()
