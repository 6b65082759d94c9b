//! The SQL of [`crate::IdentityStore`]: organizations and users (created alone or together in one
//! transaction) and the authentication of their secrets by keyed lookup hash, verified against
//! the salted hash.

/// Expanded by `implement_store!` into the implementation's module, whose imports, `Db` and `Tx`
/// types, and row readers it uses.
macro_rules! implement_identity_store {
    ($store:ident) => {
        /// A user row (`id, organization_id, email, is_admin, created_at`).
        fn user_of(row: &<Db as sqlx::Database>::Row) -> Result<User> {
            Ok(User {
                id: UserId::new(row.try_get("id")?),
                organization_id: OrganizationId::new(row.try_get("organization_id")?),
                email: row.try_get("email")?,
                is_admin: row.try_get("is_admin")?,
                created_at: row.try_get("created_at")?,
            })
        }

        impl $store {
            async fn insert_organization(&self, tx: &mut Tx, name: &str, secret: &Secret) -> Result<Organization> {
                let (salt, hash) = crypto::hash_secret(secret.expose());
                let lookup = self.keys.get().lookup(ORGANIZATION_PURPOSE, secret);
                let created_at = now();
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO organizations (name, secret_salt, secret_hash, secret_lookup, created_at) \
                     VALUES ($1, $2, $3, $4, $5) RETURNING id",
                )
                .bind(name)
                .bind(salt)
                .bind(hash)
                .bind(lookup)
                .bind(created_at)
                .fetch_one(&mut **tx)
                .await
                .map_err(on_unique("organization"))?;
                Ok(Organization { id: OrganizationId::new(id), name: name.to_owned(), created_at })
            }

            async fn insert_user(
                &self,
                tx: &mut Tx,
                organization_id: OrganizationId,
                email: &str,
                is_admin: bool,
                secret: &Secret,
            ) -> Result<User> {
                let (salt, hash) = crypto::hash_secret(secret.expose());
                let lookup = self.keys.get().lookup(USER_PURPOSE, secret);
                let created_at = now();
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO users (organization_id, email, is_admin, secret_salt, secret_hash, secret_lookup, \
                     created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                )
                .bind(organization_id.get())
                .bind(email)
                .bind(is_admin)
                .bind(salt)
                .bind(hash)
                .bind(lookup)
                .bind(created_at)
                .fetch_one(&mut **tx)
                .await
                .map_err(on_insert("user"))?;
                Ok(User { id: UserId::new(id), organization_id, email: email.to_owned(), is_admin, created_at })
            }
        }

        #[async_trait]
        impl IdentityStore for $store {
            async fn is_empty(&self) -> Result<bool> {
                let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM organizations").fetch_one(&self.pool).await?;
                Ok(count == 0)
            }

            async fn create_organization(&self, name: &str) -> Result<(Organization, Secret)> {
                let secret = Secret::new(crypto::generate_secret());
                Ok((self.create_organization_with_secret(name, &secret).await?, secret))
            }

            async fn create_organization_with_secret(&self, name: &str, secret: &Secret) -> Result<Organization> {
                let mut tx = self.begin_write().await?;
                let organization = self.insert_organization(&mut tx, name, secret).await?;
                tx.commit().await?;
                Ok(organization)
            }

            async fn create_organization_with_admin(
                &self,
                name: &str,
                org_secret: &Secret,
                email: &str,
                user_secret: &Secret,
            ) -> Result<(Organization, User)> {
                let mut tx = self.begin_write().await?;
                let organization = self.insert_organization(&mut tx, name, org_secret).await?;
                let user = self.insert_user(&mut tx, organization.id, email, true, user_secret).await?;
                tx.commit().await?;
                Ok((organization, user))
            }

            async fn create_user(
                &self,
                organization_id: OrganizationId,
                email: &str,
                is_admin: bool,
            ) -> Result<(User, Secret)> {
                let secret = Secret::new(crypto::generate_secret());
                Ok((self.create_user_with_secret(organization_id, email, is_admin, &secret).await?, secret))
            }

            async fn create_user_with_secret(
                &self,
                organization_id: OrganizationId,
                email: &str,
                is_admin: bool,
                secret: &Secret,
            ) -> Result<User> {
                let mut tx = self.begin_write().await?;
                let user = self.insert_user(&mut tx, organization_id, email, is_admin, secret).await?;
                tx.commit().await?;
                Ok(user)
            }

            async fn authenticate(
                &self,
                user_secret: &Secret,
                org_secret: &Secret,
            ) -> Result<Option<(User, Organization)>> {
                let keys = self.keys.get();
                let row = sqlx::query(
                    "SELECT u.id, u.organization_id, u.email, u.is_admin, u.created_at, u.secret_salt, u.secret_hash, \
                     o.name AS org_name, o.created_at AS org_created_at, \
                     o.secret_salt AS org_salt, o.secret_hash AS org_hash \
                     FROM users u JOIN organizations o ON o.id = u.organization_id \
                     WHERE u.secret_lookup = $1 AND o.secret_lookup = $2",
                )
                .bind(keys.lookup(USER_PURPOSE, user_secret))
                .bind(keys.lookup(ORGANIZATION_PURPOSE, org_secret))
                .fetch_optional(&self.pool)
                .await?;
                let Some(row) = row else { return Ok(None) };
                // Both verifications always run (`&`, not `&&`): the time taken does not tell which failed.
                let (salt, hash): (&str, &str) = (row.try_get("secret_salt")?, row.try_get("secret_hash")?);
                let user_ok = crypto::verify_secret(user_secret.expose(), salt, hash);
                let (salt, hash): (&str, &str) = (row.try_get("org_salt")?, row.try_get("org_hash")?);
                let org_ok = crypto::verify_secret(org_secret.expose(), salt, hash);
                if !(user_ok & org_ok) {
                    return Ok(None);
                }
                user_and_organization(&row).map(Some)
            }

            async fn list_users(&self, organization_id: OrganizationId, limit: u32) -> Result<Vec<User>> {
                let rows = sqlx::query(
                    "SELECT id, organization_id, email, is_admin, created_at FROM users \
                     WHERE organization_id = $1 ORDER BY id LIMIT $2",
                )
                .bind(organization_id.get())
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(user_of).collect()
            }

            async fn get_user(&self, organization_id: OrganizationId, id: UserId) -> Result<User> {
                let row = sqlx::query(
                    "SELECT id, organization_id, email, is_admin, created_at FROM users \
                     WHERE organization_id = $1 AND id = $2",
                )
                .bind(organization_id.get())
                .bind(id.get())
                .fetch_optional(&self.pool)
                .await?
                .ok_or(StoreError::NotFound)?;
                user_of(&row)
            }

            async fn delete_user(&self, organization_id: OrganizationId, id: UserId) -> Result<()> {
                let done = sqlx::query("DELETE FROM users WHERE organization_id = $1 AND id = $2")
                    .bind(organization_id.get())
                    .bind(id.get())
                    .execute(&self.pool)
                    .await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
                Ok(())
            }

            async fn authenticate_user(&self, user_secret: &Secret) -> Result<Option<(User, Organization)>> {
                let keys = self.keys.get();
                let row = sqlx::query(
                    "SELECT u.id, u.organization_id, u.email, u.is_admin, u.created_at, u.secret_salt, u.secret_hash, \
                     o.name AS org_name, o.created_at AS org_created_at \
                     FROM users u JOIN organizations o ON o.id = u.organization_id \
                     WHERE u.secret_lookup = $1",
                )
                .bind(keys.lookup(USER_PURPOSE, user_secret))
                .fetch_optional(&self.pool)
                .await?;
                let Some(row) = row else { return Ok(None) };
                let (salt, hash): (&str, &str) = (row.try_get("secret_salt")?, row.try_get("secret_hash")?);
                if !crypto::verify_secret(user_secret.expose(), salt, hash) {
                    return Ok(None);
                }
                user_and_organization(&row).map(Some)
            }
        }
    };
}

pub(crate) use implement_identity_store;
