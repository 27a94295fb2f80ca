#!/bin/sh
# /payload of the vmtest guest (see tests/vm/reboot-limit.sh): started by the guest's /init
# (PID 1) inside qemu, never on a real machine. It runs the release daemon with the guest's copy
# of reboot-limit.ron (`os_actions: Real`) on a host WITHOUT `systemctl` and `shutdown`
# (defect 7), so every reboot has to come from the daemon's sync + reboot(2) fallback.
#
# Console lines for the harness's "no lost commit" check (the daemon prints neither itself):
#   COUNT-READ c     the governor's count found on the disk at this boot
#   COMMITTED c+1    once the daemon says its final action is being executed (pm 20): the
#                    governor grants only after it wrote c+1 durably (CFG-9)
#   UPKEEP-VM: ...   this script's own notes
set -u
# Only as the guest's payload: /init (PID 1) started it, wrote /etc/vmtest.env, and mounted /state.
if [ "$PPID" != 1 ] || [ ! -f /etc/vmtest.env ] || [ -z "${VMTEST_BOOT:-}" ] ||
    ! grep -q ' /state ' /proc/mounts; then
    echo "payload.sh: refusing to run outside the vmtest guest" >&2
    exit 1
fi
state=/state/upkeep
count_file=$state/reboot-count

# The host of defect 7: no service manager commands. busybox has neither applet; make sure.
for cmd in systemctl shutdown; do
    if path=$(command -v "$cmd"); then
        rm -f "$path"
    fi
    if command -v "$cmd" >/dev/null 2>&1; then
        echo "UPKEEP-VM: cannot remove $cmd"
        exit 1
    fi
done
echo "UPKEEP-VM: no systemctl, no shutdown in this guest"
mkdir -p "$state" /var/log/upkeep /run/upkeep

# The count line of the state file ("count N"); unknown format: no protocol lines at all.
count=
if [ ! -e "$count_file" ]; then
    count=0
else
    count=$(sed -n 's/^count \([0-9][0-9]*\)$/\1/p' "$count_file")
fi
[ -n "$count" ] && echo "COUNT-READ $count"

{
    /usr/sbin/upkeep daemon --config /etc/upkeep/upkeep.ron --state-dir "$state" \
        --log-dir /var/log/upkeep --socket /run/upkeep/upkeep.sock
    echo "UPKEEP-VM: daemon exited rc=$?"
} 2>&1 | while IFS= read -r line; do
    printf '%s\n' "$line"
    case "$line" in
    *"<type: pm><event: 20>"*) [ -n "$count" ] && echo "COMMITTED $((count + 1))" ;;
    esac
done
