#!/usr/bin/env bash
# The reboot limit on a real (qemu) guest: the release daemon, `os_actions: Real`, a resource that
# fails at every boot with `StopDaemonReboot`, `max_reboot_count: 3`, in a busybox guest without
# `systemctl` and `shutdown` (defect 7: the reboots come from the sync + reboot(2) fallback).
#
#   plain: exactly 4 boots (3 real reboots), the refusal (pm 21) on the 4th, count 3 read back
#          from the guest's disk, the daemon still up 8 s after the refusal (no reboot, no exit).
#   cuts:  the same with power cuts (SIGKILL of qemu) at random moments: the count never goes
#          back (every COUNT-READ at least the previous one and at least the last COMMITTED),
#          the refusal is reached, count 3 on the disk, at least 4 boots.
#
# The qemu harness is ../shared/vmtest (beside the project; see its README). Runs go to
# /tmp/upkeep-vm/<run>. `os_actions: Real` exists only in the guest's copy of the config,
# written below into a temporary folder; nothing here acts on this machine.
#
# Usage: tests/vm/reboot-limit.sh [--binary PATH] [--seed N] [--only plain|cuts]
# Exit: 0 pass, 1 fail, 77 skipped (a prerequisite is missing: root, the harness, python3, the
# VM's kernel or busybox packages could not be fetched); the reason is printed as a warning.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
vmtest="${VMTEST_DIR:-$root/../shared/vmtest}"
binary="${CARGO_TARGET_DIR:-$root/target}/release/upkeep"
seed="${UPKEEP_VM_SEED:-$(( $(date +%s) % 1000 ))}"
only=""
while (($#)); do
    case "$1" in
    --binary) binary="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    --only) only="$2"; shift 2 ;;
    *) echo "usage: $0 [--binary PATH] [--seed N] [--only plain|cuts]" >&2; exit 64 ;;
    esac
done

skip() {
    echo "warning: skipping the VM test: $*" >&2
    exit 77
}
[[ $(id -u) -eq 0 ]] || skip "the qemu harness needs root"
[[ -x "$vmtest/run.sh" ]] || skip "no qemu harness at $vmtest"
command -v python3 >/dev/null || skip "python3 is missing"
[[ -x "$binary" ]] || { echo "error: no release binary at $binary (cargo build --release)" >&2; exit 1; }

runs=/tmp/upkeep-vm
mkdir -p "$runs"
guest="$(mktemp -d "$runs/guest.XXXXXX")"
trap 'rm -rf "$guest"' EXIT

# The guest's copy of the config: the only `os_actions: Real` anywhere, and it only goes into
# the initramfs.
sed 's/^\( *\)os_actions: Simulated,$/\1os_actions: Real,/' "$here/reboot-limit.ron" >"$guest/upkeep.ron"
[[ $(grep -c '^ *os_actions: Real,$' "$guest/upkeep.ron") -eq 1 ]] ||
    { echo "error: cannot make the guest's config real" >&2; exit 1; }

# The release profile keeps debug info (60 MB): the kernel unpacks the initramfs at every boot,
# under TCG, so the guest gets a stripped copy.
if command -v strip >/dev/null && strip -o "$guest/upkeep" "$binary"; then
    binary="$guest/upkeep"
fi

refusal='<type: pm><event: 21> Reboot count 3 has reached the maximum of 3'

# One harness run; $1 = name, the rest = extra harness options. Prints the harness's summary.
vm() {
    local name="$1"
    shift
    local work="$runs/$name"
    rm -rf "$work"
    local start=$SECONDS rc=0
    "$vmtest/run.sh" --workdir "$work" --quiet-console \
        --payload "$here/payload.sh" \
        --extra-file "$binary:/usr/sbin/upkeep" \
        --extra-file "$guest/upkeep.ron:/etc/upkeep/upkeep.ron" \
        --expect 'UPKEEP-VM: no systemctl, no shutdown' \
        --expect "$refusal" \
        --readback /upkeep/reboot-count \
        "$@" >"$work.log" 2>&1 || rc=$?
    sed -n '/=== summary ===/,$p' "$work.log"
    if [[ ! -f "$work/summary.json" ]]; then
        tail -n 20 "$work.log" >&2
        # The harness could not set the VM up (no qemu, kernel or busybox package): exit 2.
        [[ $rc -eq 2 ]] && skip "the qemu harness could not set up the VM (see $work.log)"
        echo "error: the harness ended without a summary (exit $rc)" >&2
        return 1
    fi
    # What the harness does not check itself: the count on the disk, and that it never went back.
    python3 - "$work" "$rc" "$name" "$((SECONDS - start))" <<'PY' || return 1
import json, os, re, sys
work, rc, name, took = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
s = json.load(open(os.path.join(work, "summary.json")))
problems = [f"harness: {c['check']}: {c['detail']}" for c in s["checks"] if not c["ok"]]
if rc != 0 and not problems:
    problems.append(f"harness exit {rc}")
stored = s["files"].get("/upkeep/reboot-count") or ""
if not re.search(r"(?m)^count 3$", stored):
    problems.append(f"the count read back from the disk is not 3: {stored!r}")
if s["boots_disk"] < 4:
    problems.append(f"only {s['boots_disk']} boots")
reads = [int(m.group(1)) for m in re.finditer(r"(?m)COUNT-READ (\d+)\s*$",
                                               open(os.path.join(work, "console.log"), errors="replace").read())]
if any(b < a for a, b in zip(reads, reads[1:])):
    problems.append(f"the count went back: COUNT-READ {reads}")
if not reads or reads[-1] != 3:
    problems.append(f"the last boot did not read 3: COUNT-READ {reads}")
console = open(os.path.join(work, "console.log"), errors="replace").read().splitlines()
refused = [i for i, l in enumerate(console) if "<type: pm><event: 21>" in l]
refusals = len(refused)
# After the refusal the daemon stays up and nothing reboots (the run ends a few seconds later).
if refused:
    after = console[refused[-1] + 1:]
    for bad in ("calling reboot(2)", "reboot: Restarting system", "UPKEEP-VM: daemon exited",
                "reboot: Power down"):
        if any(bad in l for l in after):
            problems.append(f"after the refusal: {bad!r}")
verdict = "FAIL" if problems else "PASS"
print(f"VM-TEST {name}: {verdict} boots={s['boots_disk']} qemu_starts={s['qemu_starts']} "
      f"power_cuts={s['power_cuts']} count_reads={reads} refusals={refusals} end={s['end']} "
      f"seed={s['random_seed']} cycle_mean={s['reboot_cycle_mean_s']}s harness_wall={s['wall_s']}s took={took}s")
for p in problems:
    print(f"  FAIL: {p}")
sys.exit(1 if problems else 0)
PY
}

failed=0
# The run ends 8 s after the refusal, with the daemon still up (checked above: no reboot, no
# exit after it). Not --settle S: S counts from the last BOOT marker, and on a loaded host the
# governor's fsync alone has taken 10 s under TCG, so S would have to be long for every run.
stop_on="$refusal@8"
if [[ -z $only || $only == plain ]]; then
    vm plain --expect-boots 4 --stop-on "$stop_on" --timeout 240 || failed=1
fi
if [[ -z $only || $only == cuts ]]; then
    vm cuts --crash-random 3 --crash-window 5 --seed "$seed" --stop-on "$stop_on" --timeout 300 ||
        failed=1
fi
exit "$failed"
