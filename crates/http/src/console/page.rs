//! The console's page shell and its answers: the layout every page shares (navigation, notices,
//! sign-out), the security headers every page carries, and [`ConsoleError`], which turns any
//! failure into a page that says what happened and what to do next.

use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use maud::{html, Markup, DOCTYPE};

use super::session::Session;
use crate::error::ApiError;
use crate::state::AppState;

/// Which part of the console a page belongs to (highlighted in the navigation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Catalog,
    Instances,
    Formulas,
    CommonResources,
    None,
}

/// A message shown at the top of a page.
#[derive(Debug, Clone)]
pub enum Notice {
    Success(String),
    Error(String),
}

/// A whole page: `title`, the signed-in person (or none, on the sign-in page), and its body.
pub struct Page<'a> {
    pub title: &'a str,
    pub section: Section,
    pub session: Option<&'a Session>,
    pub notice: Option<Notice>,
    pub body: Markup,
}

impl Page<'_> {
    /// The page as a response with `status`.
    pub fn respond(self, state: &AppState, status: StatusCode) -> Response {
        self.render(state, status, None)
    }

    /// The page as a response with `status` that the browser reloads every `seconds` (a
    /// `<meta http-equiv="refresh">`: a page watching background work stays current without a
    /// script, and stops reloading once it renders without it).
    pub fn respond_refreshing(self, state: &AppState, status: StatusCode, seconds: u32) -> Response {
        self.render(state, status, Some(seconds))
    }

    fn render(self, state: &AppState, status: StatusCode, refresh_seconds: Option<u32>) -> Response {
        let markup = html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    @if let Some(seconds) = refresh_seconds { meta http-equiv="refresh" content=(seconds); }
                    title { (self.title) " · Junction" }
                    link rel="stylesheet" href="/assets/console.css";
                    link rel="icon" href="/assets/logo.svg" type="image/svg+xml";
                    script src="/assets/console.js" defer {}
                }
                body {
                    a.skip href="#main" { "Skip to content" }
                    (header(self.section, self.session))
                    main #main tabindex="-1" {
                        @if let Some(notice) = &self.notice { (notice_markup(notice)) }
                        (self.body)
                    }
                    footer { "Junction · self-hosted connectors for Infusionsoft" @if state.platform.sandbox { " · sandbox: the vendor is the built-in simulator" } }
                }
            }
        };
        with_page_headers(status, markup.into_string())
    }
}

fn header(section: Section, session: Option<&Session>) -> Markup {
    let current = |s: Section| if s == section { Some("page") } else { None };
    html! {
        header.top {
            a.brand href="/" { img src="/assets/logo.svg" alt="" width="28" height="28"; span { "Junction" } }
            @if let Some(session) = session {
                nav aria-label="Main" {
                    a href="/" aria-current=[current(Section::Catalog)] { "Catalog" }
                    a href="/instances" aria-current=[current(Section::Instances)] { "Instances" }
                    a href="/formulas" aria-current=[current(Section::Formulas)] { "Formulas" }
                    a href="/common-resources" aria-current=[current(Section::CommonResources)] { "Common resources" }
                    a href="/elements/api-v2/docs" { "Platform API (OpenAPI)" }
                }
                div.who {
                    span { (session.user.email) " · " (session.organization.name) }
                    form method="post" action="/sign-out" {
                        input type="hidden" name="csrf" value=(session.csrf);
                        button.link type="submit" { "Sign out" }
                    }
                }
            }
        }
    }
}

fn notice_markup(notice: &Notice) -> Markup {
    match notice {
        Notice::Success(text) => html! { div.notice.success role="status" { (text) } },
        Notice::Error(text) => html! { div.notice.error role="alert" { (text) } },
    }
}

/// Adds the headers every console page carries: no caching (pages show secrets once and CSRF
/// tokens), no sniffing, no referrer (the OAuth callback's URL carries a code), no framing, and a
/// content security policy that allows only Junction's own scripts, styles and images.
pub fn with_page_headers(status: StatusCode, html: String) -> Response {
    let mut response = (status, Html(html)).into_response();
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    // No `form-action`: browsers apply it to every redirect of a form submission, and the vendor's
    // authorize page may redirect on to a sign-in host of its own.
    let policy = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
                  frame-ancestors 'none'; base-uri 'none'; object-src 'none'";
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(policy));
    // `frame-ancestors 'none'` for browsers too old to read it.
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

/// A console failure, answered as a page: the status, a title, what happened, what to do next.
#[derive(Debug)]
pub struct ConsoleError {
    pub status: StatusCode,
    pub title: &'static str,
    pub message: String,
    pub next_step: Markup,
}

impl ConsoleError {
    pub fn new(status: StatusCode, title: &'static str, message: impl Into<String>) -> Self {
        ConsoleError {
            status,
            title,
            message: message.into(),
            next_step: html! { a href="/" { "Back to the catalog" } },
        }
    }

    /// Replaces the default "back to the catalog" link.
    pub fn next(mut self, next_step: Markup) -> Self {
        self.next_step = next_step;
        self
    }

    /// A 400 for a form or link that cannot be used.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "That request could not be used", message)
    }

    /// A 403 for a form whose CSRF token is missing or wrong.
    pub fn csrf() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "This form has expired",
            "The form did not carry this session's security token (it may be from an older page, or from \
             another site). Nothing was changed.",
        )
        .next(html! { "Go back, reload the page and try again." })
    }

    /// A 404 for an instance that is not the organization's (or does not exist).
    pub fn no_instance() -> Self {
        Self::new(StatusCode::NOT_FOUND, "No such instance", "This organization has no instance with that id.")
            .next(html! { a href="/instances" { "See your instances" } })
    }

    /// The page for this error; the session, when there is one, keeps the navigation.
    pub fn page(self, state: &AppState, session: Option<&Session>) -> Response {
        let body = html! {
            h1 { (self.title) }
            p { (self.message) }
            p { (self.next_step) }
        };
        Page { title: self.title, section: Section::None, session, notice: None, body }.respond(state, self.status)
    }
}

impl From<ApiError> for ConsoleError {
    fn from(error: ApiError) -> Self {
        // The API error's message is safe to show: it never holds a secret.
        ConsoleError::new(error.status(), "That did not work", describe(&error))
    }
}

impl From<store::StoreError> for ConsoleError {
    fn from(error: store::StoreError) -> Self {
        ApiError::from(error).into()
    }
}

impl From<platform::formulas::FormulaError> for ConsoleError {
    fn from(error: platform::formulas::FormulaError) -> Self {
        ApiError::from(error).into()
    }
}

impl From<domain::DomainError> for ConsoleError {
    fn from(error: domain::DomainError) -> Self {
        ApiError::from(error).into()
    }
}

/// A message for an API error, safe to show: its text and the vendor's, when there is one.
pub fn describe(error: &ApiError) -> String {
    match error {
        ApiError::Forbidden { message, provider_message: Some(provider) }
        | ApiError::VendorRejected { message, provider_message: Some(provider) }
        | ApiError::VendorError { message, provider_message: Some(provider) }
        | ApiError::VendorNotFound { message, provider_message: Some(provider) } => {
            format!("{message} (Infusionsoft said: {provider})")
        }
        ApiError::Store(_) => "The database could not be reached; try again in a moment.".into(),
        other => other.to_string(),
    }
}
