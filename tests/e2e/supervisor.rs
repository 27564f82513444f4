//! `kaimeng testnet` as a supervisor: a member process that dies is reaped (no zombie) and
//! reported on stderr, and is not restarted.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::cluster::free_port_ranges;
use crate::node::path_str;

/// Sends each line of `stream` to the returned channel, from a thread.
fn lines(stream: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

/// The first line from `rx` that contains `needle`, waiting at most `limit` in all.
fn line_with(rx: &mpsc::Receiver<String>, needle: &str, limit: Duration) -> String {
    let deadline = std::time::Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line.contains(needle) => return line,
            Ok(_) => {}
            Err(error) => panic!("no line with {needle:?} within {limit:?}: {error}"),
        }
    }
}

#[test]
fn a_member_killed_under_the_testnet_supervisor_is_reaped_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let [p2p, rpc, metrics] = free_port_ranges(2);
    let mut supervisor = Command::new(env!("CARGO_BIN_EXE_kaimeng"))
        .args(["testnet", "--validators", "2", "--kdf-iterations", "1000"])
        .args(["--dir", path_str(&dir.path().join("net"))])
        .args([
            "--p2p-port",
            &p2p.to_string(),
            "--rpc-port",
            &rpc.to_string(),
        ])
        .args(["--metrics-port", &metrics.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let out = lines(supervisor.stdout.take().unwrap());
    let err = lines(supervisor.stderr.take().unwrap());
    let announced = line_with(&out, "member 1 pid ", Duration::from_secs(60));
    let pid: u32 = announced.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());

    let killed = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let report = line_with(
        &err,
        &format!("member 1 (pid {pid}) exited"),
        Duration::from_secs(30),
    );
    assert!(report.contains("not restarted"), "{report}");
    assert!(
        report.contains("signal: 9") || report.contains("SIGKILL"),
        "{report}"
    );
    // Reaped before it was reported: no zombie left behind.
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "member 1 is still in the process table after the report"
    );

    let stopped = Command::new("kill")
        .args(["-TERM", &supervisor.id().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    let status = supervisor.wait().unwrap();
    assert!(status.success(), "supervisor exited with {status}");
}
