//! `junction admin rotate-key` as a process, on a SQLite database written through the store: after
//! rotating from key A to key B, key B alone opens everything (instance token lookup, sealed
//! secrets, user and organization secrets) and key A alone is `WrongMasterKey`. Nothing it prints
//! holds a key or a secret.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use store::{Keyring, MasterKey, NewInstance, Secret, SecretMap, StoreError, ACCESS_TOKEN_KEY, REFRESH_TOKEN_KEY};

fn temp_dir() -> PathBuf {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
    let dir = std::env::temp_dir().join(format!("junction-admin-test-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn junction(args: &[&str], master_key_env: Option<&str>) -> Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_junction"));
    command.args(args).env_remove("JUNCTION_MASTER_KEY").env_remove("JUNCTION_MASTER_KEY_FILE");
    command.env_remove("JUNCTION_DATABASE_URL").env("RUST_LOG", "info");
    if let Some(key) = master_key_env {
        command.env("JUNCTION_MASTER_KEY", key);
    }
    command.output().expect("the junction binary runs")
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

fn read_key(path: &Path) -> MasterKey {
    MasterKey::from_base64(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// What the database holds before the rotation, in clear, to check after it.
struct Seeded {
    user_secret: Secret,
    org_secret: Secret,
    token: Secret,
    secrets: SecretMap,
}

async fn seed(url: &str, key: MasterKey) -> Seeded {
    let store = store::connect(url, Keyring::new(key)).await.unwrap();
    let (organization, org_secret) = store.create_organization("default").await.unwrap();
    let (_, user_secret) = store.create_user(organization.id, "admin", true).await.unwrap();
    let secrets: SecretMap = [
        ("oauth.api.secret", "client-secret-value"),
        ("infusionsoft.private.key", "encrypted-key-value"),
        (ACCESS_TOKEN_KEY, "access-token-value"),
        (REFRESH_TOKEN_KEY, "refresh-token-value"),
    ]
    .into_iter()
    .collect();
    let instance = store
        .insert_instance(NewInstance {
            organization_id: organization.id,
            element_key: "infusionsoftcrm".into(),
            name: "rotated".into(),
            tags: vec!["a".into()],
            configuration: BTreeMap::from([("oauth.api.key".to_string(), "client-id".to_string())]),
            secrets: secrets.clone(),
            access_expires_at: None,
            vendor_account: None,
        })
        .await
        .unwrap();
    Seeded { user_secret, org_secret, token: instance.token, secrets }
}

#[tokio::test]
async fn rotate_key_re_seals_everything_under_the_new_key() {
    let dir = temp_dir();
    let url = format!("sqlite://{}", dir.join("junction.db").display());
    let (old_file, new_file) = (dir.join("a.key"), dir.join("b.key"));
    let key_a = MasterKey::load_or_create(&old_file).unwrap();
    let seeded = seed(&url, key_a.clone()).await;

    let args = [
        "admin",
        "rotate-key",
        "--database",
        &url,
        "--old-key-file",
        old_file.to_str().unwrap(),
        "--new-key-file",
        new_file.to_str().unwrap(),
    ];
    let output = junction(&args, None);
    let printed = text(&output);
    assert!(output.status.success(), "{printed}");
    assert!(printed.contains("Re-sealed 1 instance(s)"), "{printed}");
    let key_b = read_key(&new_file);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&new_file).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let mut never_printed = vec![key_a.to_base64(), key_b.to_base64()];
    never_printed.extend([&seeded.user_secret, &seeded.org_secret, &seeded.token].map(|s| s.expose().to_string()));
    never_printed.extend(seeded.secrets.0.values().map(|s| s.expose().to_string()));
    for secret in &never_printed {
        assert!(!printed.contains(secret.as_str()), "a key or secret was printed:\n{printed}");
    }

    // Key B alone reads everything.
    let store = store::connect(&url, Keyring::new(key_b.clone())).await.expect("the new key opens the database");
    let instance = store.find_instance_by_token(&seeded.token).await.unwrap().expect("token lookup");
    assert_eq!(instance.name, "rotated");
    assert_eq!(instance.secrets, seeded.secrets);
    assert!(store.authenticate(&seeded.user_secret, &seeded.org_secret).await.unwrap().is_some());
    drop(store);

    // Key A alone is a clear error, not garbage.
    match store::connect(&url, Keyring::new(key_a)).await {
        Err(StoreError::WrongMasterKey(error)) => {
            let message = StoreError::WrongMasterKey(error).to_string();
            assert!(message.contains("master key does not match"), "{message}");
        }
        other => panic!("expected WrongMasterKey, got {:?}", other.map(|_| ())),
    }

    // Running it again (an interrupted rotation is finished this way) re-seals nothing and is harmless.
    let output = junction(&args, None);
    assert!(output.status.success(), "{}", text(&output));
    assert!(text(&output).contains("Re-sealed 0 instance(s)"), "{}", text(&output));
    let store = store::connect(&url, Keyring::new(key_b)).await.unwrap();
    assert!(store.find_instance_by_token(&seeded.token).await.unwrap().is_some());
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn rotate_key_takes_the_old_key_from_the_environment_and_refuses_mistakes() {
    let dir = temp_dir();
    let url = format!("sqlite://{}", dir.join("junction.db").display());
    let key_a = MasterKey::generate();
    let seeded = seed(&url, key_a.clone()).await;
    let new_file = dir.join("b.key");
    let new_path = new_file.to_str().unwrap();

    // A wrong old key: refused, nothing changed, the key never printed.
    let wrong = MasterKey::generate().to_base64();
    let output = junction(&["admin", "rotate-key", "--database", &url, "--new-key-file", new_path], Some(&wrong));
    assert!(!output.status.success());
    assert!(text(&output).contains("neither the old nor the new key opens this database"), "{}", text(&output));
    assert!(!text(&output).contains(&wrong));

    // No database there: refused, and none is created.
    let missing = format!("sqlite://{}", dir.join("missing.db").display());
    let output = junction(
        &["admin", "rotate-key", "--database", &missing, "--new-key-file", new_path],
        Some(&key_a.to_base64()),
    );
    assert!(!output.status.success());
    assert!(text(&output).contains("no database at"), "{}", text(&output));
    assert!(!dir.join("missing.db").exists());

    // The same key as old and new: refused.
    let same = dir.join("a.key");
    std::fs::write(&same, key_a.to_base64()).unwrap();
    let output = junction(
        &["admin", "rotate-key", "--database", &url, "--new-key-file", same.to_str().unwrap()],
        Some(&key_a.to_base64()),
    );
    assert!(!output.status.success());
    assert!(text(&output).contains("same as the old one"), "{}", text(&output));

    // The old key from JUNCTION_MASTER_KEY.
    let output =
        junction(&["admin", "rotate-key", "--database", &url, "--new-key-file", new_path], Some(&key_a.to_base64()));
    assert!(output.status.success(), "{}", text(&output));
    assert!(!text(&output).contains(&key_a.to_base64()));
    let store = store::connect(&url, Keyring::new(read_key(&new_file))).await.unwrap();
    assert!(store.find_instance_by_token(&seeded.token).await.unwrap().is_some());
    let _ = std::fs::remove_dir_all(dir);
}

/// Starts `junction serve` on `url` with the given key files and reports whether it came up
/// (its "listening" log line) or exited (with its output).
fn serve_starts(url: &str, key_file: &Path, previous: Option<&Path>) -> Result<(), String> {
    use std::io::{BufRead, BufReader};
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_junction"));
    command.env_remove("JUNCTION_MASTER_KEY").env_remove("JUNCTION_MASTER_KEY_FILE").env("RUST_LOG", "info");
    command.args(["serve", "--bind", "127.0.0.1:0", "--refresh-period", "0", "--database", url, "--master-key-file"]);
    command.arg(key_file);
    if let Some(previous) = previous {
        command.arg("--previous-master-key-file").arg(previous);
    }
    let mut child = command.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut seen = String::new();
    for line in BufReader::new(stderr).lines().map_while(Result::ok) {
        seen.push_str(&line);
        seen.push('\n');
        if line.contains("junction listening") {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(());
        }
    }
    let _ = child.wait();
    Err(seen)
}

#[tokio::test]
async fn serve_reads_with_a_previous_key_so_rotation_needs_no_downtime() {
    let dir = temp_dir();
    let url = format!("sqlite://{}", dir.join("junction.db").display());
    let (old_file, new_file) = (dir.join("a.key"), dir.join("b.key"));
    let (key_a, key_b) = (MasterKey::generate(), MasterKey::generate());
    std::fs::write(&old_file, key_a.to_base64()).unwrap();
    std::fs::write(&new_file, key_b.to_base64()).unwrap();
    seed(&url, read_key(&old_file)).await;
    let refused = serve_starts(&url, &new_file, None).expect_err("the new key alone cannot open the database yet");
    assert!(refused.contains("does not match"), "{refused}");
    serve_starts(&url, &new_file, Some(&old_file)).expect("new key plus the previous one starts");
    let _ = std::fs::remove_dir_all(&dir);
}
