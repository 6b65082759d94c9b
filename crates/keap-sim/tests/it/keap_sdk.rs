//! Keap's own generated Python SDK (`keap-core-v2-sdk` 2.0.26, installed by `.ci/run`) runs
//! unchanged against the simulator: create, get, filter, paging, update, delete and a 401 for
//! every v2 resource the simulator serves (the script is `tests/sdk/sdk_roundtrip.py`).

use std::process::Stdio;
use std::time::Duration;

use crate::common;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keaps_python_sdk_works_against_the_simulator_unchanged() {
    let h = common::start().await;
    let token = h.bearer().await;
    let python = std::env::var("JUNCTION_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sdk/sdk_roundtrip.py");
    let child = tokio::process::Command::new(&python)
        .args([script, "--base-url", &h.sim.url(), "--access-token", &token])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}; run .ci/run once to install the SDK"));
    let output = tokio::time::timeout(Duration::from_secs(180), child.wait_with_output())
        .await
        .expect("the SDK roundtrip finishes within 3 minutes")
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "SDK roundtrip failed (is keap-core-v2-sdk==2.0.26 installed? `.ci/run` installs it)\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("checks passed"), "{stdout}");
}
