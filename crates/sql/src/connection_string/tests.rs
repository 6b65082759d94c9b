//! The connection-string contract of SPEC.md "The driver" and issue 14 item 4, one behaviour per
//! test, plus a random-input test that no string makes the parser panic.

use super::*;

const SEED: &str = "AuthScheme=OAuth;InitiateOAuth=GETANDREFRESH;OAuthClientId=my-client-id;\
                    OAuthClientSecret=my-client-secret;CallbackURL=http://localhost:33333;";

fn oauth_of(text: &str) -> OAuthSettings {
    match parse(text).unwrap_or_else(|e| panic!("{text}: {e}")).mode {
        Mode::Vendor { auth: VendorAuth::OAuth(settings), .. } => settings,
        other => panic!("not OAuth: {other:?}"),
    }
}

fn error_of(text: &str) -> ConnectionStringError {
    match parse(text) {
        Ok(settings) => panic!("{text} was accepted: {settings:?}"),
        Err(error) => error,
    }
}

fn message_of(text: &str) -> String {
    error_of(text).to_string()
}

const ACCESS: &str = "OAuthAccessToken=tok";

#[test]
fn the_seed_string_is_get_and_refresh_oauth_with_its_client() {
    let settings = parse(SEED).unwrap();
    assert_eq!(settings.timeout, Duration::from_secs(60));
    assert_eq!((settings.page_size, settings.max_rows), (None, None));
    let Mode::Vendor { auth: VendorAuth::OAuth(oauth), vendor_url: None, profile: None } = settings.mode else {
        panic!("{:?}", settings.mode)
    };
    assert_eq!(oauth.initiate, InitiateOAuth::GetAndRefresh);
    assert_eq!(oauth.client_id.as_deref(), Some("my-client-id"));
    assert_eq!(oauth.client_secret.as_ref().map(Secret::expose), Some("my-client-secret"));
    assert_eq!((oauth.access_token, oauth.refresh_token), (None, None));
    assert_eq!(oauth.settings_location, SettingsLocation::Default);
    assert_eq!(oauth.callback_url.as_str(), "http://localhost:33333/");
}

#[test]
fn callback_url_defaults_to_localhost_33333() {
    assert_eq!(oauth_of(ACCESS).callback_url, Url::parse(DEFAULT_CALLBACK_URL).unwrap());
}

#[test]
fn a_quoted_value_may_hold_semicolons_and_equals() {
    let oauth = oauth_of("OAuthAccessToken=\"a;b=c\" ; OAuthClientId='x;y'");
    assert_eq!(oauth.access_token.unwrap().expose(), "a;b=c");
    assert_eq!(oauth.client_id.as_deref(), Some("x;y"));
}

#[test]
fn a_doubled_quote_inside_a_quoted_value_stands_for_one() {
    let oauth = oauth_of(r#"OAuthAccessToken="say ""hi"""; OAuthClientId='it''s'"#);
    assert_eq!(oauth.access_token.unwrap().expose(), r#"say "hi""#);
    assert_eq!(oauth.client_id.as_deref(), Some("it's"));
}

#[test]
fn the_other_quote_is_an_ordinary_character_inside_a_quoted_value() {
    assert_eq!(oauth_of(r#"OAuthAccessToken="it's""#).access_token.unwrap().expose(), "it's");
}

#[test]
fn an_unquoted_value_may_hold_equals_and_keeps_inner_spaces() {
    let settings = parse("VendorURL=http://127.0.0.1:8091/x?a=b;OAuthAccessToken= two words ").unwrap();
    let Mode::Vendor { vendor_url, auth: VendorAuth::OAuth(oauth), .. } = settings.mode else { panic!() };
    assert_eq!(vendor_url.unwrap().as_str(), "http://127.0.0.1:8091/x?a=b");
    assert_eq!(oauth.access_token.unwrap().expose(), "two words");
}

#[test]
fn keys_are_case_insensitive_and_whitespace_is_trimmed() {
    let oauth =
        oauth_of("  authscheme = oauth ;\n INITIATEOAUTH=getandrefresh;oauthclientid = id ;OAUTHCLIENTSECRET=s");
    assert_eq!(oauth.initiate, InitiateOAuth::GetAndRefresh);
    assert_eq!(oauth.client_id.as_deref(), Some("id"));
}

#[test]
fn the_last_repeat_wins() {
    let oauth = oauth_of("OAuthAccessToken=first;OAuthClientId=a;oauthaccesstoken=second;OAuthClientId=b");
    assert_eq!(oauth.access_token.unwrap().expose(), "second");
    assert_eq!(oauth.client_id.as_deref(), Some("b"));
}

#[test]
fn an_empty_repeat_resets_to_the_default() {
    assert_eq!(oauth_of("InitiateOAuth=REFRESH;InitiateOAuth=;OAuthAccessToken=t").initiate, InitiateOAuth::Off);
}

#[test]
fn empty_pairs_and_a_trailing_semicolon_are_ignored() {
    assert!(parse(";; OAuthAccessToken=t ;;  ; ").is_ok());
}

#[test]
fn an_empty_string_is_missing_its_access_token() {
    assert!(message_of("").contains("OAuthAccessToken"));
}

#[test]
fn a_pair_without_equals_is_named_with_its_position() {
    let error = error_of("Timeout=5;justaword;OAuthAccessToken=t");
    assert_eq!(error, ConnectionStringError::MissingEquals { text: "justaword".into(), position: 11 });
    assert!(error.to_string().contains("'justaword' at character 11"), "{error}");
}

#[test]
fn a_pair_without_a_key_is_refused() {
    assert_eq!(error_of("OAuthAccessToken=t; =x"), ConnectionStringError::EmptyKey { position: 21 });
}

#[test]
fn an_unknown_key_is_named_with_the_nearest_known_key() {
    assert_eq!(
        message_of("OAuthClientSecrt=x;OAuthAccessToken=t"),
        "unknown property 'OAuthClientSecrt'; did you mean 'OAuthClientSecret'?"
    );
    assert!(message_of("PageSise=10").contains("did you mean 'Pagesize'?"));
    assert!(message_of("CallbackUri=http://localhost:1").contains("did you mean 'CallbackURL'?"));
}

#[test]
fn an_unknown_key_far_from_any_lists_the_known_ones() {
    let message = message_of("Password=x");
    assert!(message.starts_with("unknown property 'Password'; the known properties are AuthScheme, APIKey"));
    assert!(message.contains("Element"), "{message}");
}

#[test]
fn an_unterminated_quote_gives_its_position() {
    let error = error_of("OAuthAccessToken=t; OAuthClientId = \"abc;def");
    assert_eq!(error, ConnectionStringError::UnterminatedQuote { key: "OAuthClientId".into(), position: 37 });
    assert_eq!(error.to_string(), "the quoted value of OAuthClientId opened at character 37 has no closing quote");
}

#[test]
fn positions_count_characters_not_bytes() {
    assert_eq!(error_of("Profile=é;x"), ConnectionStringError::MissingEquals { text: "x".into(), position: 11 });
}

#[test]
fn text_after_a_closing_quote_is_refused() {
    let error = error_of("OAuthClientId=\"abc\"def;OAuthAccessToken=t");
    assert_eq!(error, ConnectionStringError::TextAfterQuote { key: "OAuthClientId".into(), position: 20 });
}

#[test]
fn bad_choices_name_the_allowed_values() {
    assert_eq!(message_of("AuthScheme=Basic"), "AuthScheme must be one of OAuth, APIKey, not 'Basic'");
    assert_eq!(
        message_of("InitiateOAuth=GETANDREFESH;OAuthClientId=a;OAuthClientSecret=b"),
        "InitiateOAuth must be one of OFF, GETANDREFRESH, REFRESH, not 'GETANDREFESH'"
    );
}

#[test]
fn choices_are_case_insensitive() {
    assert_eq!(
        oauth_of("InitiateOAuth=Refresh;OAuthRefreshToken=r;OAuthClientId=a;OAuthClientSecret=b").initiate,
        InitiateOAuth::Refresh
    );
    assert!(parse("AuthScheme=apikey;APIKey=k").is_ok());
}

#[test]
fn bad_numbers_say_what_is_expected() {
    for (text, property) in [
        ("Timeout=0", "Timeout"),
        ("Timeout=abc", "Timeout"),
        ("Timeout=-5", "Timeout"),
        ("Timeout=1.5", "Timeout"),
        ("Timeout=99999999999", "Timeout"),
        ("Pagesize=0", "Pagesize"),
        ("Pagesize=1001", "Pagesize"),
        ("MaxRows=-1", "MaxRows"),
        ("MaxRows=lots", "MaxRows"),
    ] {
        let error = error_of(&format!("{ACCESS};{text}"));
        assert!(
            matches!(&error, ConnectionStringError::InvalidNumber { property: p, .. } if *p == property),
            "{text}: {error}"
        );
    }
    assert_eq!(message_of("Pagesize=0;OAuthAccessToken=t"), "Pagesize must be a whole number from 1 to 1000, not '0'");
}

#[test]
fn numbers_are_read_and_max_rows_zero_means_no_limit() {
    let settings = parse("Timeout=5;Pagesize=1000;MaxRows=250;OAuthAccessToken=t").unwrap();
    assert_eq!(
        (settings.timeout, settings.page_size, settings.max_rows),
        (Duration::from_secs(5), Some(1000), Some(250))
    );
    assert_eq!(parse("MaxRows=0;OAuthAccessToken=t").unwrap().max_rows, None);
}

#[test]
fn the_api_key_scheme_reads_its_key() {
    let settings = parse("AuthScheme=APIKey;APIKey=KeapAK-abc;VendorURL=http://127.0.0.1:8091").unwrap();
    let Mode::Vendor { auth: VendorAuth::ApiKey(key), vendor_url, .. } = settings.mode else { panic!() };
    assert_eq!(key.expose(), "KeapAK-abc");
    assert_eq!(vendor_url.unwrap().as_str(), "http://127.0.0.1:8091/");
}

#[test]
fn the_api_key_scheme_needs_its_key() {
    assert_eq!(
        message_of("AuthScheme=APIKey"),
        "AuthScheme=APIKey needs APIKey (a Keap personal access token or service account key)"
    );
}

#[test]
fn oauth_properties_are_refused_with_the_api_key_scheme() {
    let message = message_of("AuthScheme=APIKey;APIKey=k;OAuthClientId=a;CallbackURL=http://localhost:1");
    assert!(message.starts_with("OAuthClientId and CallbackURL cannot be used with AuthScheme=APIKey"), "{message}");
}

#[test]
fn an_api_key_without_its_scheme_says_to_add_it() {
    assert!(message_of("APIKey=k").contains("add AuthScheme=APIKey"));
}

#[test]
fn off_needs_an_access_token() {
    let message = message_of("InitiateOAuth=OFF;OAuthClientId=a;OAuthClientSecret=b");
    assert!(message.starts_with("InitiateOAuth=OFF (the default) needs OAuthAccessToken"), "{message}");
    assert_eq!(oauth_of("OAuthAccessToken=t").initiate, InitiateOAuth::Off);
}

#[test]
fn get_and_refresh_needs_the_client_id_and_secret() {
    assert_eq!(
        message_of("InitiateOAuth=GETANDREFRESH"),
        "InitiateOAuth=GETANDREFRESH needs OAuthClientId and OAuthClientSecret"
    );
    assert_eq!(
        message_of("InitiateOAuth=GETANDREFRESH;OAuthClientId=a"),
        "InitiateOAuth=GETANDREFRESH needs OAuthClientSecret"
    );
}

#[test]
fn refresh_needs_a_refresh_token_or_a_settings_location_and_the_client() {
    let client = "OAuthClientId=a;OAuthClientSecret=b";
    assert!(message_of(&format!("InitiateOAuth=REFRESH;{client}"))
        .starts_with("InitiateOAuth=REFRESH needs OAuthRefreshToken"));
    assert_eq!(
        message_of("InitiateOAuth=REFRESH;OAuthRefreshToken=r;OAuthClientId=a"),
        "InitiateOAuth=REFRESH needs OAuthClientSecret"
    );
    let from_token = oauth_of(&format!("InitiateOAuth=REFRESH;OAuthRefreshToken=r;{client}"));
    assert_eq!(from_token.refresh_token.unwrap().expose(), "r");
    let from_file = oauth_of(&format!("InitiateOAuth=REFRESH;OAuthSettingsLocation=/tmp/t.json;{client}"));
    assert_eq!(from_file.settings_location, SettingsLocation::File("/tmp/t.json".into()));
}

#[test]
fn settings_locations_are_files_or_named_memory() {
    let location = |text: &str| oauth_of(&format!("{ACCESS};OAuthSettingsLocation={text}")).settings_location;
    assert_eq!(location("memory://main"), SettingsLocation::Memory("main".into()));
    assert_eq!(location("MEMORY://x"), SettingsLocation::Memory("x".into()));
    assert_eq!(location("'C:\\tokens\\keap.json'"), SettingsLocation::File("C:\\tokens\\keap.json".into()));
    assert_eq!(
        error_of(&format!("{ACCESS};OAuthSettingsLocation=memory://")),
        ConnectionStringError::UnnamedMemoryLocation
    );
}

#[test]
fn the_callback_url_must_be_plain_http_on_this_machine() {
    for good in ["http://127.0.0.1:9000/cb", "http://[::1]:9000", "http://LOCALHOST:1/x?y=z"] {
        assert!(parse(&format!("{ACCESS};CallbackURL={good}")).is_ok(), "{good}");
    }
    for (bad, says) in [
        ("localhost:33333", "http://"),
        ("not a url", "absolute URL"),
        ("https://localhost:33333", "plain http"),
        ("http://example.com:33333", "this machine"),
        ("http://10.0.0.1:33333", "this machine"),
        ("ftp://localhost:21", "http://"),
        ("http://localhost:1/#x", "fragment"),
    ] {
        let message = message_of(&format!("{ACCESS};CallbackURL={bad}"));
        assert!(message.starts_with("CallbackURL ") && message.contains(says), "{bad}: {message}");
    }
}

#[test]
fn urls_with_credentials_are_refused_without_quoting_them() {
    let message = message_of(&format!("{ACCESS};VendorURL=http://me:hunter2@127.0.0.1:8091"));
    assert_eq!(message, "VendorURL must not hold a user name or password");
}

#[test]
fn a_keap_or_infusionsoft_profile_names_the_crm_element() {
    for path in ["C:\\profiles\\Infusionsoft.apip", "/opt/cdata/keap.apip", "Keap.apip"] {
        let settings = parse(&format!("Profile={path};{ACCESS}")).unwrap();
        let Mode::Vendor { profile: Some(profile), .. } = settings.mode else { panic!("{path}") };
        assert_eq!((profile.path, profile.element), (PathBuf::from(path), "infusionsoftcrm"));
    }
    for other in ["/opt/cdata/Salesforce.apip", "/opt/cdata/MyKeap.apip", "/opt/Keap.apip/other"] {
        let error = error_of(&format!("Profile={other};{ACCESS}"));
        assert!(matches!(error, ConnectionStringError::UnknownProfile { .. }), "{other}: {error}");
    }
}

#[test]
fn instance_mode_reads_url_user_and_element() {
    let settings = parse("Url=http://junction:8080;User=user-secret;Element=instance-token;Pagesize=50").unwrap();
    assert_eq!(settings.page_size, Some(50));
    let Mode::Instance { url, user, element } = settings.mode else { panic!() };
    assert_eq!(url.as_str(), "http://junction:8080/");
    assert_eq!((user.expose(), element.expose()), ("user-secret", "instance-token"));
}

#[test]
fn instance_mode_needs_all_three_properties() {
    assert_eq!(message_of("Url=http://junction:8080"), "instance mode (Url, User, Element) needs User and Element");
    assert_eq!(message_of("User=u;Element=e"), "instance mode (Url, User, Element) needs Url");
    assert!(message_of("Url=junction:8080;User=u;Element=e").starts_with("Url must start with http://"));
}

#[test]
fn instance_mode_refuses_vendor_properties_by_name() {
    let message =
        message_of("Url=http://j:8080;User=u;Element=e;AuthScheme=OAuth;OAuthClientSecret=zzz;VendorURL=http://v");
    assert!(
        message.starts_with("AuthScheme, OAuthClientSecret and VendorURL cannot be used in instance mode"),
        "{message}"
    );
}

#[test]
fn too_long_a_string_or_too_many_pairs_is_refused() {
    let long = format!("OAuthAccessToken={}", "x".repeat(MAX_LENGTH));
    assert!(matches!(error_of(&long), ConnectionStringError::TooLong { .. }));
    let many = "Timeout=5;".repeat(MAX_PAIRS + 1);
    assert_eq!(error_of(&many), ConnectionStringError::TooManyPairs);
    assert!(parse(&format!("{}{ACCESS}", "Timeout=5;".repeat(MAX_PAIRS - 1))).is_ok());
}

#[test]
fn long_user_text_is_cut_short_in_messages() {
    let message = message_of(&format!("{}=1", "Q".repeat(1000)));
    assert!(message.len() < 1000, "{message}");
    assert!(message.contains('…'));
}

const SECRETS: [&str; 6] =
    ["sek-apikey-1", "sek-clientsecret-2", "sek-access-3", "sek-refresh-4", "sek-user-5", "sek-element-6"];

#[test]
fn secrets_never_appear_in_debug_output() {
    let [api_key, secret, access, refresh, user, element] = SECRETS;
    let strings = [
        format!("AuthScheme=APIKey;APIKey={api_key}"),
        format!(
            "InitiateOAuth=REFRESH;OAuthClientId=id;OAuthClientSecret={secret};OAuthAccessToken={access};\
             OAuthRefreshToken={refresh}"
        ),
        format!("Url=http://j:8080;User={user};Element={element}"),
    ];
    for text in strings {
        let debug = format!("{:?}", parse(&text).unwrap());
        assert!(debug.contains("********"), "{debug}");
        for value in SECRETS {
            assert!(!debug.contains(value), "{value} in {debug}");
        }
    }
}

#[test]
fn secrets_never_appear_in_error_messages() {
    let [api_key, secret, access, refresh, user, element] = SECRETS;
    let strings = [
        // Refused combinations around a secret.
        format!("APIKey={api_key}"),
        format!("AuthScheme=APIKey;APIKey={api_key};OAuthClientSecret={secret}"),
        format!("Url=http://j:8080;User={user};OAuthAccessToken={access}"),
        format!("User={user};Element={element}"),
        format!("InitiateOAuth=REFRESH;OAuthRefreshToken={refresh}"),
        // An unquoted `;` inside a secret: the tail looks like a pair without `=` or an unknown key.
        format!("OAuthClientSecret=ab;{secret};InitiateOAuth=GETANDREFRESH"),
        format!("OAuthRefreshToken=ab;{refresh}=x"),
        format!("User=ab;{user}=\"open"),
        format!("Element=ab;{element}=\"x\"y"),
    ];
    for text in strings {
        let message = message_of(&text);
        let debug = format!("{:?}", error_of(&text));
        for value in SECRETS {
            assert!(!message.contains(value) && !debug.contains(value), "{value} in {message} / {debug}");
        }
    }
}

#[test]
fn the_tail_of_an_unquoted_secret_is_reported_as_such() {
    let error = error_of("OAuthAccessToken=ab;cd;Timeout=5");
    assert_eq!(error, ConnectionStringError::TextAfterSecret { property: "OAuthAccessToken", position: 21 });
    assert!(error.to_string().contains("quote it"), "{error}");
    // A quoted secret is whole, so what follows it is reported as usual.
    assert!(matches!(error_of("OAuthAccessToken='ab';cd"), ConnectionStringError::MissingEquals { .. }));
}

/// xorshift64*: a tiny deterministic generator, enough to vary inputs without a dependency.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn random_strings_never_panic() {
    // Biased toward the syntax's own characters and real keys, so that quotes, pairs and the
    // combination checks are all reached, not only the first error.
    const PIECES: [&str; 24] = [
        ";",
        "=",
        "\"",
        "'",
        " ",
        "\n",
        "é",
        "\u{0}",
        "memory://",
        "http://localhost:1",
        "0",
        "1001",
        "APIKey",
        "AuthScheme",
        "InitiateOAuth",
        "GETANDREFRESH",
        "REFRESH",
        "OAuthClientId",
        "OAuthAccessToken",
        "Url",
        "User",
        "Element",
        "Profile",
        "Keap.apip",
    ];
    let mut random = XorShift(0x9E37_79B9_7F4A_7C15);
    for _ in 0..5000 {
        let mut bytes = Vec::new();
        for _ in 0..random.below(40) {
            if random.below(3) == 0 {
                bytes.push(random.next() as u8);
            } else {
                bytes.extend_from_slice(PIECES[random.below(PIECES.len())].as_bytes());
            }
        }
        let text = String::from_utf8_lossy(&bytes);
        if let Err(error) = parse(&text) {
            let _ = error.to_string();
        }
    }
}
