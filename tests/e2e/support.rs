//! Helpers: finding vectors, running the binary, a static HTTP server.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The vectors directory (see `islet_testkit::vectors_dir`).
pub(crate) use islet_testkit::vectors_dir;

/// Runs `islet` with arguments.
pub(crate) fn islet(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_islet"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run islet")
}

/// Copies a directory tree.
pub(crate) fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// Flips one bit of a file.
pub(crate) fn flip_bit(path: &Path, byte: usize, bit: u8) {
    let mut data = std::fs::read(path).unwrap();
    data[byte] ^= 1 << bit;
    std::fs::write(path, data).unwrap();
}

/// A static file server (Python's http.server) on a free loopback port. It
/// is killed on drop and, whatever happens, exits by itself after 10
/// minutes.
pub(crate) struct StaticServer {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub(crate) url: String,
}

impl StaticServer {
    pub(crate) fn start(dir: &Path) -> StaticServer {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("timeout")
            .args([
                "600",
                "python3",
                "-m",
                "http.server",
                "--bind",
                "127.0.0.1",
                "--directory",
            ])
            .arg(dir)
            .arg(port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start python3 -m http.server");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "http.server did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        StaticServer {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        kill_tree(&mut self.child);
    }
}

/// A free loopback port (bound, then released).
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `islet serve`, killed on drop. It runs under `timeout`, so it
/// exits by itself even if the test process dies.
pub(crate) struct Islet {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`
    pub(crate) url: String,
    pub(crate) port: u16,
    pub(crate) data: PathBuf,
    extra: Vec<String>,
    /// `--public-url` (default `http://127.0.0.1:PORT`).
    public_url: Option<String>,
    /// The port speaks TLS (`[tls]` in islet.toml): health is asked with
    /// curl over HTTPS.
    https: bool,
    /// The tail of the running server's stderr, read as it comes (a pipe
    /// nobody reads fills up and then blocks the server mid-write).
    stderr: Arc<Mutex<Vec<u8>>>,
}

/// How much of a server's stderr [`Islet`] keeps (its tail).
const STDERR_KEPT: usize = 256 << 10;

/// Reads `child`'s stderr on a thread of its own into a buffer that keeps
/// the last [`STDERR_KEPT`] bytes.
fn drain_stderr(child: &mut Child) -> Arc<Mutex<Vec<u8>>> {
    use std::io::Read;
    let kept = Arc::new(Mutex::new(Vec::new()));
    if let Some(mut pipe) = child.stderr.take() {
        let into = Arc::clone(&kept);
        std::thread::spawn(move || {
            let mut chunk = [0u8; 8192];
            while let Ok(n) = pipe.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                let mut buf = into.lock().unwrap_or_else(|e| e.into_inner());
                buf.extend_from_slice(&chunk[..n]);
                if buf.len() > STDERR_KEPT {
                    let cut = buf.len() - STDERR_KEPT;
                    buf.drain(..cut);
                }
            }
        });
    }
    kept
}

impl Islet {
    /// Starts `islet serve` on `data` (initialised on first start) and waits
    /// until /healthz answers.
    pub(crate) fn start(data: &Path) -> Islet {
        Self::start_on(data, free_port())
    }

    pub(crate) fn start_on(data: &Path, port: u16) -> Islet {
        Self::start_with(data, port, &[])
    }

    /// Starts with extra `islet serve` flags.
    pub(crate) fn start_with(data: &Path, port: u16, extra: &[&str]) -> Islet {
        Self::start_full(data, port, extra, false)
    }

    /// Starts on a data directory whose islet.toml has `[tls]`: the port
    /// speaks HTTPS, and [`Islet::url`] is `https://127.0.0.1:PORT`.
    pub(crate) fn start_https(data: &Path, port: u16) -> Islet {
        Self::start_full(data, port, &[], true)
    }

    fn start_full(data: &Path, port: u16, extra: &[&str], https: bool) -> Islet {
        let mut child = Self::spawn(data, port, extra, None);
        let stderr = drain_stderr(&mut child);
        let scheme = if https { "https" } else { "http" };
        let mut islet = Islet {
            stderr,
            child: Some(child),
            url: format!("{scheme}://127.0.0.1:{port}"),
            port,
            data: data.to_owned(),
            extra: extra.iter().map(|s| (*s).to_owned()).collect(),
            public_url: None,
            https,
        };
        islet.wait_healthy();
        islet
    }

    /// The PID of the server process (the child of its `timeout` wrapper).
    pub(crate) fn server_pid(&self) -> u32 {
        self.running_pid().expect("the server under timeout")
    }

    /// The PID of the server process, while it runs.
    pub(crate) fn running_pid(&self) -> Option<u32> {
        let child = self.child.as_ref()?;
        let out = Command::new("pgrep")
            .args(["-P", &child.id().to_string()])
            .output()
            .expect("pgrep");
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .next()
            .and_then(|pid| pid.parse().ok())
            .filter(|pid: &u32| process_alive(&pid.to_string()))
    }

    fn spawn(data: &Path, port: u16, extra: &[&str], public_url: Option<&str>) -> Child {
        let url = public_url.map_or_else(|| format!("http://127.0.0.1:{port}"), str::to_owned);
        Command::new("timeout")
            .args([
                "-s",
                "KILL",
                "900",
                env!("CARGO_BIN_EXE_islet"),
                "serve",
                "--data",
            ])
            .arg(data)
            .args([
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--public-url",
                &url,
            ])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start islet serve")
    }

    fn healthy_over_https(&self) -> bool {
        Command::new("curl")
            .args(["-sk", "--max-time", "2"])
            .arg(format!("https://127.0.0.1:{}/healthz", self.port))
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("SERVING"))
    }

    /// Waits up to 30 s for /healthz to answer SERVING; panics with the
    /// server's stderr if it exits first.
    pub(crate) fn wait_healthy(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if self.https {
                if self.healthy_over_https() {
                    return;
                }
            } else if let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) {
                use std::io::{Read, Write};
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let _ = s.write_all(b"GET /healthz HTTP/1.0\r\n\r\n");
                let mut buf = String::new();
                let _ = s.read_to_string(&mut buf);
                if buf.contains("SERVING") {
                    return;
                }
            }
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                // The reader thread takes what is left in the pipe.
                std::thread::sleep(Duration::from_millis(200));
                panic!("islet serve exited with {status}: {}", self.stderr_text());
            }
            assert!(
                Instant::now() < deadline,
                "islet serve did not become healthy on port {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL, no shutdown: the server first (a child of `timeout`), then
    /// the `timeout` wrapper.
    ///
    /// Returns once the server is gone: a process killed in the middle of
    /// an fsync exits only when the fsync returns, and until then it holds
    /// the store's LOCK. Returns how many server processes were alive when
    /// killed (1 for a running server).
    pub(crate) fn kill(&mut self) -> usize {
        let mut killed = 0;
        if let Some(mut c) = self.child.take() {
            let servers: Vec<String> = Command::new("pgrep")
                .args(["-P", &c.id().to_string()])
                .output()
                .map(|o| {
                    String::from_utf8_lossy(&o.stdout)
                        .split_whitespace()
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default();
            let _ = Command::new("pkill")
                .args(["-KILL", "-P", &c.id().to_string()])
                .status();
            let _ = c.kill();
            let _ = c.wait();
            let deadline = Instant::now() + Duration::from_secs(60);
            killed = servers.len();
            for pid in servers {
                // Until every thread has exited: a killed process whose
                // threads are still finishing a system call (an fsync)
                // keeps its files, the store's LOCK among them, even after
                // its main thread shows as a zombie. A zombie whose threads
                // are all gone holds nothing (here nobody may reap it).
                while process_alive(&pid) {
                    assert!(
                        Instant::now() < deadline,
                        "islet serve {pid} did not die within 60 s of SIGKILL"
                    );
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        }
        killed
    }

    /// Kills and starts again on the same port and data. Returns how many
    /// server processes the kill found alive (see [`Islet::kill`]).
    pub(crate) fn restart(&mut self) -> usize {
        let killed = self.kill();
        let extra: Vec<&str> = self.extra.iter().map(String::as_str).collect();
        let mut child = Self::spawn(&self.data, self.port, &extra, self.public_url.as_deref());
        self.stderr = drain_stderr(&mut child);
        self.child = Some(child);
        self.wait_healthy();
        killed
    }

    /// The tail of the running (or last) server's stderr.
    pub(crate) fn stderr_text(&self) -> String {
        let buf = self.stderr.lock().unwrap_or_else(|e| e.into_inner());
        String::from_utf8_lossy(&buf).into_owned()
    }

    /// Restarts with another `--public-url` (kept for later restarts),
    /// which [`Islet::url`] then is.
    pub(crate) fn restart_with_public_url(&mut self, url: &str) -> usize {
        self.public_url = Some(url.to_owned());
        url.clone_into(&mut self.url);
        self.restart()
    }
}

impl Drop for Islet {
    fn drop(&mut self) {
        let _killed = self.kill();
    }
}

/// Runs `islet serve` expecting it to refuse to start; returns its stderr.
pub(crate) fn islet_serve_refuses(data: &Path) -> String {
    let port = free_port();
    let out = Command::new("timeout")
        .args(["60", env!("CARGO_BIN_EXE_islet"), "serve", "--data"])
        .arg(data)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .stdin(Stdio::null())
        .output()
        .expect("run islet serve");
    assert!(
        !out.status.success(),
        "islet serve started when it must refuse"
    );
    assert_ne!(
        out.status.code(),
        Some(124),
        "islet serve ran until the timeout instead of refusing"
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A client key that signs hashedrekord requests.
pub(crate) struct Signer {
    key: aws_lc_rs::signature::EcdsaKeyPair,
    spki: Vec<u8>,
}

impl Signer {
    pub(crate) fn new() -> Signer {
        use aws_lc_rs::encoding::AsDer;
        use aws_lc_rs::signature::KeyPair;
        let key = aws_lc_rs::signature::EcdsaKeyPair::generate(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
        )
        .unwrap();
        let spki = key.public_key().as_der().unwrap().as_ref().to_vec();
        Signer { key, spki }
    }

    /// An ECDSA signature over `message` (hashed with SHA-256).
    pub(crate) fn sign(&self, message: &[u8]) -> Vec<u8> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        self.key.sign(&rng, message).unwrap().as_ref().to_vec()
    }

    /// The DER SubjectPublicKeyInfo.
    pub(crate) fn spki(&self) -> &[u8] {
        &self.spki
    }

    /// A hashedrekord request over SHA-256(artifact), public-key verifier.
    pub(crate) fn request(&self, artifact: &[u8]) -> String {
        use base64::Engine;
        let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, artifact);
        let sig = self.key.sign_digest(&d).unwrap();
        format!(
            r#"{{"hashedRekordRequestV002":{{"digest":"{}","signature":{{"content":"{}","verifier":{{"publicKey":{{"rawBytes":"{}"}},"keyDetails":"PKIX_ECDSA_P256_SHA_256"}}}}}}}}"#,
            b64(d.as_ref()),
            b64(sig.as_ref()),
            b64(&self.spki)
        )
    }
}

/// The Python of a venv with sigstore-python (pinned) installed, created on
/// first use under the target directory.
pub(crate) fn sigstore_python() -> PathBuf {
    static PYTHON: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    PYTHON
        .get_or_init(|| install_python_package("sigstore==4.5.0", "venv-sigstore-4.5.0"))
        .clone()
}

/// The Python of a venv with the PyPI `oras` client (pinned).
pub(crate) fn oras_python() -> PathBuf {
    static PYTHON: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    PYTHON
        .get_or_init(|| install_python_package("oras==0.2.43", "venv-oras-0.2.43"))
        .clone()
}

fn install_python_package(requirement: &str, venv_name: &str) -> PathBuf {
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join(venv_name);
    let python = venv.join("bin/python");
    let stamp = venv.join(".islet-installed");
    if stamp.exists() {
        return python;
    }
    let _ = std::fs::remove_dir_all(&venv);
    let ok = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "python3 -m venv {} failed", venv.display());
    let out = Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            requirement,
        ])
        .output()
        .expect("run pip");
    assert!(
        out.status.success(),
        "pip install {requirement} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(&stamp, requirement).unwrap();
    python
}

/// Debian's `docker-registry` (the CNCF distribution registry) on a free
/// loopback port, storing into `dir`; killed on drop, and gone by itself
/// after 10 minutes whatever happens.
pub(crate) struct Registry {
    child: Child,
    /// `127.0.0.1:PORT`
    pub(crate) host: String,
}

impl Registry {
    pub(crate) fn start(dir: &Path) -> Registry {
        let port = free_port();
        std::fs::create_dir_all(dir).unwrap();
        let config = dir.join("registry.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
                dir.join("storage").display()
            ),
        )
        .unwrap();
        let child = Command::new("timeout")
            .args(["600", "docker-registry", "serve"])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start docker-registry (Debian package docker-registry)");
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "docker-registry did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Registry {
            child,
            host: format!("127.0.0.1:{port}"),
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        kill_tree(&mut self.child);
    }
}

/// Whether any thread of process `pid` is still running (a zombie with no
/// other threads is not).
pub(crate) fn process_alive(pid: &str) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks.flatten().any(|t| {
        std::fs::read_to_string(t.path().join("stat")).is_ok_and(|stat| {
            !stat
                .rsplit_once(") ")
                .is_some_and(|(_, rest)| rest.starts_with('Z') || rest.starts_with('X'))
        })
    })
}

/// Kills a `timeout` wrapper and the command it runs.
fn kill_tree(child: &mut Child) {
    let _ = Command::new("pkill")
        .args(["-KILL", "-P", &child.id().to_string()])
        .status();
    let _ = child.kill();
    let _ = child.wait();
}

/// Writes `n` entries through the write API, each acknowledged with 201.
pub(crate) fn write_entries(server: &Islet, tag: &str, n: usize) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let signer = Signer::new();
    rt.block_on(async {
        let client = reqwest::Client::new();
        for i in 0..n {
            let body = signer.request(format!("{tag} {i}").as_bytes());
            let r = client
                .post(format!("{}/api/v2/log/entries", server.url))
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(
                r.status().as_u16(),
                201,
                "{}",
                r.text().await.unwrap_or_default()
            );
        }
    });
}

/// GET `path` from 127.0.0.1:`port`; the status and the body.
pub(crate) fn http_get(port: u16, path: &str) -> (u16, Vec<u8>) {
    use std::io::{Read, Write};
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP response");
    let status = std::str::from_utf8(&out[9..12]).unwrap().parse().unwrap();
    (status, out[split + 4..].to_vec())
}

/// A request to 127.0.0.1:`port`: the status, the response headers (as
/// text, lowercase names) and the body. The server must answer with a
/// Content-Length body (islet does).
pub(crate) fn http_request(
    port: u16,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: &[u8],
) -> (u16, String, Vec<u8>) {
    use std::io::{Read, Write};
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(ct) = content_type {
        head.push_str(&format!("Content-Type: {ct}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP response");
    let status = std::str::from_utf8(&out[9..12]).unwrap().parse().unwrap();
    let headers = String::from_utf8_lossy(&out[..split]).to_ascii_lowercase();
    (status, headers, out[split + 4..].to_vec())
}

/// `islet trust-root --data DATA ARGS...`: its standard output, which must
/// be JSON; panics with its stderr when it fails.
pub(crate) fn islet_trust_root(data: &Path, args: &[&str]) -> String {
    let mut all = vec!["trust-root", "--data", data.to_str().unwrap()];
    all.extend_from_slice(args);
    let out = islet(&all);
    assert!(
        out.status.success(),
        "islet {all:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    serde_json::from_str::<serde_json::Value>(&text).expect("trust-root prints JSON");
    text
}

/// The `node_modules` directory of tests/e2e/js, installed by `npm ci` from
/// its lock file (pinned @sigstore/sign and @sigstore/verify) on first use
/// under the target directory, again whenever the lock file changes.
pub(crate) fn sigstore_js() -> PathBuf {
    static MODULES: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    MODULES
        .get_or_init(|| {
            let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/js");
            let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("js-sigstore-sign-5.1.0");
            let lock = std::fs::read(src.join("package-lock.json")).unwrap();
            let stamp = dir.join(".islet-installed");
            let want = hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &lock));
            if std::fs::read_to_string(&stamp).is_ok_and(|s| s == want) {
                return dir.join("node_modules");
            }
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            for f in ["package.json", "package-lock.json"] {
                std::fs::copy(src.join(f), dir.join(f)).unwrap();
            }
            let out = Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--ignore-scripts"])
                .current_dir(&dir)
                .stdin(Stdio::null())
                .output()
                .expect("run npm (Debian packages nodejs and npm)");
            assert!(
                out.status.success(),
                "npm ci failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            std::fs::write(&stamp, want).unwrap();
            dir.join("node_modules")
        })
        .clone()
}

/// Runs `tests/e2e/python/sigstore_client.py` (sigstore-python) with a
/// client trust config: `n` entries signed, resubmitted and verified.
/// Requires success; returns what it printed (`indexes`,
/// `duplicate_errors`).
pub(crate) fn sigstore_client(trust_config: &Path, n: usize) -> serde_json::Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/python/sigstore_client.py");
    let out = Command::new(sigstore_python())
        .arg(&script)
        .arg(trust_config)
        .arg(n.to_string())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "sigstore-python failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The note the fork guard's record file holds, read as its format is
/// documented (`log/server/src/guard/record.rs`), independently of the
/// server's reader: two equal slots, each `islet-guard-1 SEQ LEN SHA256\n`
/// then the note, SHA-256 over SEQ (8 bytes little-endian) and the note;
/// the intact slot with the higher SEQ wins. A file from before slots is
/// the note itself.
pub(crate) fn guard_record_note(raw: &[u8]) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let half = raw.len() / 2;
    let slots = [&raw[..half], &raw[half..]];
    if !slots.iter().any(|s| s.starts_with(b"islet-guard-1 ")) {
        return raw.to_vec();
    }
    let mut best: Option<(u64, Vec<u8>)> = None;
    for slot in slots {
        let Some(nl) = slot.iter().position(|&b| b == b'\n') else {
            continue;
        };
        let Ok(header) = std::str::from_utf8(&slot[..nl]) else {
            continue;
        };
        let f: Vec<&str> = header.split(' ').collect();
        let [_, seq, len, sum] = f[..] else { continue };
        let (Ok(seq), Ok(len)) = (seq.parse::<u64>(), len.parse::<usize>()) else {
            continue;
        };
        let Some(note) = slot.get(nl + 1..nl + 1 + len) else {
            continue;
        };
        let mut h = Sha256::new();
        h.update(seq.to_le_bytes());
        h.update(note);
        if hex::encode(h.finalize()) == sum && best.as_ref().is_none_or(|(s, _)| seq > *s) {
            best = Some((seq, note.to_vec()));
        }
    }
    best.expect("the guard record has an intact slot").1
}
