//! Helpers: finding vectors, running the binary, a static HTTP server.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

#[path = "../../log/tests/support/vectors_dir.rs"]
mod vectors_dir_impl;

/// The vectors directory (see `log/tests/support/vectors_dir.rs`).
pub(crate) fn vectors_dir(test: &str) -> Option<PathBuf> {
    vectors_dir_impl::vectors_dir(Path::new(env!("CARGO_MANIFEST_DIR")), test)
}

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
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
