//! CData-style connection strings, read into typed [`ConnectionSettings`].
//!
//! Owns the syntax, the list of properties, the type of each value and which combinations make
//! sense; it does not open a connection, run the OAuth flow or read a token file — it only says
//! what was asked for, or which property to fix.
//!
//! Syntax, as such drivers read it: `key=value` pairs separated by `;`; whitespace around keys and
//! values is trimmed; keys are case-insensitive; a value may be quoted with `"` or `'`, and then
//! holds `;` and `=` freely, a doubled quote standing for one; empty pairs (`;;`, a trailing `;`)
//! are skipped; the last repeat of a key wins; an empty value is the same as leaving the key out
//! (so `Key=` resets an earlier repeat to the default). An unquoted value runs to the next `;` and
//! may hold `=` (URLs with queries).
//!
//! Secrets (`APIKey`, `OAuthClientSecret`, the two tokens, `User`, and `Element`, which is an
//! instance token) become [`Secret`]s as soon as they are typed, and no error quotes a value of
//! theirs. A secret holding an unquoted `;` splits into a pair that is not one; the error then
//! names the secret's property instead of quoting the piece that follows it.
//!
//! The input is bounded ([`MAX_LENGTH`] bytes, [`MAX_PAIRS`] pairs) and no input makes [`parse`]
//! panic: it works on a vector of `char`s, so no slice can cut a character in two.

use domain::Secret;
use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;
use url::{Host, Url};

/// The longest connection string accepted, in bytes. Real ones are a few hundred bytes; the bound
/// keeps a pasted file or a hostile caller from costing more than a glance.
pub const MAX_LENGTH: usize = 64 * 1024;

/// The most `key=value` pairs accepted (there are 17 properties; repeats are allowed but bounded).
pub const MAX_PAIRS: usize = 100;

/// Where the driver listens for the sign-in redirect when `CallbackURL` is not given.
pub const DEFAULT_CALLBACK_URL: &str = "http://localhost:33333";

/// How long one vendor call may take when `Timeout` is not given.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// The largest `Pagesize`: the vendor's REST v2 pages hold at most 1,000 records.
pub const MAX_PAGE_SIZE: u32 = 1000;

/// The element key a `Profile` of `Infusionsoft.apip` or `Keap.apip` names.
pub const CRM_ELEMENT: &str = "infusionsoftcrm";

/// The longest piece of user text an error message quotes, in characters.
const MAX_QUOTED: usize = 64;

/// What a connection string asks for, validated.
///
/// Invariant: every combination here was checked by [`parse`]: the mode has all it needs and
/// nothing that belongs to the other mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionSettings {
    /// Straight to the vendor, or through a running Junction.
    pub mode: Mode,
    /// The longest one vendor (or Junction) call may take (`Timeout`, whole seconds, default 60).
    pub timeout: Duration,
    /// Records asked for per page (`Pagesize`, 1..=1000); `None` leaves it to the driver.
    pub page_size: Option<u32>,
    /// The most rows a query returns (`MaxRows`); `None` (absent or 0) means no limit.
    pub max_rows: Option<u64>,
}

/// Where the driver reads from.
// One value per connection, built once: boxing the larger variant would save nothing that
// matters and make every `match` on it clumsier.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// The driver calls the vendor itself with its own credentials.
    Vendor {
        /// How the driver signs in to the vendor.
        auth: VendorAuth,
        /// The vendor's base URL (`VendorURL`, e.g. the simulator's `http://127.0.0.1:8091`);
        /// `None` is the real vendor.
        vendor_url: Option<Url>,
        /// The CData profile named by `Profile`, when one was given.
        profile: Option<Profile>,
    },
    /// `Url` + `User` + `Element`: the driver reads through a running Junction's hub API, and the
    /// vendor's tokens never leave Junction.
    Instance {
        /// Junction's base URL (`Url`).
        url: Url,
        /// The user secret (`User`) of the `Authorization` header.
        user: Secret,
        /// The instance token (`Element`) of the `Authorization` header.
        element: Secret,
    },
}

/// How the driver signs in to the vendor (`AuthScheme`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VendorAuth {
    /// `AuthScheme=APIKey`: a Keap personal access token or service account key (`APIKey`), sent
    /// as `X-Keap-API-Key`.
    ApiKey(Secret),
    /// `AuthScheme=OAuth` (the default).
    OAuth(OAuthSettings),
}

/// The OAuth properties, checked against [`InitiateOAuth`]: `Off` has an access token;
/// `Refresh` has a client id and secret and a refresh token or a settings location to read one
/// from; `GetAndRefresh` has a client id and secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthSettings {
    /// Whether and how the driver obtains and refreshes tokens itself.
    pub initiate: InitiateOAuth,
    /// The OAuth client id (`OAuthClientId`); not a secret, it appears in the authorize URL.
    pub client_id: Option<String>,
    /// `OAuthClientSecret`.
    pub client_secret: Option<Secret>,
    /// `OAuthAccessToken`: used as given, or as the first token before any refresh.
    pub access_token: Option<Secret>,
    /// `OAuthRefreshToken`: where `REFRESH` starts from.
    pub refresh_token: Option<Secret>,
    /// Where the token pair is kept between runs (`OAuthSettingsLocation`).
    pub settings_location: SettingsLocation,
    /// Where the driver listens for the sign-in redirect (`CallbackURL`): plain http on a
    /// loopback host.
    pub callback_url: Url,
}

/// `InitiateOAuth`: how much of the OAuth flow the driver runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InitiateOAuth {
    /// `OFF` (the default): use `OAuthAccessToken` as given; never refresh, never prompt.
    #[default]
    Off,
    /// `GETANDREFRESH`: with no stored token, sign in through the browser; then refresh as needed.
    GetAndRefresh,
    /// `REFRESH`: start from `OAuthRefreshToken` (or the stored one) and refresh; never prompt.
    Refresh,
}

/// `OAuthSettingsLocation`: where the token pair is kept.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SettingsLocation {
    /// Not given: the driver's default file under the user's configuration directory.
    #[default]
    Default,
    /// A token file.
    File(PathBuf),
    /// `memory://NAME`: kept in the process under that name, never written to disk.
    Memory(String),
}

/// A CData profile (`Profile`), accepted for compatibility; its file name says which element it
/// models.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// The path as given.
    pub path: PathBuf,
    /// The element key it names (today always [`CRM_ELEMENT`]).
    pub element: &'static str,
}

/// Why a connection string was refused. Every message names the property (or the position) to
/// fix and never quotes a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectionStringError {
    #[error("the connection string is {length} bytes long; at most {MAX_LENGTH} are accepted")]
    TooLong { length: usize },
    #[error("the connection string has more than {MAX_PAIRS} key=value pairs")]
    TooManyPairs,
    #[error("'{text}' at character {position} is not a key=value pair; write it as Key=value")]
    MissingEquals { text: String, position: usize },
    #[error("the pair at character {position} has no key before its '='")]
    EmptyKey { position: usize },
    #[error(
        "the text after the value of {property}, at character {position}, is not a key=value pair (not shown: it \
         may be part of the secret); if that value holds ';', quote it with \" or '"
    )]
    TextAfterSecret { property: &'static str, position: usize },
    #[error("the quoted value of {key} opened at character {position} has no closing quote")]
    UnterminatedQuote { key: String, position: usize },
    #[error("unexpected text at character {position} after the closing quote of {key}; put ';' after the quote")]
    TextAfterQuote { key: String, position: usize },
    #[error("unknown property '{name}'{}", unknown_hint(*.suggestion))]
    UnknownProperty { name: String, suggestion: Option<&'static str> },
    #[error("{property} must be one of {allowed}, not '{value}'")]
    InvalidChoice { property: &'static str, value: String, allowed: &'static str },
    #[error("{property} must be {expected}, not '{value}'")]
    InvalidNumber { property: &'static str, value: String, expected: &'static str },
    #[error("{property} {reason}")]
    InvalidUrl { property: &'static str, reason: &'static str },
    #[error(
        "Profile '{value}' names no element Junction serves; use a path ending in Infusionsoft.apip or Keap.apip \
         (the CRM element), or leave Profile out"
    )]
    UnknownProfile { value: String },
    #[error("OAuthSettingsLocation memory:// needs a name after it, e.g. memory://main")]
    UnnamedMemoryLocation,
    #[error("{context} needs {needed}{hint}")]
    Missing { needed: String, context: &'static str, hint: &'static str },
    #[error("{properties} cannot be used {context}")]
    NotAllowed { properties: String, context: &'static str },
}

fn unknown_hint(suggestion: Option<&'static str>) -> String {
    match suggestion {
        Some(name) => format!("; did you mean '{name}'?"),
        None => {
            let names: Vec<&str> = Property::ALL.iter().map(|p| p.name()).collect();
            format!("; the known properties are {}", names.join(", "))
        }
    }
}

type Result<T, E = ConnectionStringError> = std::result::Result<T, E>;

/// Reads a connection string. Bounded ([`MAX_LENGTH`], [`MAX_PAIRS`]) and total: any input gives
/// settings or an error, never a panic.
pub fn parse(text: &str) -> Result<ConnectionSettings> {
    if text.len() > MAX_LENGTH {
        return Err(ConnectionStringError::TooLong { length: text.len() });
    }
    build(read_properties(text)?)
}

impl FromStr for ConnectionSettings {
    type Err = ConnectionStringError;

    fn from_str(text: &str) -> Result<Self> {
        parse(text)
    }
}

// ---------------------------------------------------------------------------------------------
// Properties

/// Every property a connection string may set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Property {
    AuthScheme,
    ApiKey,
    InitiateOAuth,
    OAuthClientId,
    OAuthClientSecret,
    OAuthAccessToken,
    OAuthRefreshToken,
    OAuthSettingsLocation,
    CallbackUrl,
    Profile,
    Timeout,
    Pagesize,
    MaxRows,
    VendorUrl,
    Url,
    User,
    Element,
}

/// The properties that select instance mode.
const INSTANCE: [Property; 3] = [Property::Url, Property::User, Property::Element];

/// The properties of the OAuth flow, meaningless with an API key or in instance mode.
const OAUTH_ONLY: [Property; 7] = [
    Property::InitiateOAuth,
    Property::OAuthClientId,
    Property::OAuthClientSecret,
    Property::OAuthAccessToken,
    Property::OAuthRefreshToken,
    Property::OAuthSettingsLocation,
    Property::CallbackUrl,
];

/// The properties about reaching the vendor directly, refused in instance mode.
const VENDOR_ONLY: [Property; 11] = [
    Property::AuthScheme,
    Property::ApiKey,
    Property::InitiateOAuth,
    Property::OAuthClientId,
    Property::OAuthClientSecret,
    Property::OAuthAccessToken,
    Property::OAuthRefreshToken,
    Property::OAuthSettingsLocation,
    Property::CallbackUrl,
    Property::VendorUrl,
    Property::Profile,
];

impl Property {
    const ALL: [Property; 17] = [
        Property::AuthScheme,
        Property::ApiKey,
        Property::InitiateOAuth,
        Property::OAuthClientId,
        Property::OAuthClientSecret,
        Property::OAuthAccessToken,
        Property::OAuthRefreshToken,
        Property::OAuthSettingsLocation,
        Property::CallbackUrl,
        Property::Profile,
        Property::Timeout,
        Property::Pagesize,
        Property::MaxRows,
        Property::VendorUrl,
        Property::Url,
        Property::User,
        Property::Element,
    ];

    /// The name as the documentation spells it (keys match it case-insensitively).
    fn name(self) -> &'static str {
        match self {
            Property::AuthScheme => "AuthScheme",
            Property::ApiKey => "APIKey",
            Property::InitiateOAuth => "InitiateOAuth",
            Property::OAuthClientId => "OAuthClientId",
            Property::OAuthClientSecret => "OAuthClientSecret",
            Property::OAuthAccessToken => "OAuthAccessToken",
            Property::OAuthRefreshToken => "OAuthRefreshToken",
            Property::OAuthSettingsLocation => "OAuthSettingsLocation",
            Property::CallbackUrl => "CallbackURL",
            Property::Profile => "Profile",
            Property::Timeout => "Timeout",
            Property::Pagesize => "Pagesize",
            Property::MaxRows => "MaxRows",
            Property::VendorUrl => "VendorURL",
            Property::Url => "Url",
            Property::User => "User",
            Property::Element => "Element",
        }
    }

    /// Whether the value is a credential, never to be quoted.
    fn is_secret(self) -> bool {
        matches!(
            self,
            Property::ApiKey
                | Property::OAuthClientSecret
                | Property::OAuthAccessToken
                | Property::OAuthRefreshToken
                | Property::User
                | Property::Element
        )
    }

    fn lookup(key: &str) -> Option<Property> {
        Property::ALL.into_iter().find(|p| p.name().eq_ignore_ascii_case(key))
    }

    /// The known property closest to a misspelt key, if one is close enough to be a typo: at
    /// most two edits, or a third of the name's length for long names.
    fn nearest(key: &str) -> Option<Property> {
        if key.chars().count() > MAX_QUOTED {
            return None;
        }
        let key = key.to_ascii_lowercase();
        Property::ALL
            .into_iter()
            .map(|p| (strsim::levenshtein(&key, &p.name().to_ascii_lowercase()), p))
            .filter(|(distance, p)| *distance <= (p.name().len() / 3).max(2))
            .min_by_key(|(distance, _)| *distance)
            .map(|(_, p)| p)
    }
}

/// The values given, by property; the last repeat wins and an empty value counts as absent.
#[derive(Default)]
struct Given {
    values: [Option<String>; Property::ALL.len()],
}

impl Given {
    fn set(&mut self, property: Property, value: String) {
        self.values[property as usize] = Some(value).filter(|v| !v.is_empty());
    }

    fn take(&mut self, property: Property) -> Option<String> {
        self.values[property as usize].take()
    }

    fn has(&self, property: Property) -> bool {
        self.values[property as usize].is_some()
    }

    /// The names of those of `properties` that were given, as a list for a message.
    fn present(&self, properties: &[Property]) -> Option<String> {
        names(properties.iter().copied().filter(|p| self.has(*p)))
    }

    /// The names of those of `properties` that were not given, as a list for a message.
    fn absent(&self, properties: &[Property]) -> Option<String> {
        names(properties.iter().copied().filter(|p| !self.has(*p)))
    }
}

fn names(properties: impl Iterator<Item = Property>) -> Option<String> {
    let names: Vec<&str> = properties.map(Property::name).collect();
    match names.as_slice() {
        [] => None,
        [one] => Some((*one).to_string()),
        [init @ .., last] => Some(format!("{} and {last}", init.join(", "))),
    }
}

/// Reads the pairs and files them by property, refusing unknown keys.
fn read_properties(text: &str) -> Result<Given> {
    let mut pairs = Pairs::new(text);
    let mut given = Given::default();
    // The property just read, when it was a secret with an unquoted value: a `;` inside it would
    // make the rest of the secret look like the next pair, which no error may then quote.
    let mut after_unquoted_secret: Option<Property> = None;
    let mut count = 0;
    while let Some(next) = pairs.next_pair() {
        let pair = match next {
            Ok(pair) => pair,
            Err(error) => return Err(redacted(error, after_unquoted_secret)),
        };
        count += 1;
        if count > MAX_PAIRS {
            return Err(ConnectionStringError::TooManyPairs);
        }
        let Some(property) = Property::lookup(&pair.key) else {
            let error = ConnectionStringError::UnknownProperty {
                name: quoted(&pair.key),
                suggestion: Property::nearest(&pair.key).map(Property::name),
            };
            return Err(redacted((error, pair.position), after_unquoted_secret));
        };
        after_unquoted_secret = (property.is_secret() && !pair.quoted).then_some(property);
        given.set(property, pair.value);
    }
    Ok(given)
}

/// The error, or, when it follows an unquoted secret and would quote text that is not a property
/// name, one that names the secret's property instead of quoting what may be the secret's tail.
fn redacted(
    (error, position): (ConnectionStringError, usize),
    after_unquoted_secret: Option<Property>,
) -> ConnectionStringError {
    let quotes_unknown_text = match &error {
        ConnectionStringError::MissingEquals { text: key, .. }
        | ConnectionStringError::UnterminatedQuote { key, .. }
        | ConnectionStringError::TextAfterQuote { key, .. } => Property::lookup(key).is_none(),
        ConnectionStringError::UnknownProperty { .. } => true,
        _ => false,
    };
    match after_unquoted_secret {
        Some(property) if quotes_unknown_text => {
            ConnectionStringError::TextAfterSecret { property: property.name(), position }
        }
        _ => error,
    }
}

/// User text for a message: at most [`MAX_QUOTED`] characters.
fn quoted(text: &str) -> String {
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(MAX_QUOTED).collect();
    if chars.next().is_some() {
        format!("{head}…")
    } else {
        head
    }
}

// ---------------------------------------------------------------------------------------------
// Syntax: the pairs

/// One `key=value` pair as written.
struct Pair {
    /// The key, trimmed, as written.
    key: String,
    /// The value, trimmed and unquoted.
    value: String,
    /// Whether the value was quoted (then it may hold `;`).
    quoted: bool,
    /// Where the key starts (1-based character).
    position: usize,
}

/// A cursor over the characters of a connection string, yielding its pairs.
struct Pairs {
    chars: Vec<char>,
    at: usize,
}

impl Pairs {
    fn new(text: &str) -> Self {
        Pairs { chars: text.chars().collect(), at: 0 }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn skip_whitespace(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.at += 1;
        }
    }

    /// The next pair, skipping empty ones; each error comes with the position it is about.
    fn next_pair(&mut self) -> Option<Result<Pair, (ConnectionStringError, usize)>> {
        loop {
            self.skip_whitespace();
            match self.peek() {
                None => return None,
                Some(';') => self.at += 1,
                Some(_) => return Some(self.pair()),
            }
        }
    }

    fn pair(&mut self) -> Result<Pair, (ConnectionStringError, usize)> {
        let start = self.at;
        let position = start + 1;
        while self.peek().is_some_and(|c| c != '=' && c != ';') {
            self.at += 1;
        }
        let key = self.text(start, self.at).trim().to_string();
        if self.peek() != Some('=') {
            return Err((ConnectionStringError::MissingEquals { text: quoted(&key), position }, position));
        }
        if key.is_empty() {
            return Err((ConnectionStringError::EmptyKey { position }, position));
        }
        self.at += 1;
        self.skip_whitespace();
        let (value, quoted) = match self.peek() {
            Some(quote @ ('"' | '\'')) => (self.quoted_value(quote, &key)?, true),
            _ => (self.plain_value(), false),
        };
        Ok(Pair { key, value, quoted, position })
    }

    /// A value up to the next `;` or the end, trimmed.
    fn plain_value(&mut self) -> String {
        let start = self.at;
        while self.peek().is_some_and(|c| c != ';') {
            self.at += 1;
        }
        self.text(start, self.at).trim().to_string()
    }

    /// A value in `quote`s, the cursor on the opening one; a doubled quote stands for one. Only
    /// whitespace may follow the closing quote before the next `;`.
    fn quoted_value(&mut self, quote: char, key: &str) -> Result<String, (ConnectionStringError, usize)> {
        let opened = self.at + 1;
        self.at += 1;
        let mut value = String::new();
        loop {
            match self.peek() {
                None => {
                    let error = ConnectionStringError::UnterminatedQuote { key: quoted(key), position: opened };
                    return Err((error, opened));
                }
                Some(c) if c == quote && self.chars.get(self.at + 1) == Some(&quote) => {
                    value.push(quote);
                    self.at += 2;
                }
                Some(c) if c == quote => {
                    self.at += 1;
                    break;
                }
                Some(c) => {
                    value.push(c);
                    self.at += 1;
                }
            }
        }
        self.skip_whitespace();
        match self.peek() {
            None | Some(';') => Ok(value),
            Some(_) => {
                let position = self.at + 1;
                Err((ConnectionStringError::TextAfterQuote { key: quoted(key), position }, position))
            }
        }
    }

    fn text(&self, start: usize, end: usize) -> String {
        self.chars.get(start..end).unwrap_or_default().iter().collect()
    }
}

// ---------------------------------------------------------------------------------------------
// Meaning: typed values and combinations

fn build(mut given: Given) -> Result<ConnectionSettings> {
    let timeout = match given.take(Property::Timeout) {
        None => DEFAULT_TIMEOUT,
        Some(text) => Duration::from_secs(number(
            Property::Timeout,
            &text,
            1..=u64::from(u32::MAX),
            "a whole number of seconds of at least 1",
        )?),
    };
    let page_size = given
        .take(Property::Pagesize)
        .map(|text| number(Property::Pagesize, &text, 1..=u64::from(MAX_PAGE_SIZE), "a whole number from 1 to 1000"))
        .transpose()?
        .map(|n| n as u32);
    let max_rows = given
        .take(Property::MaxRows)
        .map(|text| number(Property::MaxRows, &text, 0..=u64::MAX, "a whole number (0 for no limit)"))
        .transpose()?
        .filter(|n| *n > 0);
    let instance = INSTANCE.iter().any(|p| given.has(*p));
    let mode = if instance { instance_mode(given)? } else { vendor_mode(given)? };
    Ok(ConnectionSettings { mode, timeout, page_size, max_rows })
}

fn instance_mode(mut given: Given) -> Result<Mode> {
    const CONTEXT: &str = "instance mode (Url, User, Element)";
    if let Some(properties) = given.present(&VENDOR_ONLY) {
        return Err(ConnectionStringError::NotAllowed {
            properties,
            context: "in instance mode (Url, User, Element): Junction holds the vendor's credentials; leave them out",
        });
    }
    if let Some(needed) = given.absent(&INSTANCE) {
        return Err(ConnectionStringError::Missing { needed, context: CONTEXT, hint: "" });
    }
    let (Some(url), Some(user), Some(element)) =
        (given.take(Property::Url), given.take(Property::User), given.take(Property::Element))
    else {
        return Err(ConnectionStringError::Missing {
            needed: "Url, User and Element".into(),
            context: CONTEXT,
            hint: "",
        });
    };
    Ok(Mode::Instance { url: http_url(Property::Url, &url)?, user: Secret::new(user), element: Secret::new(element) })
}

fn vendor_mode(mut given: Given) -> Result<Mode> {
    let vendor_url = given.take(Property::VendorUrl).map(|text| http_url(Property::VendorUrl, &text)).transpose()?;
    let profile = given.take(Property::Profile).map(|text| profile(&text)).transpose()?;
    let api_key = match given.take(Property::AuthScheme) {
        None => false,
        Some(text) => choice(Property::AuthScheme, &text, &[("OAuth", false), ("APIKey", true)], "OAuth, APIKey")?,
    };
    let auth = if api_key { api_key_auth(given)? } else { VendorAuth::OAuth(oauth(given)?) };
    Ok(Mode::Vendor { auth, vendor_url, profile })
}

fn api_key_auth(mut given: Given) -> Result<VendorAuth> {
    if let Some(properties) = given.present(&OAUTH_ONLY) {
        return Err(ConnectionStringError::NotAllowed {
            properties,
            context: "with AuthScheme=APIKey: an API key needs no OAuth flow; leave them out",
        });
    }
    let Some(key) = given.take(Property::ApiKey) else {
        return Err(ConnectionStringError::Missing {
            needed: "APIKey".into(),
            context: "AuthScheme=APIKey",
            hint: " (a Keap personal access token or service account key)",
        });
    };
    Ok(VendorAuth::ApiKey(Secret::new(key)))
}

fn oauth(mut given: Given) -> Result<OAuthSettings> {
    if given.has(Property::ApiKey) {
        return Err(ConnectionStringError::NotAllowed {
            properties: "APIKey".into(),
            context: "with AuthScheme=OAuth (the default); add AuthScheme=APIKey to sign in with a Keap API key",
        });
    }
    let initiate = match given.take(Property::InitiateOAuth) {
        None => InitiateOAuth::default(),
        Some(text) => choice(
            Property::InitiateOAuth,
            &text,
            &[
                ("OFF", InitiateOAuth::Off),
                ("GETANDREFRESH", InitiateOAuth::GetAndRefresh),
                ("REFRESH", InitiateOAuth::Refresh),
            ],
            "OFF, GETANDREFRESH, REFRESH",
        )?,
    };
    check_oauth_needs(&given, initiate)?;
    let settings_location = match given.take(Property::OAuthSettingsLocation) {
        None => SettingsLocation::Default,
        Some(text) => settings_location(text)?,
    };
    let callback_url = callback_url(&given.take(Property::CallbackUrl).unwrap_or_else(|| DEFAULT_CALLBACK_URL.into()))?;
    Ok(OAuthSettings {
        initiate,
        client_id: given.take(Property::OAuthClientId),
        client_secret: given.take(Property::OAuthClientSecret).map(Secret::new),
        access_token: given.take(Property::OAuthAccessToken).map(Secret::new),
        refresh_token: given.take(Property::OAuthRefreshToken).map(Secret::new),
        settings_location,
        callback_url,
    })
}

/// What each `InitiateOAuth` mode cannot start without.
fn check_oauth_needs(given: &Given, initiate: InitiateOAuth) -> Result<()> {
    let client = [Property::OAuthClientId, Property::OAuthClientSecret];
    match initiate {
        InitiateOAuth::Off if !given.has(Property::OAuthAccessToken) => Err(ConnectionStringError::Missing {
            needed: "OAuthAccessToken".into(),
            context: "InitiateOAuth=OFF (the default)",
            hint: "; or set InitiateOAuth=GETANDREFRESH with OAuthClientId and OAuthClientSecret to sign in",
        }),
        InitiateOAuth::Off => Ok(()),
        InitiateOAuth::Refresh => {
            if !given.has(Property::OAuthRefreshToken) && !given.has(Property::OAuthSettingsLocation) {
                return Err(ConnectionStringError::Missing {
                    needed: "OAuthRefreshToken".into(),
                    context: "InitiateOAuth=REFRESH",
                    hint: " (or OAuthSettingsLocation naming where a refresh token is stored); REFRESH never prompts",
                });
            }
            match given.absent(&client) {
                Some(needed) => {
                    Err(ConnectionStringError::Missing { needed, context: "InitiateOAuth=REFRESH", hint: "" })
                }
                None => Ok(()),
            }
        }
        InitiateOAuth::GetAndRefresh => match given.absent(&client) {
            Some(needed) => {
                Err(ConnectionStringError::Missing { needed, context: "InitiateOAuth=GETANDREFRESH", hint: "" })
            }
            None => Ok(()),
        },
    }
}

/// One of `options`, matched case-insensitively.
fn choice<T: Copy>(property: Property, text: &str, options: &[(&str, T)], allowed: &'static str) -> Result<T> {
    options
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(text))
        .map(|(_, value)| *value)
        .ok_or_else(|| ConnectionStringError::InvalidChoice { property: property.name(), value: quoted(text), allowed })
}

/// A whole number in `range`.
fn number(property: Property, text: &str, range: std::ops::RangeInclusive<u64>, expected: &'static str) -> Result<u64> {
    text.parse::<u64>().ok().filter(|n| range.contains(n)).ok_or_else(|| ConnectionStringError::InvalidNumber {
        property: property.name(),
        value: quoted(text),
        expected,
    })
}

/// An absolute http(s) URL with a host, no credentials and no fragment. The text is never
/// quoted back: a URL may carry a password.
fn http_url(property: Property, text: &str) -> Result<Url> {
    let invalid = |reason| ConnectionStringError::InvalidUrl { property: property.name(), reason };
    let url = Url::parse(text).map_err(|_| invalid("must be an absolute URL such as http://127.0.0.1:8080"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("must start with http:// or https://"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("must name a host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("must not hold a user name or password"));
    }
    if url.fragment().is_some() {
        return Err(invalid("must not hold a fragment (#...)"));
    }
    Ok(url)
}

/// `CallbackURL`: the driver will listen there itself, so plain http on this machine. (https
/// would need a certificate for localhost that no browser trusts; the vendor's redirect goes from
/// the browser to this machine and never crosses a network.)
fn callback_url(text: &str) -> Result<Url> {
    let invalid = |reason| ConnectionStringError::InvalidUrl { property: Property::CallbackUrl.name(), reason };
    let url = http_url(Property::CallbackUrl, text)?;
    if url.scheme() != "http" {
        return Err(invalid("must use http://: the driver's listener for the sign-in redirect speaks plain http"));
    }
    let loopback = match url.host() {
        Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    };
    if !loopback {
        return Err(invalid(
            "must name this machine (localhost, 127.0.0.1 or [::1]): the driver listens there for the sign-in redirect",
        ));
    }
    Ok(url)
}

/// `OAuthSettingsLocation`: `memory://NAME` (scheme case-insensitive) or a file path.
fn settings_location(text: String) -> Result<SettingsLocation> {
    const MEMORY: &str = "memory://";
    let is_memory = text.get(..MEMORY.len()).is_some_and(|head| head.eq_ignore_ascii_case(MEMORY));
    if !is_memory {
        return Ok(SettingsLocation::File(PathBuf::from(text)));
    }
    let name = text.get(MEMORY.len()..).unwrap_or_default().trim();
    if name.is_empty() {
        return Err(ConnectionStringError::UnnamedMemoryLocation);
    }
    Ok(SettingsLocation::Memory(name.to_string()))
}

/// `Profile`: a path whose file name is `Infusionsoft.apip` or `Keap.apip` (any case, either
/// path separator, since CData users write Windows paths).
fn profile(text: &str) -> Result<Profile> {
    let file_name = text.rsplit(['/', '\\']).next().unwrap_or_default();
    let crm = ["Infusionsoft.apip", "Keap.apip"].iter().any(|name| name.eq_ignore_ascii_case(file_name));
    if !crm {
        return Err(ConnectionStringError::UnknownProfile { value: quoted(text) });
    }
    Ok(Profile { path: PathBuf::from(text), element: CRM_ELEMENT })
}

impl fmt::Display for InitiateOAuth {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            InitiateOAuth::Off => "OFF",
            InitiateOAuth::GetAndRefresh => "GETANDREFRESH",
            InitiateOAuth::Refresh => "REFRESH",
        })
    }
}

#[cfg(test)]
mod tests;
