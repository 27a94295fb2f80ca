#!/usr/bin/env bash
# Builds target/debian/upkeep_<version>_<arch>.deb (issue 13): the release binary, the man pages
# and completions it generates itself (staged with `upkeep install --root target/deb-stage
# --prefix /usr`), stripped by cargo-deb. Needs cargo-deb (`cargo install cargo-deb`).
# Prints the path of the package on its last line.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --locked
stage=target/deb-stage
rm -rf "$stage"
target/release/upkeep install --root "$stage" --prefix /usr --binary target/release/upkeep >/dev/null
# --strip: the release profile keeps debug = 1 (backtraces while developing); the package does
# not need it (60 MB -> a few MB). --fast: lighter xz, the package is built on every CI run.
cargo deb --no-build --strip --fast
