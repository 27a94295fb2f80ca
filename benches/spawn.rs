//! What starting one child costs the daemon as its memory grows (issue 14): `fork` (what
//! `std::process::Command` does once a `pre_exec` step is set, as every resource needs one: cgroup,
//! umask, user) copies the caller's page tables and makes its pages copy-on-write, so a large
//! daemon pays for its size at every start; `clone(CLONE_VM | CLONE_VFORK)` (`host::vfork`)
//! does not. Each sample starts `/bin/true` and waits for it, in a process holding `MiB` of
//! touched heap. `cargo bench --bench spawn`.

use std::ffi::CString;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use upkeep::host::vfork::Spawn;

fn fork_once() {
    let mut cmd = Command::new("/bin/true");
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd.process_group(0);
    // A pre_exec step makes std fork, as the daemon's resources do.
    #[allow(unsafe_code)]
    // SAFETY: umask is async-signal-safe and allocates nothing.
    unsafe {
        cmd.pre_exec(|| {
            libc::umask(0o022);
            Ok(())
        });
    }
    let status = cmd.status().expect("spawn /bin/true");
    assert!(status.success());
}

fn vfork_once(spawn: &Spawn) {
    let pid = spawn.spawn().expect("spawn /bin/true");
    let status = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None).expect("wait");
    assert!(matches!(status, nix::sys::wait::WaitStatus::Exited(_, 0)));
}

fn spawn_cost(c: &mut Criterion) {
    let null = std::fs::File::open("/dev/null").expect("/dev/null");
    let fd = null.as_raw_fd();
    let program = CString::new("/bin/true").expect("c string");
    let spawn = Spawn::new(&program, &[], &[], c"/", [fd, fd, fd]);
    let mut ballast: Vec<Vec<u8>> = Vec::new();
    let mut group = c.benchmark_group("spawn_true");
    group
        .sample_size(30)
        .measurement_time(Duration::from_secs(4));
    for mib in [16usize, 100] {
        while ballast.len() < mib {
            ballast.push(vec![1u8; 1024 * 1024]);
        }
        group.bench_function(format!("fork, {mib} MiB heap"), |b| b.iter(fork_once));
        group.bench_function(format!("vfork, {mib} MiB heap"), |b| {
            b.iter(|| vfork_once(&spawn))
        });
        // Medians of plain samples as well, for the notes.
        let median = |f: &dyn Fn()| {
            let mut v: Vec<Duration> = (0..200)
                .map(|_| {
                    let t = Instant::now();
                    f();
                    t.elapsed()
                })
                .collect();
            v.sort();
            v[v.len() / 2]
        };
        let fork = median(&fork_once);
        let vfork = median(&|| vfork_once(&spawn));
        println!(
            "spawn /bin/true with {mib} MiB of heap: fork median {:.3} ms, vfork median {:.3} ms",
            fork.as_secs_f64() * 1e3,
            vfork.as_secs_f64() * 1e3
        );
    }
    group.finish();
    drop(ballast);
}

criterion_group!(benches, spawn_cost);
criterion_main!(benches);
