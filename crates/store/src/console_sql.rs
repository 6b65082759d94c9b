//! The SQL of [`crate::ConsoleStore`]: web console sessions and the pending authorizations the
//! console starts, both found by keyed hashes; a pending authorization's request is sealed and
//! taken in one statement (single use across nodes).

/// Expanded by `implement_store!` into the implementation's module, whose imports, `Db` and `Tx`
/// types, and row readers it uses.
macro_rules! implement_console_store {
    ($store:ident) => {
        #[async_trait]
        impl ConsoleStore for $store {
            async fn create_console_session(&self, user_id: UserId, expires_at: DateTime<Utc>) -> Result<Secret> {
                let session = Secret::new(crypto::generate_secret());
                let created_at = now();
                let mut tx = self.begin_write().await?;
                sqlx::query("DELETE FROM console_sessions WHERE expires_at < $1")
                    .bind(created_at)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "INSERT INTO console_sessions (session_lookup, user_id, created_at, expires_at) \
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(self.keys.get().lookup(CONSOLE_SESSION_PURPOSE, &session))
                .bind(user_id.get())
                .bind(created_at)
                .bind(micros(expires_at))
                .execute(&mut *tx)
                .await
                .map_err(on_insert("console session"))?;
                tx.commit().await?;
                Ok(session)
            }

            async fn find_console_session(
                &self,
                session: &Secret,
                now: DateTime<Utc>,
            ) -> Result<Option<(User, Organization)>> {
                let row = sqlx::query(
                    "SELECT u.id, u.organization_id, u.email, u.is_admin, u.created_at, \
                     o.name AS org_name, o.created_at AS org_created_at \
                     FROM console_sessions s JOIN users u ON u.id = s.user_id \
                     JOIN organizations o ON o.id = u.organization_id \
                     WHERE s.session_lookup = $1 AND s.expires_at > $2",
                )
                .bind(self.keys.get().lookup(CONSOLE_SESSION_PURPOSE, session))
                .bind(micros(now))
                .fetch_optional(&self.pool)
                .await?;
                row.as_ref().map(user_and_organization).transpose()
            }

            async fn delete_console_session(&self, session: &Secret) -> Result<()> {
                sqlx::query("DELETE FROM console_sessions WHERE session_lookup = $1")
                    .bind(self.keys.get().lookup(CONSOLE_SESSION_PURPOSE, session))
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn save_pending_authorization(
                &self,
                state: &Secret,
                session: &Secret,
                pending: &PendingAuthorization,
            ) -> Result<()> {
                let keys = self.keys.get();
                let state_lookup = keys.lookup(OAUTH_STATE_PURPOSE, state);
                let aad = pending_authorization_aad(&state_lookup, pending.organization_id, pending.user_id);
                let sealed = keys.ring.seal(pending.request.expose().as_bytes(), &aad);
                let created_at = now();
                let mut tx = self.begin_write().await?;
                sqlx::query("DELETE FROM pending_authorizations WHERE expires_at < $1")
                    .bind(created_at)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "INSERT INTO pending_authorizations (state_lookup, session_lookup, organization_id, user_id, \
                     request_sealed, key_version, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(&state_lookup)
                .bind(keys.lookup(CONSOLE_SESSION_PURPOSE, session))
                .bind(pending.organization_id.get())
                .bind(pending.user_id.get())
                .bind(sealed.encode_payload())
                .bind(sealed.key_version)
                .bind(created_at)
                .bind(micros(pending.expires_at))
                .execute(&mut *tx)
                .await
                .map_err(on_insert("pending authorization"))?;
                tx.commit().await?;
                Ok(())
            }

            async fn take_pending_authorization(
                &self,
                state: &Secret,
                session: &Secret,
                now: DateTime<Utc>,
            ) -> Result<PendingTake> {
                let keys = self.keys.get();
                let state_lookup = keys.lookup(OAUTH_STATE_PURPOSE, state);
                // One statement removes and reads: of concurrent takes, the others find no row
                // (PostgreSQL: they wait on the row lock, then see it gone). `fetch_all`, so the
                // statement runs to completion before the commit.
                let mut tx = self.begin_write().await?;
                let rows = sqlx::query(
                    "DELETE FROM pending_authorizations WHERE state_lookup = $1 \
                     RETURNING session_lookup, organization_id, user_id, request_sealed, key_version, expires_at",
                )
                .bind(&state_lookup)
                .fetch_all(&mut *tx)
                .await?;
                tx.commit().await?;
                let Some(row) = rows.first() else { return Ok(PendingTake::Unknown) };
                let stored_session: String = row.try_get("session_lookup")?;
                if !texts_equal(&stored_session, &keys.lookup(CONSOLE_SESSION_PURPOSE, session)) {
                    return Ok(PendingTake::OtherSession);
                }
                let expires_at: DateTime<Utc> = row.try_get("expires_at")?;
                if expires_at <= micros(now) {
                    return Ok(PendingTake::Expired);
                }
                let organization_id = OrganizationId::new(row.try_get("organization_id")?);
                let user_id = UserId::new(row.try_get("user_id")?);
                let payload: String = row.try_get("request_sealed")?;
                // The row's own key version: it may predate a rotation (see `rotate_master_key`).
                let sealed = Sealed::decode_payload(row.try_get("key_version")?, &payload)?;
                let aad = pending_authorization_aad(&state_lookup, organization_id, user_id);
                let request = String::from_utf8(keys.ring.open(&sealed, &aad)?)
                    .map_err(|_| StoreError::Corrupt("pending authorization request"))?;
                Ok(PendingTake::Found(PendingAuthorization {
                    organization_id,
                    user_id,
                    request: Secret::new(request),
                    expires_at,
                }))
            }
        }
    };
}

pub(crate) use implement_console_store;
