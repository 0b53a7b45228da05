//! The example's pages and JSON API over HTTP on 127.0.0.1, against the
//! whole example server (SQLite seeded from demo.toml).

#![allow(clippy::unwrap_used)] // helpers outside #[test] fns unwrap too

mod common;

use common::example;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE, COOKIE, SET_COOKIE};
use salesiq_examples::app::Running;
use salesiq_web::pages::{MAX_ACCOUNT_FAILURES, MAX_SIGN_IN_FAILURES};
use serde_json::{Value, json};

struct Api {
    http: reqwest::Client,
    base: String,
    cookie: Option<String>,
}

impl Api {
    fn new(running: &Running) -> Self {
        Self::from(running, [127, 0, 0, 1])
    }

    /// A client whose connections come from the loopback address `from`.
    fn from(running: &Running, from: [u8; 4]) -> Self {
        Self {
            http: common::http_from(Some(from.into())),
            base: format!("http://{}", running.http),
            cookie: None,
        }
    }

    async fn call(&mut self, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(cookie) = &self.cookie {
            request = request.header(COOKIE, cookie);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        if let Some(set) = response.headers().get(SET_COOKIE) {
            let set = set.to_str().unwrap();
            assert!(
                set.contains("HttpOnly") && set.contains("SameSite=Strict"),
                "{set}"
            );
            self.cookie = set.split(';').next().map(str::to_owned);
        }
        let status = response.status();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn sign_in(&mut self, email: &str, password: &str) -> (StatusCode, Value) {
        self.call(
            "POST",
            "/api/signin",
            Some(json!({"portal": "demo", "email": email, "password": password})),
        )
        .await
    }
}

#[tokio::test]
async fn pages_and_portal() {
    let dir = tempfile::tempdir().unwrap();
    let running = example(dir.path()).await;
    let http = common::http();
    let base = format!("http://{}", running.http);
    for (path, kind, needle) in [
        ("/", "text/html", "Chat with us"),
        ("/settings", "text/html", "Jabber settings"),
        ("/assets/visitor.js", "text/javascript", "/ws/visitor"),
        ("/assets/settings.js", "text/javascript", "/api/username"),
        ("/assets/style.css", "text/css", "[hidden]"),
    ] {
        let response = http.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let headers = response.headers().clone();
        assert!(
            headers[CONTENT_TYPE].to_str().unwrap().starts_with(kind),
            "{path}"
        );
        assert!(headers.contains_key(CONTENT_SECURITY_POLICY), "{path}");
        assert!(response.text().await.unwrap().contains(needle), "{path}");
    }
    let missing = http.get(format!("{base}/nope")).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);

    let mut api = Api::new(&running);
    assert_eq!(
        api.call("GET", "/api/portal", None).await,
        (
            StatusCode::OK,
            json!({"portal": "demo", "departments": ["Sales", "VIPサポート"]})
        )
    );
    let (status, body) = api.call("GET", "/api/portal?portal=nope", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"], "there is no such portal");
    running.stop().await;
}

#[tokio::test]
async fn sign_in_check_and_claim() {
    let dir = tempfile::tempdir().unwrap();
    let running = example(dir.path()).await;
    let mut api = Api::new(&running);

    // Nothing without a session.
    for (method, path, body) in [
        ("GET", "/api/settings", None),
        ("GET", "/api/username?name=carol.ops", None),
        (
            "POST",
            "/api/username",
            Some(json!({"username": "carol.ops"})),
        ),
    ] {
        let (status, body) = api.call(method, path, body).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(body["error"], "please sign in");
    }
    // Malformed sign-ins are refused, not crashed on.
    let (status, _) = api
        .call("POST", "/api/signin", Some(json!({"email": 3})))
        .await;
    assert!(status.is_client_error(), "{status}");
    let (status, body) = api.sign_in("carol@demo.example", "wrong").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "the e-mail address or the password is wrong");
    assert!(api.cookie.is_none());

    // Alice has a username: her settings are complete; she cannot claim another.
    let (status, alice) = api.sign_in("ALICE@demo.example", "alice-demo-pw").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(alice["jabber"]["jid"], "demo|alice.ops@salesiq.zoho.com");
    assert_eq!(alice["jabber"]["starttls_port"], running.starttls.port());
    assert_eq!(alice["jabber"]["fingerprint"], running.fingerprint.as_str());
    assert_eq!(alice["jabber"]["clients"].as_array().unwrap().len(), 5);
    let (status, body) = api
        .call(
            "POST",
            "/api/username",
            Some(json!({"username": "alice.two"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"], "this operator already has a username");

    // Carol has none: no Jabber settings until she claims one.
    let (status, carol) = api.sign_in("carol@demo.example", "carol-demo-pw").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(carol["operator"]["username"], Value::Null);
    assert_eq!(carol["jabber"], Value::Null);
    assert!(carol["username_rule"].as_str().unwrap().contains("6 to 30"));
    for (name, available, message) in [
        ("carol.ops", true, "this username is available"),
        ("BOB.OPS", false, "this username is not available"),
        ("ca", false, "too short"),
        ("carol ops!", false, "character"),
    ] {
        let (status, body) = api
            .call(
                "GET",
                &format!("/api/username?name={}", name.replace(' ', "%20")),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["available"], available, "{name}");
        assert!(
            body["message"].as_str().unwrap().contains(message),
            "{name}: {body}"
        );
    }
    let (status, _) = api
        .call("POST", "/api/username", Some(json!({"username": "x"})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = api
        .call(
            "POST",
            "/api/username",
            Some(json!({"username": "Bob.Ops"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"], "this username is not available");
    let (status, carol) = api
        .call(
            "POST",
            "/api/username",
            Some(json!({"username": "Carol_S"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    // Usernames are kept in lower case, as logins compare them.
    assert_eq!(carol["jabber"]["jid"], "demo|carol_s@salesiq.zoho.com");
    let (_, body) = api.call("GET", "/api/username?name=carol_s", None).await;
    assert_eq!(body["available"], false);

    // Signing out ends the session.
    let (status, _) = api.call("POST", "/api/signout", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = api.call("GET", "/api/settings", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    running.stop().await;
}

#[tokio::test]
async fn guessing_passwords_is_throttled() {
    let dir = tempfile::tempdir().unwrap();
    let running = example(dir.path()).await;
    let mut api = Api::new(&running);
    for _ in 0..MAX_SIGN_IN_FAILURES {
        let (status, _) = api.sign_in("alice@demo.example", "guess").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // Now even the right password waits for the window to pass.
    let (status, body) = api.sign_in("alice@demo.example", "alice-demo-pw").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(body["error"].as_str().unwrap().contains("too many"));
    running.stop().await;
}

/// Issue 11, finding 8: forty parallel guesses from one address get five
/// password checks, not thirty-five; another account's right password
/// from the same address (an office behind NAT) still signs in.
#[tokio::test]
async fn parallel_guesses_are_checked_within_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let running = example(dir.path()).await;
    let before = running.accounts.password_checks();
    let mut guesses = tokio::task::JoinSet::new();
    for n in 0..40 {
        let mut api = Api::new(&running);
        guesses.spawn(async move {
            api.sign_in("alice@demo.example", &format!("guess {n}"))
                .await
                .0
        });
    }
    let mut statuses = Vec::new();
    while let Some(status) = guesses.join_next().await {
        statuses.push(status.unwrap());
    }
    let count = |wanted| statuses.iter().filter(|s| **s == wanted).count();
    assert_eq!(
        count(StatusCode::UNAUTHORIZED),
        MAX_SIGN_IN_FAILURES as usize
    );
    assert_eq!(
        count(StatusCode::TOO_MANY_REQUESTS),
        40 - MAX_SIGN_IN_FAILURES as usize
    );
    assert_eq!(
        running.accounts.password_checks() - before,
        u64::from(MAX_SIGN_IN_FAILURES)
    );
    let (status, _) = Api::new(&running)
        .sign_in("bob@demo.example", "bob-demo-pw")
        .await;
    assert_eq!(status, StatusCode::OK);
    running.stop().await;
}

/// Issue 11, finding 11: guesses at one account spread over many
/// addresses are bounded too (there was no per-account limit).
#[tokio::test]
async fn guesses_from_many_addresses_are_bounded_per_account() {
    let dir = tempfile::tempdir().unwrap();
    let running = example(dir.path()).await;
    for n in 0..MAX_ACCOUNT_FAILURES {
        let from = [127, 0, 1, u8::try_from(n).unwrap() + 1];
        let (status, _) = Api::from(&running, from)
            .sign_in("alice@demo.example", "guess")
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let before = running.accounts.password_checks();
    let (status, _) = Api::from(&running, [127, 0, 2, 1])
        .sign_in("alice@demo.example", "alice-demo-pw")
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(running.accounts.password_checks(), before);
    // Other accounts are not touched.
    let (status, _) = Api::from(&running, [127, 0, 2, 1])
        .sign_in("bob@demo.example", "bob-demo-pw")
        .await;
    assert_eq!(status, StatusCode::OK);
    running.stop().await;
}
