//! `leadpulse run` as a child process: starting it, reading its log and
//! admin endpoint, signalling it.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::deployment::Deployment;

impl Deployment {
    /// Starts `leadpulse run` as a child process, logging to `<instance>-<n>.log`.
    pub fn spawn(&self, instance: &str, run: usize) -> Service {
        self.spawn_with(instance, run, "")
    }

    /// [`Deployment::spawn`] with extra config TOML (sections after `[model]`).
    pub fn spawn_with(&self, instance: &str, run: usize, extra: &str) -> Service {
        self.spawn_with_config(instance, run, &self.config(instance, extra))
    }

    /// Starts `leadpulse run` with the given config file.
    pub fn spawn_with_config(&self, instance: &str, run: usize, config: &Path) -> Service {
        let log = self.dir.path().join(format!("{instance}-{run}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_leadpulse"))
            .args(["run", "--config"])
            .arg(config)
            .env("RUST_LOG", "leadpulse=debug,info")
            .stdout(Stdio::null())
            .stderr(File::create(&log).unwrap())
            .spawn()
            .expect("start leadpulse");
        Service { child, log }
    }
}

/// A running `leadpulse run` process.
pub struct Service {
    pub child: Child,
    pub log: PathBuf,
}

impl Service {
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log contains `needle`.
    pub fn wait_for_log(&mut self, needle: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !self.log_text().contains(needle) {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "leadpulse exited ({status}) before logging {needle:?}:\n{}",
                    self.log_text()
                );
            }
            assert!(
                Instant::now() < deadline,
                "no {needle:?} in log within {timeout:?}:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The admin HTTP address, from the "admin HTTP listening" log line.
    pub fn admin_addr(&mut self) -> String {
        self.wait_for_log("admin HTTP listening", Duration::from_secs(60));
        let log = self.log_text();
        let line = log
            .lines()
            .find(|l| l.contains("admin HTTP listening"))
            .unwrap();
        // Text logs say addr=HOST:PORT, JSON logs "addr":"HOST:PORT".
        line.split("addr=")
            .nth(1)
            .or_else(|| line.split("\"addr\":").nth(1))
            .and_then(|r| r.split([' ', ',', '}']).next())
            .unwrap_or_else(|| panic!("no addr in {line:?}"))
            .trim_matches('"')
            .to_owned()
    }

    /// GET `path` from the admin endpoint: (status, body).
    pub fn get(&mut self, path: &str) -> (u16, String) {
        let addr = self.admin_addr();
        http_get(&addr, path)
    }

    /// Waits for the process to exit on its own and returns its status.
    pub fn wait_exit(&mut self, timeout: Duration) -> std::process::ExitStatus {
        wait_timeout(&mut self.child, timeout)
    }

    /// Sends SIGTERM and waits for a clean exit.
    pub fn terminate(mut self) -> String {
        signal(&self.child, "TERM");
        let status = wait_timeout(&mut self.child, Duration::from_secs(60));
        let log = self.log_text();
        assert!(
            status.success(),
            "leadpulse exited with {status} on SIGTERM:\n{log}"
        );
        log
    }

    /// kill -9.
    pub fn kill9(mut self) -> String {
        signal(&self.child, "KILL");
        let _ = self.child.wait();
        self.log_text()
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A minimal HTTP/1.1 GET: (status, body).
pub fn http_get(addr: &str, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s =
        std::net::TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("bad response to GET {path}: {raw:?}"));
    (status, body.to_owned())
}

pub fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([format!("-{sig}"), child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{sig} failed");
}

fn wait_timeout(child: &mut Child, timeout: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "process did not exit within {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
