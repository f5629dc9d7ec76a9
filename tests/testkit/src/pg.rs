//! A real PostgreSQL server for a test: Debian's server binaries, a cluster
//! in a temporary directory, on a free port of 127.0.0.1, stopped when the
//! [`PgCluster`] is dropped.
//!
//! The binaries are the highest `/usr/lib/postgresql/<major>/bin` with an
//! `initdb` (or `ISLET_PG_BINDIR`). PostgreSQL refuses to run as root, so
//! as root (CI) the cluster's directory belongs to the `postgres` user that
//! Debian's package creates, and each server binary runs through `runuser`.
//! A machine without the binaries fails the test, saying what to install:
//! the tests never skip.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// Where the PostgreSQL server binaries are.
///
/// # Panics
/// When there are none.
#[track_caller]
pub fn bindir() -> PathBuf {
    if let Some(dir) = std::env::var_os("ISLET_PG_BINDIR") {
        let dir = PathBuf::from(dir);
        assert!(
            dir.join("initdb").is_file(),
            "ISLET_PG_BINDIR={} has no initdb",
            dir.display()
        );
        return dir;
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let major: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((major, bin))
        })
        .collect();
    found.sort();
    match found.pop() {
        Some((major, bin)) => {
            assert!(
                major >= 15,
                "PostgreSQL {major} is too old for islet's tests (15 or later)"
            );
            bin
        }
        None => panic!(
            "PostgreSQL's server binaries are not installed (no /usr/lib/postgresql/*/bin/initdb): \
             `apt-get install postgresql` (.ci/run does), or set ISLET_PG_BINDIR"
        ),
    }
}

fn running_as_root() -> bool {
    // The effective uid of this process, without libc: /proc says it.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// A free TCP port on 127.0.0.1.
///
/// # Panics
/// When no port can be bound.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}

/// A PostgreSQL server of a test.
#[derive(Debug)]
pub struct PgCluster {
    _dir: tempfile::TempDir,
    root: PathBuf,
    data: PathBuf,
    port: u16,
    bin: PathBuf,
    as_postgres: bool,
}

/// The superuser the clusters are made with (trust authentication on
/// 127.0.0.1 and the cluster's own socket directory).
pub const USER: &str = "islet";

impl PgCluster {
    /// Makes a cluster (`initdb`) and starts it, with durable commits and
    /// WAL enough for a streaming standby.
    ///
    /// # Panics
    /// When PostgreSQL is missing or does not start (with its log).
    #[track_caller]
    pub fn start() -> PgCluster {
        let bin = bindir();
        let dir = tempfile::Builder::new()
            .prefix("islet-pg-")
            .tempdir()
            .unwrap_or_else(|e| panic!("temporary directory: {e}"));
        let root = dir.path().to_path_buf();
        let as_postgres = running_as_root();
        let cluster = PgCluster {
            _dir: dir,
            data: root.join("data"),
            root,
            port: free_port(),
            bin,
            as_postgres,
        };
        if as_postgres {
            cluster.run_plain("chown", &["postgres:postgres", cluster.root_str()]);
        }
        cluster.run(
            "initdb",
            &[
                "-D",
                cluster.data_str(),
                "-U",
                USER,
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-instructions",
            ],
        );
        let conf = format!(
            "\n# islet test cluster\nlisten_addresses = '127.0.0.1'\nport = {}\n\
             unix_socket_directories = '{}'\nfsync = on\nshared_buffers = 32MB\n\
             max_connections = 200\nwal_level = replica\nmax_wal_senders = 4\n",
            cluster.port,
            cluster.root.display()
        );
        cluster.append_conf(&conf);
        let hba = "host replication islet 127.0.0.1/32 trust\n";
        cluster.append_file("pg_hba.conf", hba);
        cluster.pg_ctl_start();
        cluster
    }

    fn root_str(&self) -> &str {
        self.root
            .to_str()
            .unwrap_or_else(|| panic!("non-UTF-8 path"))
    }

    fn data_str(&self) -> &str {
        self.data
            .to_str()
            .unwrap_or_else(|| panic!("non-UTF-8 path"))
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The cluster's data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data
    }

    /// A `postgres://` URL of database `db` (see [`PgCluster::create_db`]).
    pub fn url(&self, db: &str) -> String {
        format!("postgres://{USER}@127.0.0.1:{}/{db}", self.port)
    }

    /// Creates database `db` and returns its URL.
    ///
    /// # Panics
    /// When `createdb` fails.
    #[track_caller]
    pub fn create_db(&self, db: &str) -> String {
        let port = self.port.to_string();
        self.run(
            "createdb",
            &["-h", "127.0.0.1", "-p", &port, "-U", USER, db],
        );
        self.url(db)
    }

    /// Appends settings to `postgresql.conf` (they take effect at the next
    /// start, or at once for reloadable ones after [`PgCluster::reload`]).
    pub fn append_conf(&self, text: &str) {
        self.append_file("postgresql.conf", text);
    }

    fn append_file(&self, name: &str, text: &str) {
        use std::io::Write;
        let path = self.data.join(name);
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        f.write_all(text.as_bytes())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }

    fn pg_ctl_start(&self) {
        let log = self.root.join("server.log");
        let log = log.to_str().unwrap_or_else(|| panic!("non-UTF-8 path"));
        let out = self.try_run(
            "pg_ctl",
            &["-D", self.data_str(), "-l", log, "-w", "-t", "60", "start"],
        );
        if !out.status.success() {
            panic!(
                "PostgreSQL did not start: {}\n{}\n--- server.log ---\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                std::fs::read_to_string(self.root.join("server.log")).unwrap_or_default()
            );
        }
    }

    /// Serves TLS with this certificate and key (PEM) and refuses every
    /// connection over TCP that is not TLS; restarts the server.
    ///
    /// # Panics
    /// When the files cannot be written or the server does not restart.
    #[track_caller]
    pub fn require_tls(&self, cert_pem: &str, key_pem: &str) {
        use std::os::unix::fs::PermissionsExt;
        for (name, text) in [("server.crt", cert_pem), ("server.key", key_pem)] {
            let path = self.data.join(name);
            std::fs::write(&path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            if self.as_postgres {
                let path = path.to_str().unwrap_or_else(|| panic!("non-UTF-8 path"));
                self.run_plain("chown", &["postgres:postgres", path]);
            }
        }
        self.append_conf("ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n");
        let hba = self.data.join("pg_hba.conf");
        let old =
            std::fs::read_to_string(&hba).unwrap_or_else(|e| panic!("{}: {e}", hba.display()));
        std::fs::write(
            &hba,
            format!("hostnossl all all 0.0.0.0/0 reject\nhostnossl all all ::/0 reject\n{old}"),
        )
        .unwrap_or_else(|e| panic!("{}: {e}", hba.display()));
        self.stop();
        self.pg_ctl_start();
    }

    /// Runs one statement with `psql` in database `postgres` and returns
    /// its unaligned output, trimmed.
    ///
    /// # Panics
    /// When psql fails.
    #[track_caller]
    pub fn psql(&self, sql: &str) -> String {
        let port = self.port.to_string();
        let out = self.run(
            "psql",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                USER,
                "-d",
                "postgres",
                "-At",
                "-c",
                sql,
            ],
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// A streaming standby of this server, cloned with `pg_basebackup`,
    /// on a port of its own, connected as `name`; this server waits for it
    /// on every commit (`synchronous_standby_names = 'FIRST 1 (name)'`,
    /// reloaded). Returns once the primary reports it as `sync`.
    ///
    /// # Panics
    /// When the clone, the start or the wait (60 s) fails.
    #[track_caller]
    pub fn start_sync_standby(&self, name: &str) -> PgCluster {
        let dir = tempfile::Builder::new()
            .prefix("islet-pg-standby-")
            .tempdir()
            .unwrap_or_else(|e| panic!("temporary directory: {e}"));
        let root = dir.path().to_path_buf();
        let standby = PgCluster {
            _dir: dir,
            data: root.join("data"),
            root,
            port: free_port(),
            bin: self.bin.clone(),
            as_postgres: self.as_postgres,
        };
        if standby.as_postgres {
            standby.run_plain("chown", &["postgres:postgres", standby.root_str()]);
        }
        let port = self.port.to_string();
        let conninfo = format!("application_name={name}");
        standby.run(
            "pg_basebackup",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                USER,
                "-D",
                standby.data_str(),
                "-R",
                "-X",
                "stream",
                // A fast checkpoint: the default spreads it, which may
                // take minutes on an idle server.
                "-c",
                "fast",
                "-d",
                &conninfo,
            ],
        );
        standby.append_conf(&format!(
            "\n# standby {name}\nport = {}\nunix_socket_directories = '{}'\n",
            standby.port,
            standby.root.display()
        ));
        standby.pg_ctl_start();
        self.psql(&format!(
            "ALTER SYSTEM SET synchronous_standby_names = 'FIRST 1 ({name})'"
        ));
        self.psql("SELECT pg_reload_conf()");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let state = self.psql(&format!(
                "SELECT sync_state FROM pg_stat_replication WHERE application_name = '{name}'"
            ));
            if state == "sync" {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "standby {name} is not synchronous after 60 s (state {state:?})"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        standby
    }

    /// Promotes a standby to primary (`pg_ctl promote`, waiting) and lets
    /// it commit without a standby of its own (it inherited the old
    /// primary's `synchronous_standby_names`).
    ///
    /// # Panics
    /// When the promotion fails.
    #[track_caller]
    pub fn promote(&self) {
        self.run("pg_ctl", &["-D", self.data_str(), "-w", "promote"]);
        self.psql("ALTER SYSTEM SET synchronous_standby_names = ''");
        self.psql("SELECT pg_reload_conf()");
    }

    /// Starts the server again after [`PgCluster::kill`] or
    /// [`PgCluster::stop`] (crash recovery runs first after a kill).
    #[track_caller]
    pub fn restart(&self) {
        self.pg_ctl_start();
    }

    /// Re-reads the configuration (`pg_ctl reload`).
    #[track_caller]
    pub fn reload(&self) {
        self.run("pg_ctl", &["-D", self.data_str(), "reload"]);
    }

    /// Stops the server cleanly.
    #[track_caller]
    pub fn stop(&self) {
        self.run(
            "pg_ctl",
            &["-D", self.data_str(), "-w", "-m", "fast", "stop"],
        );
    }

    /// The postmaster's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.data.join("postmaster.pid"))
            .ok()?
            .lines()
            .next()?
            .trim()
            .parse()
            .ok()
    }

    /// Kills the server as a crash would: SIGKILL to the postmaster and
    /// every backend, found through /proc, and waits until the port is free.
    pub fn kill(&self) {
        let Some(pid) = self.pid() else { return };
        let mut victims = vec![pid];
        victims.extend(children(pid));
        for p in &victims {
            let _ = Command::new("kill").args(["-9", &p.to_string()]).status();
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        while victims
            .iter()
            .any(|p| Path::new(&format!("/proc/{p}/stat")).exists() && !zombie(*p))
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = std::fs::remove_file(self.data.join("postmaster.pid"));
    }

    /// Runs one of the server binaries, as the `postgres` user when root.
    ///
    /// # Panics
    /// When it fails, with its output.
    #[track_caller]
    pub fn run(&self, tool: &str, args: &[&str]) -> Output {
        let out = self.try_run(tool, args);
        assert!(
            out.status.success(),
            "{tool} {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Runs one of the server binaries and returns whatever it did.
    ///
    /// # Panics
    /// When it cannot be started at all.
    pub fn try_run(&self, tool: &str, args: &[&str]) -> Output {
        let path = self.bin.join(tool);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            Command::new(&path)
        };
        cmd.args(args)
            .current_dir(&self.root)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", path.display()))
    }

    fn run_plain(&self, tool: &str, args: &[&str]) {
        let status = Command::new(tool)
            .args(args)
            .status()
            .unwrap_or_else(|e| panic!("cannot run {tool}: {e}"));
        assert!(status.success(), "{tool} {args:?} failed");
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if self.pid().is_some() {
            let _ = self.try_run(
                "pg_ctl",
                &["-D", self.data_str(), "-m", "immediate", "stop"],
            );
        }
    }
}

fn zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit(')')
                .next()
                .map(|r| r.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

/// Every descendant of `pid`, by /proc.
fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in entries.flatten() {
        let Some(child) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let parent = std::fs::read_to_string(format!("/proc/{child}/stat"))
            .ok()
            .and_then(|s| {
                s.rsplit(')').next().and_then(|r| {
                    r.split_whitespace()
                        .nth(1)
                        .and_then(|p| p.parse::<u32>().ok())
                })
            });
        if parent == Some(pid) {
            out.push(child);
            out.extend(children(child));
        }
    }
    out
}
