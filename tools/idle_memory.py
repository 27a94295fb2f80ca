#!/usr/bin/env python3
# Idle memory of `upkeep daemon` (issue 14), the measurement behind the figures:
#   python3 tools/idle_memory.py N [RUNS] [-b]
# starts the release binary (UPKEEP_BIN, default target/release/upkeep) with N async /bin/sleep
# resources (one group each) and N pid monitors at 1 s, UPKEEP_LOG=warn, waits until every
# group is online, lets it settle 3 s, prints VmRSS / RssAnon / RssFile / Pss (and with -b the
# resident bytes per mapping of /proc/PID/smaps), then stops it with SIGTERM and waits.
# Heap by call site: the same run under heaptrack (measure.run(n, wrapper=["heaptrack", "-o",
# PATH])), then `heaptrack_print -f PATH.zst --flamegraph-cost-type peak -F stacks.txt`.
"""Idle memory of the upkeep daemon: N async /bin/sleep resources (one group each) + N pid
monitors at 1 s. Prints VmRSS, Pss and a per-mapping breakdown after settling."""
import json, os, signal, socket, subprocess, sys, tempfile, time, re, collections

BIN = os.path.abspath(os.environ.get("UPKEEP_BIN", "target/release/upkeep"))

def config(n):
    groups = "".join(f'(name: "g{i}", resources: [(name: "r{i}", start: (program: "/bin/sleep", args: ["3600"]), mode: Async)]),' for i in range(n))
    mons = "".join(f'(name: "m{i}", kind: Pid(resource: "r{i}"), interval: "1s", recovery: (target: Resource("r{i}"), reactivation_threshold: 1, final_action: NoOp)),' for i in range(n))
    return f'(name: "SSS", edition: "SSS", os_actions: Simulated, groups: [{groups}], monitors: [{mons}])'

def status(sock):
    try:
        s = socket.socket(socket.AF_UNIX); s.settimeout(5); s.connect(sock)
        s.sendall(b'{"type":"Status","version":1}\n')
        buf = b""
        while not buf.endswith(b"\n"):
            c = s.recv(1 << 20)
            if not c: break
            buf += c
        s.close()
        return json.loads(buf)
    except Exception:
        return None

def cpu_ms(pid):
    """utime + stime of `pid` so far, in ms."""
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) * 1000 / os.sysconf("SC_CLK_TCK")

def smaps(pid):
    cats = collections.Counter(); pss = collections.Counter()
    cur = None
    for line in open(f"/proc/{pid}/smaps"):
        if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
            parts = line.split()
            path = parts[5] if len(parts) > 5 else ""
            lo, hi = [int(x, 16) for x in parts[0].split("-")]
            size = hi - lo
            if path.endswith("upkeep"): cur = "binary " + parts[1]
            elif path == "[heap]": cur = "heap (brk)"
            elif path == "[stack]": cur = "main stack"
            elif path.startswith("/"): cur = "libs " + os.path.basename(path).split(".so")[0]
            elif path: cur = path
            else: cur = "anon"
            cur_anon_size = size
        elif line.startswith("Rss:"): cats[cur] += int(line.split()[1])
        elif line.startswith("Pss:"): pss[cur] += int(line.split()[1])
    return cats, pss

def vm(pid):
    d = {}
    for line in open(f"/proc/{pid}/status"):
        k, v = line.split(":", 1)
        if k in ("VmRSS", "RssAnon", "RssFile", "VmHWM", "Threads"): d[k] = v.strip()
    for line in open(f"/proc/{pid}/smaps_rollup"):
        if line.startswith("Pss:"): d["Pss"] = line.split(":")[1].strip()
    return d

def find_daemon(root):
    todo = [root]
    while todo:
        q = todo.pop()
        try:
            if os.readlink(f"/proc/{q}/exe") == BIN: return q
            for t in os.listdir(f"/proc/{q}/task"):
                todo += [int(x) for x in open(f"/proc/{q}/task/{t}/children").read().split()]
        except OSError: pass
    return root

def run(n, settle=3.0, breakdown=False, hold=None, wrapper=None):
    with tempfile.TemporaryDirectory() as d:
        cfg = os.path.join(d, "upkeep.ron"); open(cfg, "w").write(config(n))
        sock = os.path.join(d, "s.sock")
        cmd = [BIN, "daemon", "--config", cfg, "--state-dir", os.path.join(d, "state"), "--log-dir", os.path.join(d, "log"), "--socket", sock]
        if wrapper: cmd = wrapper + cmd
        env = dict(os.environ, UPKEEP_LOG="warn")
        p = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        t0 = time.time(); up = None
        while time.time() - t0 < 120:
            s = status(sock)
            if s and "server" in s:
                if s["server"]["state"] == "online" and all(g["state"] == "online" for g in s["groups"]) and len(s["monitors"]) == n:
                    up = time.time() - t0; break
            time.sleep(0.05)
        time.sleep(settle)
        pid = p.pid
        if wrapper:
            # the daemon is the wrapper's child
            pid = find_daemon(pid)
        res = vm(pid); res["up_s"] = round(up, 2) if up else None
        if breakdown:
            cats, pss = smaps(pid)
            res["map"] = {k: (cats[k], pss[k]) for k in sorted(cats, key=lambda k: -cats[k]) if cats[k]}
        if hold: time.sleep(hold)
        os.kill(pid, signal.SIGTERM)
        try: p.wait(60)
        except subprocess.TimeoutExpired:
            p.kill(); p.wait()
        return res

if __name__ == "__main__":
    n = int(sys.argv[1]); runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    bd = "-b" in sys.argv
    for i in range(runs):
        r = run(n, breakdown=bd and i == 0)
        m = r.pop("map", None)
        print(json.dumps(r))
        if m:
            for k, (rss, pss) in m.items(): print(f"   {k:40s} rss {rss:6d} kB  pss {pss:6d} kB")
