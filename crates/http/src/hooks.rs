//! The router's own middleware as plain tower services. A [`Hook`] looks at each request before
//! its route runs and may leave a [`Step`], which runs on the response once the route has
//! answered, and is dropped unrun if the request is cancelled first.
//!
//! `axum::middleware::from_fn` does the same with a boxed future and a boxed clone of the route
//! per request and per layer, about 1,500 instructions each on every call (BENCHMARKS.md "The
//! hot path"); here the route is called directly and its future is wrapped, not boxed.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use axum::extract::Request;
use axum::response::Response;
use pin_project_lite::pin_project;
use tower::{Layer, Service};

/// What a layer does with each request: what it notes before the route runs.
pub trait Hook: Clone {
    type Step: Step;

    /// The step to run on this request's response, if any.
    fn before(&self, request: &Request) -> Option<Self::Step>;
}

/// What a layer does with a response.
pub trait Step {
    fn after(self, response: &mut Response);
}

/// A layer running `H` around every route.
#[derive(Clone)]
pub struct HookLayer<H>(pub H);

impl<S, H: Clone> Layer<S> for HookLayer<H> {
    type Service = Hooked<S, H>;

    fn layer(&self, inner: S) -> Hooked<S, H> {
        Hooked { inner, hook: self.0.clone() }
    }
}

/// A route with a hook around it.
#[derive(Clone)]
pub struct Hooked<S, H> {
    inner: S,
    hook: H,
}

impl<S, H> Service<Request> for Hooked<S, H>
where
    S: Service<Request, Response = Response, Error = Infallible>,
    H: Hook,
{
    type Response = Response;
    type Error = Infallible;
    type Future = AfterResponse<S::Future, H::Step>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let step = self.hook.before(&request);
        AfterResponse::new(self.inner.call(request), step)
    }
}

pin_project! {
    /// A route's answer, with the step to run on it.
    pub struct AfterResponse<F, A> {
        #[pin]
        answer: F,
        step: Option<A>,
    }
}

impl<F, A> AfterResponse<F, A> {
    pub fn new(answer: F, step: Option<A>) -> Self {
        AfterResponse { answer, step }
    }
}

impl<F, A> Future for AfterResponse<F, A>
where
    F: Future<Output = Result<Response, Infallible>>,
    A: Step,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Ok(mut response) = ready!(this.answer.poll(cx));
        if let Some(step) = this.step.take() {
            step.after(&mut response);
        }
        Poll::Ready(Ok(response))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use axum::body::Body;
    use tower::{service_fn, ServiceExt};

    use super::*;

    /// Notes what happened to each request's step.
    #[derive(Clone, Default)]
    struct Journal(Arc<Mutex<Vec<&'static str>>>);

    struct Noted(Journal);

    impl Hook for Journal {
        type Step = Noted;

        fn before(&self, request: &Request) -> Option<Noted> {
            self.0.lock().unwrap().push("before");
            (request.uri().path() != "/skipped").then(|| Noted(self.clone()))
        }
    }

    impl Step for Noted {
        fn after(self, response: &mut Response) {
            response.headers_mut().insert("x-after", "1".parse().unwrap());
            (self.0).0.lock().unwrap().push("after");
        }
    }

    impl Drop for Noted {
        fn drop(&mut self) {
            (self.0).0.lock().unwrap().push("dropped");
        }
    }

    fn request(path: &str) -> Request {
        Request::builder().uri(path).body(Body::empty()).unwrap()
    }

    #[tokio::test]
    async fn the_step_runs_on_the_response_then_is_dropped() {
        let journal = Journal::default();
        let route = service_fn(|_: Request| async { Ok::<_, Infallible>(Response::new(Body::empty())) });
        let Ok(response) = HookLayer(journal.clone()).layer(route).oneshot(request("/x")).await;
        assert_eq!(response.headers()["x-after"], "1");
        assert_eq!(*journal.0.lock().unwrap(), ["before", "after", "dropped"]);
    }

    #[tokio::test]
    async fn without_a_step_the_response_passes_untouched() {
        let journal = Journal::default();
        let route = service_fn(|_: Request| async { Ok::<_, Infallible>(Response::new(Body::empty())) });
        let Ok(response) = HookLayer(journal.clone()).layer(route).oneshot(request("/skipped")).await;
        assert!(response.headers().get("x-after").is_none());
        assert_eq!(*journal.0.lock().unwrap(), ["before"]);
    }

    #[tokio::test]
    async fn a_cancelled_request_drops_its_step_unrun() {
        let journal = Journal::default();
        let route = service_fn(|_: Request| std::future::pending::<Result<Response, Infallible>>());
        let mut hooked = HookLayer(journal.clone()).layer(route);
        let answer = hooked.call(request("/x"));
        drop(answer);
        assert_eq!(*journal.0.lock().unwrap(), ["before", "dropped"]);
    }
}
