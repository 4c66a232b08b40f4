//! The attack suite (issue 16): each test tries one hole as an attacker would (with one
//! tenant's key, or with none) and asserts it is closed. Webhook tests here run with
//! `REFGROW_WEBHOOK_ALLOW_PRIVATE` off, unlike the rest of the suite.

use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use diesel::prelude::*;
use refgrow_server::config::Redacted;
use refgrow_server::db::schema::{api_keys, clicks, idempotency_keys, programs, webhook_endpoints};
use refgrow_server::secrets::{self, Sealer};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::deliveries;
use crate::helpers::{
    spawn_app, spawn_app_with, spawn_configured, spawn_frozen_with, TestApp, TEST_SECRET_KEY,
};

/// The harness with private webhook targets refused (the default of a real deployment).
async fn guarded_app() -> TestApp {
    spawn_app_with(|c| c.webhook_allow_private = false).await
}

/// A TCP listener on 127.0.0.1 that counts connections (and answers 200 to each request).
async fn counting_receiver() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut sock, _)) = listener.accept().await {
            h.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = sock.read(&mut buf).await;
                let _ = sock
                    .write_all(
                        b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 27\r\n\r\nINTERNAL-SECRET-DATA-123456",
                    )
                    .await;
            });
        }
    });
    (format!("127.0.0.1:{port}"), hits)
}

fn conn(app: &TestApp) -> r2d2::PooledConnection<refgrow_server::db::ConnectionManager> {
    app.state.db.write_conn().unwrap()
}

// ---- 1. SSRF ---------------------------------------------------------------------------

#[tokio::test]
async fn webhook_urls_to_private_addresses_are_refused_at_registration_and_update() {
    let app = guarded_app().await;
    for url in [
        "http://127.0.0.1:9000/hook",
        "http://localhost/hook",
        "http://api.localhost/hook",
        "http://10.0.0.1/",
        "http://172.16.5.4/",
        "http://192.168.1.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.64.0.1/",
        "http://0.0.0.0/",
        "http://224.0.0.1/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[fd00::1]/",
        "http://[fe80::1]/",
        "http://2130706433/",
    ] {
        let r = app
            .post("/v1/webhook-endpoints", json!({ "url": url }))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{url}: {}", r.text);
        assert_eq!((r.code(), r.field()), ("invalid_request", "url"), "{url}");
    }
    // A public name (it does not resolve here: accepted, and checked again at delivery).
    let r = app
        .post(
            "/v1/webhook-endpoints",
            json!({ "url": "https://hooks.example.com/x" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.data()["webhookEndpoint"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = app
        .patch(
            &format!("/v1/webhook-endpoints/{id}"),
            json!({ "url": "http://169.254.169.254/" }),
        )
        .await;
    assert_eq!((r.status, r.field()), (StatusCode::BAD_REQUEST, "url"));
    let r = app.get(&format!("/v1/webhook-endpoints/{id}")).await;
    assert_eq!(
        r.data()["webhookEndpoint"]["url"],
        "https://hooks.example.com/x"
    );
    let r = app.get("/v1/webhook-endpoints").await;
    assert_eq!(r.data()["total"], 1, "nothing else was stored");
}

#[tokio::test]
async fn deliveries_to_private_addresses_are_refused_after_resolution() {
    let app = guarded_app().await;
    let (addr, hits) = counting_receiver().await;
    let r = app
        .post(
            "/v1/webhook-endpoints",
            json!({ "url": "https://hooks.example.com/x" }),
        )
        .await;
    let id = r.data()["webhookEndpoint"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    // The name is re-pointed after registration (DNS rebinding), or the row predates the
    // guard: the stored URL now names a loopback address.
    diesel::update(webhook_endpoints::table.find(&id))
        .set(webhook_endpoints::url.eq(format!("http://{addr}/hook")))
        .execute(&mut *conn(&app))
        .unwrap();
    let r = app
        .post(&format!("/v1/webhook-endpoints/{id}/test"), json!({}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let mut last = Vec::new();
    for _ in 0..100 {
        last = deliveries(&app, &id).await;
        if last[0]["attempts"].as_i64().unwrap_or(0) >= 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let err = last[0]["lastError"].as_str().unwrap_or("");
    assert!(err.contains("refused"), "{:?}", last[0]);
    assert_eq!(hits.load(Ordering::SeqCst), 0, "no connection was made");

    // A name that resolves to loopback is refused by the delivery client's resolver, so the
    // connection goes only to vetted addresses.
    let client = reqwest::Client::builder()
        .dns_resolver(refgrow_server::netguard::resolver(false).unwrap())
        .no_proxy()
        .build()
        .unwrap();
    let port = addr.rsplit(':').next().unwrap();
    let e = client
        .post(format!("http://localhost:{port}/hook"))
        .send()
        .await
        .expect_err("refused");
    let mut text = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        text.push_str(&s.to_string());
        src = s.source();
    }
    assert!(text.contains("refused"), "{text}");
    assert_eq!(hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn failed_deliveries_show_the_status_line_not_the_answer() {
    // A local receiver needs the opt-in; the body it answers must still not be echoed.
    let app = spawn_app().await;
    let (addr, hits) = counting_receiver().await;
    let r = app
        .post(
            "/v1/webhook-endpoints",
            json!({ "url": format!("http://{addr}/hook") }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.data()["webhookEndpoint"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.post(&format!("/v1/webhook-endpoints/{id}/test"), json!({}))
        .await;
    let mut d = Vec::new();
    for _ in 0..100 {
        d = deliveries(&app, &id).await;
        if d[0]["lastError"].is_string() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(hits.load(Ordering::SeqCst) >= 1);
    assert_eq!(
        d[0]["lastError"], "HTTP 500 Internal Server Error",
        "{:?}",
        d[0]
    );
    assert!(!serde_json::to_string(&d)
        .unwrap()
        .contains("INTERNAL-SECRET"));
}

// ---- 2. Secrets ------------------------------------------------------------------------

#[tokio::test]
async fn a_replayed_key_creation_never_hands_out_or_stores_the_secret() {
    let app = spawn_app().await;
    let send = || {
        app.req_with(
            Method::POST,
            "/v1/api-keys",
            Some(json!({"label": "ci"})),
            &app.key,
            &[("Idempotency-Key", "key-once")],
        )
    };
    let first = send().await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    let secret = first.data()["key"].as_str().unwrap().to_string();
    let key_id = first.data()["apiKey"]["id"].as_str().unwrap().to_string();
    let again = send().await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text);
    assert_eq!(again.body["error"]["details"]["apiKeyId"], key_id.as_str());
    assert!(!again.text.contains(&secret) && !again.text.contains("rg_"));
    // Nothing secret in the idempotency table, and one key was made.
    let bodies: Vec<String> = idempotency_keys::table
        .select(idempotency_keys::response_body)
        .load(&mut *conn(&app))
        .unwrap();
    assert_eq!(bodies.len(), 1);
    assert!(bodies
        .iter()
        .all(|b| !b.contains(&secret) && !b.contains("rg_")));
    let r = app.get("/v1/api-keys").await;
    assert_eq!(r.data()["total"], 2);
}

#[tokio::test]
async fn idempotency_records_are_pruned_after_a_day() {
    let app = spawn_app().await;
    let r = app
        .req_with(
            Method::POST,
            "/v1/affiliates",
            Some(json!({"email": "a@x.io", "name": "Ann"})),
            &app.key,
            &[("Idempotency-Key", "aff-1")],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let count = |app: &TestApp| -> i64 {
        idempotency_keys::table
            .count()
            .get_result(&mut *conn(app))
            .unwrap()
    };
    assert_eq!(
        refgrow_server::workers::jobs::prune_idempotency(&app.state)
            .await
            .unwrap(),
        0
    );
    assert_eq!(count(&app), 1, "kept within 24 hours");
    app.state.clock.advance(chrono::Duration::hours(25));
    assert_eq!(
        refgrow_server::workers::jobs::prune_idempotency(&app.state)
            .await
            .unwrap(),
        1
    );
    assert_eq!(count(&app), 0);
}

#[tokio::test]
async fn webhook_and_stripe_secrets_are_encrypted_at_rest() {
    let app = spawn_app().await;
    let r = app
        .post(
            "/v1/webhook-endpoints",
            json!({ "url": "https://hooks.example.com/x" }),
        )
        .await;
    let ep = r.data()["webhookEndpoint"].clone();
    let plain = ep["secret"].as_str().unwrap().to_string();
    let id = ep["id"].as_str().unwrap().to_string();
    let r = app
        .post(
            &format!("/v1/webhook-endpoints/{id}/rotate-secret"),
            json!({}),
        )
        .await;
    let rotated = r.data()["webhookEndpoint"]["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let (stored, previous): (String, Option<String>) = webhook_endpoints::table
        .find(&id)
        .select((
            webhook_endpoints::secret,
            webhook_endpoints::previous_secret,
        ))
        .first(&mut *conn(&app))
        .unwrap();
    let previous = previous.unwrap();
    for v in [&stored, &previous] {
        assert!(v.starts_with(secrets::PREFIX), "{v}");
        assert!(!v.contains(&plain[6..]) && !v.contains(&rotated[6..]));
    }
    let sealer = Sealer::from_base64(TEST_SECRET_KEY).unwrap();
    assert_eq!(sealer.open(&stored).unwrap(), rotated);
    assert_eq!(sealer.open(&previous).unwrap(), plain);

    let r = app
        .patch(
            "/v1/program",
            json!({"stripeWebhookSecret": "whsec_stripetest1234"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.data()["program"]["stripeWebhookSecret"], "whsec_…1234");
    let stored: Option<String> = programs::table
        .find(&app.program_id)
        .select(programs::stripe_webhook_secret)
        .first(&mut *conn(&app))
        .unwrap();
    let stored = stored.unwrap();
    assert!(stored.starts_with(secrets::PREFIX) && !stored.contains("stripetest"));
    let r = app.get("/v1/program").await;
    assert_eq!(r.data()["program"]["stripeWebhookSecret"], "whsec_…1234");
}

#[tokio::test]
async fn clear_rows_are_encrypted_at_start_and_the_rotate_command_reencrypts() {
    let app = spawn_app().await;
    let r = app
        .post(
            "/v1/webhook-endpoints",
            json!({ "url": "https://hooks.example.com/x" }),
        )
        .await;
    let id = r.data()["webhookEndpoint"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Rows written before encryption hold the secret in clear.
    diesel::update(webhook_endpoints::table.find(&id))
        .set(webhook_endpoints::secret.eq("whsec_Y2xlYXItc2VjcmV0LWJlZm9yZS1lbmNyeXB0aW9u"))
        .execute(&mut *conn(&app))
        .unwrap();
    diesel::update(programs::table.find(&app.program_id))
        .set(programs::stripe_webhook_secret.eq(Some("whsec_oldclearvalue")))
        .execute(&mut *conn(&app))
        .unwrap();
    let app = app.restart().await;
    let stored = |app: &TestApp| -> (String, String) {
        let ep: String = webhook_endpoints::table
            .find(&id)
            .select(webhook_endpoints::secret)
            .first(&mut *conn(app))
            .unwrap();
        let st: Option<String> = programs::table
            .find(&app.program_id)
            .select(programs::stripe_webhook_secret)
            .first(&mut *conn(app))
            .unwrap();
        (ep, st.unwrap())
    };
    let (ep, st) = stored(&app);
    let old = Sealer::from_base64(TEST_SECRET_KEY).unwrap();
    assert!(old.sealed_here(&ep) && old.sealed_here(&st), "{ep} {st}");
    assert_eq!(
        old.open(&ep).unwrap(),
        "whsec_Y2xlYXItc2VjcmV0LWJlZm9yZS1lbmNyeXB0aW9u"
    );

    // `refgrow-server secret rotate --new …` (the old key from the settings).
    let new_key = secrets::generate_key();
    let new = Sealer::from_base64(&new_key).unwrap();
    let config = app.state.config.clone();
    let n = refgrow_server::cli::rotate_secret_key(
        &config,
        &mut conn(&app),
        None,
        &Redacted(new_key.clone()),
    )
    .unwrap();
    assert_eq!(n, 2);
    let (ep, st) = stored(&app);
    assert!(new.sealed_here(&ep) && new.sealed_here(&st));
    assert_eq!(new.open(&st).unwrap(), "whsec_oldclearvalue");
    assert!(old.open(&ep).is_err(), "the old key no longer opens it");
    // A rerun changes nothing.
    let n = refgrow_server::cli::rotate_secret_key(
        &config,
        &mut conn(&app),
        Some(&Redacted(TEST_SECRET_KEY.into())),
        &Redacted(new_key),
    )
    .unwrap();
    assert_eq!(n, 0);

    // A server (or a replica) started with another key refuses to start, naming both keys.
    let (url, dir, clock) = app.stop().await;
    let mut config = refgrow_server::config::Config::for_database(&url);
    config.secret_key = Some(Redacted(TEST_SECRET_KEY.into()));
    let e = refgrow_server::app::start(config, clock.clone())
        .err()
        .expect("refused");
    assert!(
        e.to_string().contains(new.key_id()) && e.to_string().contains(old.key_id()),
        "{e}"
    );
    drop(dir);
}

#[tokio::test]
async fn without_a_key_the_first_run_creates_a_private_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("refgrow-secret.key");
    let path = file.display().to_string();
    let (url, db_dir) = crate::helpers::fresh_database();
    let app = spawn_configured(url, db_dir, refgrow_server::clock::Clock::system(), |c| {
        c.secret_key = None;
        c.secret_key_file = Some(path.clone());
    })
    .await;
    let text = std::fs::read_to_string(&file).unwrap();
    let kid = Sealer::from_base64(text.trim())
        .unwrap()
        .key_id()
        .to_string();
    assert_eq!(app.state.secrets.key_id(), kid);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // The next start (or another replica) reads the same key.
    let (url, db_dir, clock) = app.stop().await;
    let app = spawn_configured(url, db_dir, clock, |c| {
        c.secret_key = None;
        c.secret_key_file = Some(path.clone());
    })
    .await;
    assert_eq!(app.state.secrets.key_id(), kid);
    // A key that is not base64 of 32 bytes stops the start with a clear message.
    let (url, _db_dir) = crate::helpers::fresh_database();
    let mut bad = refgrow_server::config::Config::for_database(&url);
    bad.secret_key = Some(Redacted("not-a-key".into()));
    let e = refgrow_server::app::start(bad, refgrow_server::clock::Clock::system())
        .err()
        .expect("refused");
    assert!(e.to_string().contains("base64 of 32 bytes"), "{e}");
    // The default place is beside the SQLite file.
    let c = refgrow_server::config::Config::for_database("sqlite:///var/lib/refgrow/data.db");
    assert_eq!(
        secrets::key_file_path(&c),
        std::path::PathBuf::from("/var/lib/refgrow/refgrow-secret.key")
    );
}

// ---- 3. Public links -------------------------------------------------------------------

#[tokio::test]
async fn a_code_names_one_affiliate_of_one_program() {
    let app = spawn_app().await;
    app.patch("/v1/program", json!({"websiteUrl": "https://a.example"}))
        .await;
    let other = app.other_program_key("Other tenant");
    let r = app
        .post(
            "/v1/affiliates",
            json!({"email": "a@x.io", "name": "Ann", "referralCode": "SHARED1"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let ann = r.data()["affiliate"]["id"].as_str().unwrap().to_string();
    // Another tenant cannot take the same code (nor steal its clicks).
    let r = app
        .req_with(
            Method::POST,
            "/v1/affiliates",
            Some(json!({"email": "m@x.io", "name": "Mallory", "referralCode": "shared1"})),
            &other,
            &[],
        )
        .await;
    assert_eq!(
        (r.status, r.field()),
        (StatusCode::CONFLICT, "referralCode"),
        "{}",
        r.text
    );
    // Generated codes avoid other programs' codes too.
    let r = app
        .req_with(
            Method::POST,
            "/v1/affiliates",
            Some(json!({"email": "s@x.io", "name": "Shared"})),
            &other,
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let shared = r.data()["affiliate"]["id"].as_str().unwrap().to_string();
    let r = app
        .req_with(
            Method::PATCH,
            &format!("/v1/affiliates/{shared}"),
            Some(json!({"referralCode": "SHARED1"})),
            &other,
            &[],
        )
        .await;
    assert_eq!(
        (r.status, r.field()),
        (StatusCode::CONFLICT, "referralCode"),
        "{}",
        r.text
    );
    let res = app.visit("/r/SHARED1").await;
    assert_eq!(res.status(), StatusCode::FOUND);
    assert!(res.headers()["location"]
        .to_str()
        .unwrap()
        .starts_with("https://a.example/"));
    app.state.clicks.flush(&app.state.db).await.unwrap();
    let owners: Vec<String> = clicks::table
        .select(clicks::affiliate_id)
        .load(&mut *conn(&app))
        .unwrap();
    assert_eq!(owners, vec![ann]);
}

#[tokio::test]
async fn the_upgrade_gives_shared_codes_to_their_oldest_affiliate() {
    let app = spawn_app().await;
    let backend = match app.state.db.backend {
        refgrow_server::db::Backend::Sqlite => "sqlite",
        refgrow_server::db::Backend::Postgres => "postgres",
    };
    let dir = format!(
        "{}/../../migrations/{backend}/2026-12-03-000008_security",
        env!("CARGO_MANIFEST_DIR")
    );
    let up = std::fs::read_to_string(format!("{dir}/up.sql")).unwrap();
    // The migration's part about codes (the rest touches other tables).
    let codes_part = &up[up.find("UPDATE affiliates").unwrap()..];
    let other = app.other_program_key("Other tenant");
    // Back to before the migration: codes unique per program only.
    diesel::connection::SimpleConnection::batch_execute(
        &mut *conn(&app),
        "DROP INDEX affiliates_referral_code",
    )
    .unwrap();
    let body = |email: &str| Some(json!({"email": email, "name": "Dupe", "referralCode": "DUPE1"}));
    let first = app
        .req_with(
            Method::POST,
            "/v1/affiliates",
            body("a@x.io"),
            &app.key,
            &[],
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    tokio::time::sleep(Duration::from_millis(5)).await;
    let second = app
        .req_with(Method::POST, "/v1/affiliates", body("b@x.io"), &other, &[])
        .await;
    assert_eq!(second.status, StatusCode::CREATED, "{}", second.text);
    diesel::connection::SimpleConnection::batch_execute(&mut *conn(&app), codes_part).unwrap();
    let codes: Vec<(String, String)> = refgrow_server::db::schema::affiliates::table
        .select((
            refgrow_server::db::schema::affiliates::id,
            refgrow_server::db::schema::affiliates::referral_code,
        ))
        .load(&mut *conn(&app))
        .unwrap();
    let code_of = |id: &Value| {
        codes
            .iter()
            .find(|(i, _)| i == id.as_str().unwrap())
            .unwrap()
            .1
            .clone()
    };
    let b_id = &second.data()["affiliate"]["id"];
    assert_eq!(code_of(&first.data()["affiliate"]["id"]), "DUPE1");
    let renamed = code_of(b_id);
    let tail = b_id.as_str().unwrap();
    assert_eq!(
        renamed,
        format!("DUPE1-{}", tail[tail.len() - 8..].to_ascii_uppercase())
    );
    assert!(refgrow_types::api::normalize_referral_code(&renamed).is_some());
}

#[tokio::test]
async fn unknown_codes_are_indexed_and_rate_limited_like_known_ones() {
    let app = spawn_frozen_with(|c| c.click_rate_limit_per_sec = 1).await;
    app.patch("/v1/program", json!({"websiteUrl": "https://a.example"}))
        .await;
    let aff = app.affiliate("a@x.io", "Ann").await;
    let code = aff["referralCode"].as_str().unwrap();
    // A burst of made-up codes from one address uses up its bucket...
    for i in 0..5 {
        let res = app.visit(&format!("/r/NOPE{i}X")).await;
        assert!(res.status().is_redirection() || res.status() == StatusCode::NOT_FOUND);
    }
    // ... so a real click right after is not recorded either.
    let res = app.visit(&format!("/r/{code}")).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    app.state.clicks.flush(&app.state.db).await.unwrap();
    let n: i64 = clicks::table.count().get_result(&mut *conn(&app)).unwrap();
    assert_eq!(n, 0);
    // A lookup by code alone is served by a unique index.
    let found: i64 = match app.state.db.backend {
        refgrow_server::db::Backend::Sqlite => diesel::dsl::sql::<diesel::sql_types::BigInt>(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' \
             AND name = 'affiliates_referral_code' AND sql LIKE '%UNIQUE%'",
        )
        .get_result(&mut *conn(&app))
        .unwrap(),
        refgrow_server::db::Backend::Postgres => diesel::dsl::sql::<diesel::sql_types::BigInt>(
            "SELECT COUNT(*) FROM pg_indexes WHERE indexname = 'affiliates_referral_code' \
                 AND indexdef LIKE '%UNIQUE%'",
        )
        .get_result(&mut *conn(&app))
        .unwrap(),
    };
    assert_eq!(found, 1);
}

// ---- 4. Trusted proxies ----------------------------------------------------------------

async fn click_ips(app: &TestApp, headers: &[(&str, &str)], code: &str) -> Vec<Option<String>> {
    let mut rb = app.http.get(format!("{}/r/{code}", app.base));
    for (k, v) in headers {
        rb = rb.header(*k, *v);
    }
    assert_eq!(rb.send().await.unwrap().status(), StatusCode::FOUND);
    app.state.clicks.flush(&app.state.db).await.unwrap();
    clicks::table
        .order(clicks::id.asc())
        .select(clicks::ip_address)
        .load(&mut *conn(app))
        .unwrap()
}

#[tokio::test]
async fn forwarding_headers_are_believed_only_from_trusted_proxies() {
    let app = spawn_app().await;
    app.patch("/v1/program", json!({"websiteUrl": "https://a.example"}))
        .await;
    let aff = app.affiliate("a@x.io", "Ann").await;
    let code = aff["referralCode"].as_str().unwrap().to_string();
    // No trusted proxy: a visitor's header is ignored.
    let ips = click_ips(&app, &[("x-forwarded-for", "6.6.6.6")], &code).await;
    assert_eq!(ips, vec![Some("127.0.0.1".to_string())]);

    let app = spawn_frozen_with(|c| {
        c.trusted_proxies = Some("127.0.0.1/32".into());
        c.click_rate_limit_per_sec = 1;
    })
    .await;
    app.patch("/v1/program", json!({"websiteUrl": "https://a.example"}))
        .await;
    let aff = app.affiliate("a@x.io", "Ann").await;
    let code = aff["referralCode"].as_str().unwrap().to_string();
    // The rightmost hop that is not a trusted proxy is the visitor; a forged first entry
    // does not count.
    let ips = click_ips(&app, &[("x-forwarded-for", "6.6.6.6, 198.51.100.7")], &code).await;
    assert_eq!(ips, vec![Some("198.51.100.7".to_string())]);
    let ips = click_ips(&app, &[("forwarded", "for=\"[2001:db8::7]:443\"")], &code).await;
    assert!(ips.contains(&Some("2001:db8::7".to_string())), "{ips:?}");
    // Each visitor behind the proxy has its own bucket (limit 1/s, burst 2).
    for i in 0..3 {
        let ip = format!("203.0.113.{}", 10 + i);
        click_ips(&app, &[("x-forwarded-for", ip.as_str())], &code).await;
    }
    let ips = click_ips(&app, &[("x-forwarded-for", "203.0.113.99")], &code).await;
    assert_eq!(ips.len(), 6, "{ips:?}");
}

// ---- 5. Smaller leaks ------------------------------------------------------------------

#[tokio::test]
async fn bogus_keys_cannot_evict_the_key_cache() {
    let app = spawn_app().await;
    assert_eq!(app.get("/v1/program").await.status, StatusCode::OK);
    assert_eq!(app.state.key_cache.live_len(), 1);
    let r = app
        .req_with(Method::GET, "/v1/program", None, "rg_bogus", &[])
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // Far more unknown hashes than the cache holds.
    for i in 0..25_000 {
        app.state.key_cache.put(format!("bogus{i}"), None);
    }
    assert_eq!(
        app.state.key_cache.live_len(),
        1,
        "the live key stayed cached"
    );
    let hash = refgrow_server::idgen::hash_secret(&app.key);
    assert!(matches!(app.state.key_cache.get(&hash), Some(Some(_))));
}

#[tokio::test]
async fn metrics_can_require_a_token() {
    let app = spawn_app_with(|c| c.metrics_token = Some(Redacted("m3trics-t0ken".into()))).await;
    let get = |auth: Option<&str>| {
        let mut rb = app.http.get(format!("{}/metrics", app.base));
        if let Some(a) = auth {
            rb = rb.header("authorization", a);
        }
        rb.send()
    };
    assert_eq!(get(None).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        get(Some("Bearer wrong")).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    let ok = get(Some("Bearer m3trics-t0ken")).await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    assert!(ok.text().await.unwrap().contains("webhook_outbox_depth"));
}

#[tokio::test]
async fn keys_expire_and_record_their_last_use() {
    let app = spawn_app().await;
    let past = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    let r = app.post("/v1/api-keys", json!({"expiresAt": past})).await;
    assert_eq!(
        (r.status, r.field()),
        (StatusCode::BAD_REQUEST, "expiresAt")
    );
    let soon = (app.state.clock.now() + chrono::Duration::hours(1)).to_rfc3339();
    let r = app
        .post("/v1/api-keys", json!({"label": "temp", "expiresAt": soon}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert!(r.data()["apiKey"]["expiresAt"].is_string());
    let key = r.data()["key"].as_str().unwrap().to_string();
    let id = r.data()["apiKey"]["id"].as_str().unwrap().to_string();
    for _ in 0..5 {
        let r = app
            .req_with(Method::GET, "/v1/program", None, &key, &[])
            .await;
        assert_eq!(r.status, StatusCode::OK);
    }
    // Recorded off the request path, once (not once per request).
    let mut used = None;
    for _ in 0..100 {
        used = api_keys::table
            .find(&id)
            .select(api_keys::last_used_at)
            .first::<Option<i64>>(&mut *conn(&app))
            .unwrap();
        if used.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(used.is_some());
    app.state.clock.advance(chrono::Duration::hours(2));
    // The key cache holds a key for 2 s; its expiry is checked on every request anyway.
    let r = app
        .req_with(Method::GET, "/v1/program", None, &key, &[])
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.code(), "authentication_error");
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("expired"));
}

// ---- Cross-tenant probing --------------------------------------------------------------

/// What program A's resources read as (with A's key).
async fn snapshot(app: &TestApp, reads: &[String], key_id: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for path in reads {
        let r = app.get(path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text);
        out.push(r.body);
    }
    let keys = app.get("/v1/api-keys").await.body["data"]["apiKeys"].clone();
    let key = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == key_id)
        .cloned()
        .unwrap();
    out.push(key);
    out
}

/// Every resource id type of program A, probed with program B's key: each call is a 404,
/// and A's resources read the same afterwards.
#[tokio::test]
async fn another_programs_key_reaches_nothing() {
    let app = spawn_app().await;
    let r = app
        .patch(
            "/v1/program",
            json!({"holdDays": 0, "minPayout": "1.00", "websiteUrl": "https://a.example"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let aff = app.affiliate("a@x.io", "Ann").await;
    let aff_id = aff["id"].as_str().unwrap().to_string();
    let code = aff["referralCode"].as_str().unwrap().to_string();
    let r = app
        .post(
            "/v1/customers",
            json!({"key": "cust-a", "referralCode": code}),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.text);
    let r = app
        .post(
            "/v1/referrals/convert",
            json!({"referralCode": code, "amount": "100.00", "currency": "USD", "orderId": "o-1"}),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.text);
    let conv = r.data()["conversionId"].as_str().unwrap().to_string();
    let comm = r.data()["commissionId"].as_str().unwrap().to_string();
    let r = app.post("/v1/payouts", json!({})).await;
    assert!(r.status.is_success(), "{}", r.text);
    let payout = r.data()["payouts"][0]["id"].as_str().unwrap().to_string();
    let r = app
        .post(
            "/v1/webhook-endpoints",
            json!({"url": "https://hooks.example.com/a"}),
        )
        .await;
    let we = r.data()["webhookEndpoint"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Disabled, so the worker leaves its delivery as it is.
    app.patch(
        &format!("/v1/webhook-endpoints/{we}"),
        json!({"enabled": false}),
    )
    .await;
    let r = app
        .post(&format!("/v1/webhook-endpoints/{we}/test"), json!({}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let del = r.data()["delivery"]["id"].as_str().unwrap().to_string();
    let evt = r.data()["event"]["id"].as_str().unwrap().to_string();
    let r = app
        .post(
            "/v1/affiliates/invitations",
            json!({"emails": ["inv@x.io"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let inv = r.data()["invitations"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = app.post("/v1/api-keys", json!({"label": "a2"})).await;
    let key = r.data()["apiKey"]["id"].as_str().unwrap().to_string();

    let reads = [
        format!("/v1/affiliates/{aff_id}"),
        format!("/v1/affiliates/by-code/{code}"),
        "/v1/customers/cust-a".to_string(),
        format!("/v1/conversions/{conv}"),
        format!("/v1/commissions/{comm}"),
        format!("/v1/payouts/{payout}"),
        format!("/v1/webhook-endpoints/{we}"),
        format!("/v1/webhook-endpoints/{we}/deliveries"),
        format!("/v1/events/{evt}"),
        format!("/v1/affiliates/invitations/{inv}"),
    ];
    let before = snapshot(&app, &reads, &key).await;

    let other = app.other_program_key("Other tenant");
    let probes: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, format!("/v1/affiliates/{aff_id}"), None),
        (
            Method::PATCH,
            format!("/v1/affiliates/{aff_id}"),
            Some(json!({"name": "X"})),
        ),
        (Method::GET, format!("/v1/affiliates/{aff_id}/stats"), None),
        (Method::GET, format!("/v1/affiliates/by-code/{code}"), None),
        (Method::GET, "/v1/customers/cust-a".into(), None),
        (Method::DELETE, "/v1/customers/cust-a".into(), None),
        (Method::GET, format!("/v1/conversions/{conv}"), None),
        (
            Method::POST,
            format!("/v1/conversions/{conv}/refunds"),
            Some(json!({"amount": "10.00"})),
        ),
        (Method::DELETE, "/v1/transactions/o-1".into(), None),
        (Method::GET, format!("/v1/commissions/{comm}"), None),
        (
            Method::PUT,
            format!("/v1/commissions/{comm}/status"),
            Some(json!({"status": "rejected"})),
        ),
        (Method::DELETE, format!("/v1/commissions/{comm}"), None),
        (Method::GET, format!("/v1/payouts/{payout}"), None),
        (
            Method::GET,
            format!("/v1/payouts/{payout}/export.csv"),
            None,
        ),
        (
            Method::POST,
            format!("/v1/payouts/{payout}/paid"),
            Some(json!({})),
        ),
        (Method::GET, format!("/v1/webhook-endpoints/{we}"), None),
        (
            Method::PATCH,
            format!("/v1/webhook-endpoints/{we}"),
            Some(json!({"enabled": true})),
        ),
        (
            Method::POST,
            format!("/v1/webhook-endpoints/{we}/rotate-secret"),
            Some(json!({})),
        ),
        (
            Method::POST,
            format!("/v1/webhook-endpoints/{we}/test"),
            Some(json!({})),
        ),
        (
            Method::GET,
            format!("/v1/webhook-endpoints/{we}/deliveries"),
            None,
        ),
        (
            Method::POST,
            format!("/v1/webhook-endpoints/{we}/deliveries/{del}/retry"),
            Some(json!({})),
        ),
        (Method::DELETE, format!("/v1/webhook-endpoints/{we}"), None),
        (Method::GET, format!("/v1/events/{evt}"), None),
        (
            Method::GET,
            format!("/v1/affiliates/invitations/{inv}"),
            None,
        ),
        (
            Method::DELETE,
            format!("/v1/affiliates/invitations/{inv}"),
            None,
        ),
        (Method::DELETE, format!("/v1/api-keys/{key}"), None),
        (
            Method::POST,
            "/v1/referrals/track".into(),
            Some(json!({"referralCode": code})),
        ),
    ];
    for (method, path, body) in probes {
        let r = app.req_with(method.clone(), &path, body, &other, &[]).await;
        assert_eq!(
            r.status,
            StatusCode::NOT_FOUND,
            "{method} {path}: {}",
            r.text
        );
        assert_eq!(r.code(), "resource_not_found", "{method} {path}");
    }
    // B's lists hold none of A's rows.
    for path in [
        "/v1/affiliates",
        "/v1/conversions",
        "/v1/commissions",
        "/v1/payouts",
        "/v1/webhook-endpoints",
        "/v1/events",
        "/v1/affiliates/invitations",
    ] {
        let r = app.req_with(Method::GET, path, None, &other, &[]).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text);
        for id in [&aff_id, &conv, &comm, &payout, &we, &evt, &inv] {
            assert!(!r.text.contains(id.as_str()), "{path} shows {id}");
        }
    }
    let after = snapshot(&app, &reads, &key).await;
    assert_eq!(before, after, "nothing of program A changed");
}
