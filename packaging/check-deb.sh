#!/usr/bin/env bash
# Checks a built upkeep .deb (issue 13): its control data and contents, lintian when installed
# (reported, not failing), then a real `dpkg -i` and `dpkg --purge` in a scratch root: a
# copy-on-write overlay of this machine's / inside a private mount namespace, so nothing is
# written to the real root (everything lands in a tmpfs that disappears with the namespace).
# Without root or overlayfs it falls back to `dpkg-deb -x` and runs the packaged binary.
# Usage: packaging/check-deb.sh target/debian/upkeep_*.deb
set -euo pipefail

deb=$(realpath "$1")
fail() { echo "error: $deb: $*" >&2; exit 1; }
log() { printf '\n==> %s\n' "$*"; }

log "dpkg-deb --info"
dpkg-deb --info "$deb"
dpkg-deb --field "$deb" Package | grep -qx upkeep || fail "not the upkeep package"
[[ $(dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles) == /etc/upkeep/upkeep.ron ]] ||
    fail "the demo configuration is not its (only) conffile"

log "dpkg-deb --contents"
contents=$(dpkg-deb --contents "$deb")
echo "$contents" | awk '{print $6, $7, $8}'
for path in ./usr/bin/upkeep ./etc/upkeep/upkeep.ron ./usr/lib/systemd/system/upkeep.service \
    ./usr/share/man/man1/upkeep.1.gz ./usr/share/man/man1/upkeep-daemon.1.gz \
    ./usr/share/man/man1/upkeep-group-start.1.gz ./usr/share/man/man8/clpstat.8.gz \
    ./usr/share/bash-completion/completions/upkeep ./usr/share/zsh/vendor-completions/_upkeep \
    ./usr/share/fish/vendor_completions.d/upkeep.fish ./usr/share/doc/upkeep/copyright; do
    echo "$contents" | grep -q " $path\$" || fail "missing $path"
done
for name in clpstat clpcl clpgrp clpmonctrl clpdown clplogcc clplogcf clpcfctrl clpbondcf; do
    echo "$contents" | grep -q " ./usr/sbin/$name -> ../bin/upkeep\$" || fail "missing link $name"
done

scratch=$(mktemp -d /tmp/upkeep-deb-check.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
dpkg-deb -x "$deb" "$scratch/x"
if command -v readelf >/dev/null 2>&1; then
    ! readelf -S "$scratch/x/usr/bin/upkeep" | grep -q '\.debug_info' || fail "the binary is not stripped"
fi
echo "binary: $(du -h "$scratch/x/usr/bin/upkeep" | cut -f1) (stripped)"

if command -v lintian >/dev/null 2>&1; then
    log "lintian (reported, not failing)"
    lintian --fail-on none "$deb" || true
else
    echo "warning: lintian SKIPPED: not installed (Debian package lintian)" >&2
fi

# The scratch root. Inside the namespace: / seen through an overlay whose writable layer is a
# tmpfs; dpkg runs chrooted there, maintainer scripts included.
inside() {
    set -euo pipefail
    local deb=$1 ovl=$2
    mount -t tmpfs tmpfs "$ovl"
    mkdir "$ovl/upper" "$ovl/work" "$ovl/root"
    mount -t overlay overlay -o "lowerdir=/,upperdir=$ovl/upper,workdir=$ovl/work" "$ovl/root"
    local r=$ovl/root
    mount -t proc proc "$r/proc"
    cp "$deb" "$r/tmp/upkeep.deb"
    in_root() { chroot "$r" "$@"; }
    echo "--- dpkg -i"
    in_root env DEBIAN_FRONTEND=noninteractive dpkg -i /tmp/upkeep.deb
    echo "--- upkeep --version (installed)"
    in_root upkeep --version
    [[ $(in_root readlink -f /usr/sbin/clpstat) == /usr/bin/upkeep ]] || { echo "clpstat does not reach the binary" >&2; return 1; }
    [[ $(in_root stat -c %a /var/lib/upkeep) == 700 ]] || { echo "/var/lib/upkeep is not 0700" >&2; return 1; }
    [[ $(in_root stat -c %a /var/log/upkeep) == 750 ]] || { echo "/var/log/upkeep is not 0750" >&2; return 1; }
    [[ -L $r/etc/systemd/system/multi-user.target.wants/upkeep.service ]] ||
        { echo "the unit is not enabled" >&2; return 1; }
    if in_root sh -c 'command -v systemd-analyze' >/dev/null; then
        echo "--- systemd-analyze verify (installed unit)"
        in_root systemd-analyze verify /usr/lib/systemd/system/upkeep.service
    fi
    echo "--- dpkg --purge"
    in_root dpkg --purge upkeep
    for gone in /usr/bin/upkeep /etc/upkeep /var/lib/upkeep /var/log/upkeep \
        /etc/systemd/system/multi-user.target.wants/upkeep.service /usr/sbin/clpstat; do
        [[ ! -e $r$gone && ! -L $r$gone ]] || { echo "purge left $gone" >&2; return 1; }
    done
    echo "install, enable (not started) and purge: ok"
}

log "install into a scratch root"
if [[ $(id -u) -eq 0 ]] && command -v unshare >/dev/null 2>&1 && grep -qw overlay /proc/filesystems; then
    mkdir "$scratch/ovl"
    unshare --mount --propagation private bash -c "$(declare -f inside); inside '$deb' '$scratch/ovl'" ||
        fail "the scratch-root install failed"
else
    echo "warning: scratch-root dpkg -i SKIPPED (needs root, unshare and overlayfs); running the unpacked binary" >&2
    "$scratch/x/usr/bin/upkeep" --version
fi
