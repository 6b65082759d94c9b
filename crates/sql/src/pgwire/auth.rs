//! Who may connect ([`Gate`]): with no password configured, any user and database name but only
//! from a loopback address; with one, any address that answers PostgreSQL's MD5 password
//! challenge for it (whatever the user name).
//!
//! MD5 rather than SCRAM: pgwire's SCRAM needs its TLS crypto features (aws-lc-rs or ring), too
//! heavy for this crate; MD5 at least never sends the password itself, and a fresh random salt
//! per connection stops a captured answer from being replayed. The comparison is constant-time.
//! Without TLS a listener off loopback should still sit behind a tunnel or a trusted network.

use std::fmt::Debug;
use std::net::IpAddr;

use ::pgwire::api::auth::md5pass::hash_md5_password;
use ::pgwire::api::auth::{
    finish_authentication, protocol_negotiation, save_startup_parameters_to_metadata, DefaultServerParameterProvider,
    StartupHandler,
};
use ::pgwire::api::{ClientInfo, PgWireConnectionState, METADATA_USER};
use ::pgwire::error::{PgWireError, PgWireResult};
use ::pgwire::messages::startup::{Authentication, SecretKey};
use ::pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use async_trait::async_trait;
use futures::sink::{Sink, SinkExt};
use subtle::ConstantTimeEq;

use crate::pgwire::commands::{setting, SERVER_VERSION};
use crate::pgwire::values::fatal_error;
use domain::Secret;

/// One client's authentication: created per connection (it holds that connection's salt).
pub(crate) struct Gate {
    password: Option<std::sync::Arc<Secret>>,
    /// The MD5 salt sent to this client.
    salt: [u8; 4],
    /// This connection's process id, as `BackendKeyData` reports it (cancel requests are not
    /// served, so it only tells connections apart in a client's logs).
    pid: i32,
    parameters: DefaultServerParameterProvider,
}

impl Gate {
    pub(crate) fn new(password: Option<std::sync::Arc<Secret>>, pid: i32) -> Self {
        let mut parameters = DefaultServerParameterProvider::default();
        parameters.server_version = SERVER_VERSION.to_string();
        parameters.date_style = setting("DateStyle").unwrap_or_default();
        parameters.time_zone = setting("TimeZone").unwrap_or_default();
        parameters.is_superuser = false;
        Gate { password, salt: rand::random(), pid, parameters }
    }

    /// Refuses a client off loopback when no password is configured.
    fn check_peer(&self, peer: IpAddr) -> PgWireResult<()> {
        let loopback = match peer {
            IpAddr::V4(address) => address.is_loopback(),
            IpAddr::V6(address) => address.is_loopback() || address.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
        };
        if self.password.is_some() || loopback {
            return Ok(());
        }
        Err(fatal_error(
            "28000",
            format!(
                "no password is configured, so only loopback clients may connect (this one is {peer}); \
                 start the endpoint with --password-file to accept others"
            ),
        ))
    }
}

#[async_trait]
impl StartupHandler for Gate {
    async fn on_startup<C>(&self, client: &mut C, message: PgWireFrontendMessage) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        match message {
            PgWireFrontendMessage::Startup(startup) => {
                protocol_negotiation(client, &startup).await?;
                save_startup_parameters_to_metadata(client, &startup);
                client.set_pid_and_secret_key(self.pid, SecretKey::I32(rand::random()));
                self.check_peer(client.socket_addr().ip())?;
                if self.password.is_none() {
                    return finish_authentication(client, &self.parameters).await;
                }
                client.set_state(PgWireConnectionState::AuthenticationInProgress);
                client
                    .send(PgWireBackendMessage::Authentication(Authentication::MD5Password(self.salt.to_vec())))
                    .await?;
                Ok(())
            }
            PgWireFrontendMessage::PasswordMessageFamily(answer) => {
                let (Some(password), PgWireConnectionState::AuthenticationInProgress) =
                    (&self.password, client.state())
                else {
                    return Err(fatal_error("08P01", "unexpected password message"));
                };
                let user = client.metadata().get(METADATA_USER).cloned().unwrap_or_default();
                let answer = answer.into_password()?.password;
                let expected = hash_md5_password(&user, password.expose(), &self.salt);
                if bool::from(answer.as_bytes().ct_eq(expected.as_bytes())) {
                    finish_authentication(client, &self.parameters).await
                } else {
                    Err(fatal_error("28P01", format!("password authentication failed for user \"{user}\"")))
                }
            }
            _ => Err(fatal_error("08P01", "expected a startup or password message")),
        }
    }
}
