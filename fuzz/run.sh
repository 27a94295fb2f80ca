#!/bin/sh
# Fuzz one target with afl.rs (AFL++ bundled by cargo-afl) at the lowest CPU priority.
#
#   fuzz/run.sh TARGET SECONDS [EXECS]
#
# TARGET is config_check or control_line; the run ends after SECONDS, or once about EXECS
# executions are done when EXECS is given (afl's -E). Findings and the statistics go to
# fuzz/out/TARGET/default/ (crashes/, hangs/, fuzzer_stats); a second run on the same TARGET
# resumes from its queue. Needs `cargo install cargo-afl` and once `cargo afl config --build`
# (fuzz/README.md). Exits non-zero when a crash or a hang was saved.
#
# With FUZZ_SECONDARY=NAME set, this is an extra instance (afl's -S NAME) that shares the queue
# of the run already going on TARGET, to use a second idle core; its statistics are in
# fuzz/out/TARGET/NAME/ and the executions of all instances add up.
set -eu

target=${1:?usage: fuzz/run.sh TARGET SECONDS [EXECS]}
seconds=${2:?usage: fuzz/run.sh TARGET SECONDS [EXECS]}
execs=${3:-}

cd "$(dirname "$0")"
case $target in
config_check) dict=dict/ron.dict ;;
control_line) dict=dict/json.dict ;;
*)
	echo "unknown target $target (config_check or control_line)" >&2
	exit 64
	;;
esac

nice -n 19 cargo afl build --release --bin "$target"

mkdir -p out
out=out/$target
instance=${FUZZ_SECONDARY:-default}
input=corpus/$target
# A second run continues the first one's queue instead of starting over from the seeds.
if [ -f "$out/$instance/fuzzer_stats" ]; then input=-; fi

# -t 1000: an input taking longer than 1 s is a hang (every input must cost bounded work);
# AFL_HANG_TMOUT: it is saved as one only if its re-run takes over 10 s too, so that a stall of a
# shared machine (seen: 3 saved inputs that each run in milliseconds) is not reported as a hang.
# AFL_SKIP_CPUFREQ / AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES: run on a shared machine without
# changing its CPU governor or core_pattern (a panic aborts the target; afl sees the signal).
AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_HANG_TMOUT=10000 \
	nice -n 19 cargo afl fuzz -i "$input" -o "$out" -x "$dict" -t 1000 -V "$seconds" \
	${FUZZ_SECONDARY:+-S "$FUZZ_SECONDARY"} ${execs:+-E "$execs"} \
	"target/release/$target" >"$out-$instance.log" 2>&1 || {
	tail -20 "$out-$instance.log" >&2
	exit 1
}

stats=$out/$instance/fuzzer_stats
grep -E '^(start_time|last_update|run_time|execs_done|execs_per_sec|corpus_count|saved_crashes|saved_hangs|stability|bitmap_cvg|afl_version|command_line) ' "$stats"
crashes=$(sed -n 's/^saved_crashes *: *//p' "$stats")
hangs=$(sed -n 's/^saved_hangs *: *//p' "$stats")
[ "$crashes" = 0 ] && [ "$hangs" = 0 ]
