//! Starting the `junction` binary in tests.

pub mod cluster;

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Spawns `command` (a `junction serve ...` the caller has configured, stdout included), waits for
/// its "junction listening" log line, and returns the process with its base URL. Its stderr is
/// drained from then on, so the process never blocks on a full pipe; it is killed when dropped.
pub async fn start_listening(mut command: Command) -> (Child, String) {
    let mut child = command.stderr(Stdio::piped()).kill_on_drop(true).spawn().expect("the junction binary starts");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let base = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = stderr.next_line().await.expect("stderr line") {
            if line.contains("junction listening") {
                let addr = line.split("addr=").nth(1).unwrap().split_whitespace().next().unwrap().to_string();
                return format!("http://{addr}");
            }
        }
        panic!("junction exited before listening");
    })
    .await
    .expect("listening within 30 s");
    tokio::spawn(async move { while let Ok(Some(_)) = stderr.next_line().await {} });
    (child, base)
}
