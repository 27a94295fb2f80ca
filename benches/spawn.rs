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

/// The cost of joining a fresh cgroup after a quiet moment (a restart after a crash, not in a
/// crash loop): the old way, a `pre_exec` write of "0" to `cgroup.procs`, migrates the child and
/// waits for an RCU grace period; `CLONE_INTO_CGROUP` creates it there. 20 alternating samples
/// each, 50 ms apart; needs root and a writable cgroup2 (else skipped).
fn cgroup_join_after_quiet() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tree = match upkeep::host::cgroup::detect(dir.path()) {
        Ok(tree) => tree,
        Err(why) => {
            println!("cgroup join bench skipped: {why}");
            return;
        }
    };
    let null = std::fs::File::open("/dev/null").expect("/dev/null");
    let fd = null.as_raw_fd();
    let (mut migrate, mut clone_into) = (Vec::new(), Vec::new());
    for i in 0..20 {
        for (way, into) in [("w", &mut migrate), ("c", &mut clone_into)] {
            std::thread::sleep(Duration::from_millis(50));
            let cell = tree
                .prepare("g", &format!("{way}{i}"), "main")
                .expect("cgroup");
            let t = Instant::now();
            let pid = if way == "w" {
                let procs = cell.procs.as_raw_fd();
                let mut cmd = Command::new("/bin/true");
                cmd.stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null());
                #[allow(unsafe_code)]
                // SAFETY: write is async-signal-safe; the fd outlives the spawn.
                unsafe {
                    cmd.pre_exec(move || {
                        if libc::write(procs, b"0".as_ptr().cast(), 1) != 1 {
                            return Err(std::io::Error::last_os_error());
                        }
                        Ok(())
                    });
                }
                let child = cmd.spawn().expect("spawn");
                let pid = child.id() as i32;
                std::mem::forget(child);
                pid
            } else {
                let cgroup_dir = std::fs::File::open(&cell.dir).expect("cgroup dir");
                let mut spawn = Spawn::new(c"/bin/true", &[], &[], c"/", [fd, fd, fd]);
                spawn.cgroup = Some((cgroup_dir.as_raw_fd(), cell.procs.as_raw_fd()));
                spawn.spawn().expect("spawn")
            };
            into.push(t.elapsed());
            let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
            let _ = std::fs::remove_dir(&cell.dir);
            let _ = std::fs::remove_dir(cell.dir.parent().expect("resource dir"));
        }
    }
    let _ = std::fs::remove_dir(tree.instance().join("g"));
    let _ = std::fs::remove_dir(tree.instance());
    for (name, v) in [
        ("fork + write cgroup.procs", &mut migrate),
        ("clone3 CLONE_INTO_CGROUP", &mut clone_into),
    ] {
        v.sort();
        println!(
            "spawn into a fresh cgroup after 50 ms quiet, {name}: median {:.3} ms, max {:.3} ms",
            v[v.len() / 2].as_secs_f64() * 1e3,
            v[v.len() - 1].as_secs_f64() * 1e3
        );
    }
}

fn cgroups(_c: &mut Criterion) {
    cgroup_join_after_quiet();
}

criterion_group!(benches, spawn_cost, cgroups);
criterion_main!(benches);
