//! The Python interpreter with nats-py provisioned for interoperability tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use nats_testkit::{python_with_nats_py, NATS_PY_VERSION};

#[test]
fn provisions_python_that_imports_nats_micro() {
    let python = python_with_nats_py();
    let out = Command::new(&python)
        .args([
            "-c",
            "import importlib.metadata, nats.micro; print(importlib.metadata.version('nats-py'))",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), NATS_PY_VERSION);
    // A second call is the cached path.
    assert_eq!(python_with_nats_py(), python);
}
