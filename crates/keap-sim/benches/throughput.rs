//! Load generator for the simulator: requests/s of an authenticated REST v2 contact GET and of list
//! pages, measured side by side in one run against a bare axum "hello" server on the same machine
//! (the floor of what an HTTP round trip costs here), so the ratio shows what the simulator itself
//! adds. Run: `cargo bench -p keap-sim --bench throughput` (options: `-- --seconds N --clients N`).

use keap_sim::{Limits, SimConfig};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Options {
    seconds: u64,
    clients: usize,
}

fn options() -> Options {
    let args: Vec<String> = std::env::args().collect();
    let value = |name: &str, default: u64| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    Options { seconds: value("--seconds", 5), clients: value("--clients", 16) as usize }
}

/// Runs `clients` concurrent keep-alive loops against `url` for the given time; returns requests/s.
async fn measure(url: String, bearer: Option<String>, opts: &Options) -> (f64, u64) {
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(opts.seconds);
    let mut tasks = Vec::new();
    for _ in 0..opts.clients {
        let (url, bearer, done, failed) = (url.clone(), bearer.clone(), done.clone(), failed.clone());
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            while Instant::now() < deadline {
                let mut request = client.get(&url);
                if let Some(token) = &bearer {
                    request = request.bearer_auth(token);
                }
                match request.send().await {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    let started = Instant::now();
    for task in tasks {
        let _ = task.await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    (done.load(Ordering::Relaxed) as f64 / elapsed, failed.load(Ordering::Relaxed))
}

async fn hello_server() -> String {
    let app = axum::Router::new().route("/", axum::routing::get(|| async { "hello" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// Gets an access token through the real OAuth flow.
async fn access_token(base: &str) -> String {
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let redirect = "https://bench.example.com/cb";
    let form = [
        ("client_id", "sandbox-client-id"),
        ("redirect_uri", redirect),
        ("response_type", "code"),
        ("username", "demo@example.com"),
        ("password", "demo"),
        ("decision", "allow"),
    ];
    let answer = http.post(format!("{base}/app/oauth/authorize")).form(&form).send().await.unwrap();
    let location = reqwest::Url::parse(answer.headers()["location"].to_str().unwrap()).unwrap();
    let code = location.query_pairs().find(|(k, _)| k == "code").unwrap().1.into_owned();
    let exchange = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", redirect),
        ("client_id", "sandbox-client-id"),
        ("client_secret", "sandbox-client-secret"),
    ];
    let tokens: serde_json::Value =
        http.post(format!("{base}/token")).form(&exchange).send().await.unwrap().json().await.unwrap();
    tokens["access_token"].as_str().unwrap().to_string()
}

fn main() {
    let opts = options();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let config = SimConfig { limits: Limits::none(), tenant_limits: Limits::none(), ..SimConfig::sandbox() };
        let sim = keap_sim::spawn(config, "127.0.0.1:0").await.unwrap();
        let token = access_token(&sim.url()).await;
        let floor_url = hello_server().await;
        println!(
            "simulator throughput: {} clients, {} s per case, {} cores",
            opts.clients,
            opts.seconds,
            std::thread::available_parallelism().map_or(1, |n| n.get())
        );
        let (floor, _) = measure(floor_url, None, &opts).await;
        println!("{:<44} {:>10.0} req/s  (floor)", "bare axum GET / (same process)", floor);
        let cases = [
            ("v2 GET /contacts/{id} (authenticated)", "/crm/rest/v2/contacts/42"),
            ("v2 GET /contacts?page_size=50", "/crm/rest/v2/contacts?page_size=50"),
            ("v2 GET /contacts?filter=email==a* (scan)", "/crm/rest/v2/contacts?filter=email%3D%3Da%2A"),
            ("v1 GET /contacts?limit=50", "/crm/rest/v1/contacts?limit=50"),
        ];
        for (name, path) in cases {
            let (rate, failed) = measure(format!("{}{path}", sim.url()), Some(token.clone()), &opts).await;
            println!("{name:<44} {rate:>10.0} req/s  ratio to floor {:.2}  failed {failed}", rate / floor);
        }
    });
}
