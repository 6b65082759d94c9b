//! Test databases for the conformance suite: a fresh SQLite file or a fresh PostgreSQL database per
//! test, removed afterwards, and raw SQL access to check what is really stored.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use sqlx::Connection;
use store::{crypto, Keyring, Store};

/// Where the PostgreSQL test server is; each test creates its own database through it.
fn postgres_admin_url() -> String {
    std::env::var("JUNCTION_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// One test's private database.
pub struct TestDb {
    pub backend: Backend,
    /// The URL `store::connect` takes.
    pub url: String,
    /// SQLite: the directory holding the file. PostgreSQL: unused.
    dir: Option<PathBuf>,
    /// PostgreSQL: the database name, for dropping it.
    pg_name: Option<String>,
}

impl TestDb {
    async fn create(backend: Backend) -> Self {
        let unique = crypto::generate_secret().replace(['-', '_'], "").to_lowercase();
        match backend {
            Backend::Sqlite => {
                let dir = std::env::temp_dir().join(format!("junction-store-{}", &unique[..16]));
                std::fs::create_dir_all(&dir).unwrap();
                let url = format!("sqlite://{}", dir.join("junction.db").display());
                Self { backend, url, dir: Some(dir), pg_name: None }
            }
            Backend::Postgres => {
                let name = format!("junction_test_{}", &unique[..16]);
                let mut admin =
                    sqlx::PgConnection::connect(&postgres_admin_url()).await.expect("PostgreSQL test server");
                sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await.unwrap();
                admin.close().await.unwrap();
                let base = postgres_admin_url();
                let server = base.rsplit_once('/').map(|(server, _)| server).unwrap();
                Self { backend, url: format!("{server}/{name}"), dir: None, pg_name: Some(name) }
            }
        }
    }

    async fn drop_database(&self) {
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
        if let Some(name) = &self.pg_name {
            let mut admin = sqlx::PgConnection::connect(&postgres_admin_url()).await.unwrap();
            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut admin).await.unwrap();
        }
    }

    /// A store on this database.
    pub async fn connect(&self, keyring: Keyring) -> Arc<dyn Store> {
        store::connect(&self.url, keyring).await.expect("connect")
    }

    /// Every value of a one-column text query, read with a raw connection (not through the store).
    pub async fn raw_texts(&self, sql: &str) -> Vec<String> {
        match self.backend {
            Backend::Sqlite => {
                let mut conn = sqlx::SqliteConnection::connect(&self.url).await.unwrap();
                sqlx::query_scalar(sql).fetch_all(&mut conn).await.unwrap()
            }
            Backend::Postgres => {
                let mut conn = sqlx::PgConnection::connect(&self.url).await.unwrap();
                sqlx::query_scalar(sql).fetch_all(&mut conn).await.unwrap()
            }
        }
    }

    /// Runs a raw statement (to tamper with stored rows).
    pub async fn raw_execute(&self, sql: &str) {
        match self.backend {
            Backend::Sqlite => {
                let mut conn = sqlx::SqliteConnection::connect(&self.url).await.unwrap();
                sqlx::query(sql).execute(&mut conn).await.unwrap();
            }
            Backend::Postgres => {
                let mut conn = sqlx::PgConnection::connect(&self.url).await.unwrap();
                sqlx::query(sql).execute(&mut conn).await.unwrap();
            }
        }
    }
}

/// Runs `case` on a fresh database of `backend`, then drops the database, even when the case
/// panics (the panic is re-raised afterwards).
pub async fn run<F, Fut>(backend: Backend, case: F)
where
    F: FnOnce(Arc<TestDb>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let db = Arc::new(TestDb::create(backend).await);
    let outcome = tokio::spawn(case(Arc::clone(&db))).await;
    db.drop_database().await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}
