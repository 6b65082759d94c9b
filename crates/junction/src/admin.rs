//! `junction admin`: operator commands run against the database, not through the API.
//!
//! `junction admin rotate-key` re-seals every sealed value under a new master key with
//! `Store::rotate_master_key`, in batches, the keyring canary last: interrupted, it is simply run
//! again with the same two keys. It prints counts and key versions (fingerprints), never a key or
//! a secret. Wiring only: the rotation itself is the store's.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use store::{Keyring, MasterKey, StoreError};

#[derive(Args, Debug)]
pub struct AdminArgs {
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Subcommand, Debug)]
enum AdminCommand {
    /// Re-encrypt every stored secret under a new master key (the old key must still open the
    /// database). Afterwards, start every node with the new key only.
    RotateKey(RotateKeyArgs),
}

#[derive(Args, Debug)]
struct RotateKeyArgs {
    /// `sqlite://PATH` or `postgres://...`: the database `junction serve` uses.
    #[arg(long, env = "JUNCTION_DATABASE_URL", default_value = "sqlite://junction.db")]
    database: String,
    /// The file holding the current (old) base64 master key. Without it, `JUNCTION_MASTER_KEY`,
    /// else the key file beside the SQLite database, as `junction serve` finds it.
    #[arg(long, env = "JUNCTION_MASTER_KEY_FILE")]
    old_key_file: Option<PathBuf>,
    /// The file holding the new base64 master key; created with a fresh key (mode 0600) if missing.
    #[arg(long)]
    new_key_file: PathBuf,
}

pub async fn run(args: AdminArgs) -> anyhow::Result<()> {
    match args.command {
        AdminCommand::RotateKey(args) => rotate_key(args).await,
    }
}

async fn rotate_key(args: RotateKeyArgs) -> anyhow::Result<()> {
    if let Some(path) = sqlite_file(&args.database) {
        // `store::connect` would create a missing SQLite database; rotating an empty one is a mistake.
        if !path.exists() {
            bail!("no database at {}: check --database (or JUNCTION_DATABASE_URL)", path.display());
        }
    }
    let old = old_key(&args)?;
    let new_existed = args.new_key_file.exists();
    let new = MasterKey::load_or_create(&args.new_key_file)
        .with_context(|| format!("new master key file {}", args.new_key_file.display()))?;
    if !new_existed {
        println!("Created the new master key file {} (mode 0600).", args.new_key_file.display());
    }
    let (old_version, new_version) = (old.version(), new.version());
    if old_version == new_version {
        bail!("the new master key is the same as the old one: give --new-key-file a file with another key (or a path that does not exist yet)");
    }

    // Both keys open the database during the rotation: rows not yet re-sealed stay readable, and a
    // rotation interrupted after its last batch (canary already under the new key) can be re-run.
    let ring = || Keyring::with_older(new.clone(), [old.clone()]);
    let store = store::connect(&args.database, ring()).await.map_err(|error| match error {
        StoreError::WrongMasterKey(_) => anyhow::anyhow!(
            "{error}; neither the old nor the new key opens this database: --old-key-file (or JUNCTION_MASTER_KEY) must be the key `junction serve` runs with"
        ),
        other => anyhow::Error::new(other).context("cannot open the database"),
    })?;
    if store.is_empty().await? {
        bail!("the database holds no organization: is --database the one `junction serve` uses?");
    }
    let resealed = store
        .rotate_master_key(ring())
        .await
        .context("the rotation stopped; run the same command again to finish it")?;
    println!("Re-sealed {resealed} instance(s) (instance tokens, vendor secrets, OAuth tokens) and the keyring canary");
    println!("under master key version {new_version} (was {old_version}). User and organization secrets are stored");
    println!("as hashes and are unaffected. The database now opens with the new key only:");
    println!(
        "  start every node with --master-key-file {} (or its content in JUNCTION_MASTER_KEY),",
        args.new_key_file.display()
    );
    println!("  then run this command again to re-seal anything a node still on the old key wrote meanwhile.");
    tracing::info!(resealed, old_version, new_version, "master key rotated");
    Ok(())
}

/// The current key: `--old-key-file` (must exist: a missing old key is never generated), else
/// `JUNCTION_MASTER_KEY`, else the key file beside the SQLite database.
fn old_key(args: &RotateKeyArgs) -> anyhow::Result<MasterKey> {
    if let Some(path) = &args.old_key_file {
        return read_key(path);
    }
    if let Ok(encoded) = std::env::var("JUNCTION_MASTER_KEY") {
        return MasterKey::from_base64(encoded.trim()).context("JUNCTION_MASTER_KEY must be the base64 of 32 bytes");
    }
    match store::key_file_beside(&args.database) {
        Some(path) if path.exists() => read_key(&path),
        _ => bail!("the current master key is required: --old-key-file PATH or JUNCTION_MASTER_KEY"),
    }
}

fn read_key(path: &Path) -> anyhow::Result<MasterKey> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the old master key file {}", path.display()))?;
    MasterKey::from_base64(&text).with_context(|| format!("old master key file {}", path.display()))
}

/// The file of a `sqlite://PATH` URL; `None` for in-memory SQLite and other databases.
fn sqlite_file(url: &str) -> Option<PathBuf> {
    // `key_file_beside` already parses SQLite URLs: the database is its key file minus `.key`.
    let key_file = store::key_file_beside(url)?;
    Some(key_file.with_extension(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sqlite_file_is_found_in_the_url() {
        assert_eq!(
            sqlite_file("sqlite:///var/lib/j/junction.db?mode=rwc"),
            Some(PathBuf::from("/var/lib/j/junction.db"))
        );
        assert_eq!(sqlite_file("sqlite://junction.db"), Some(PathBuf::from("junction.db")));
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("postgres://localhost/j"), None);
    }
}
