//! The affiliate's side in a real browser: headless Chromium (Debian's `chromium` and
//! `chromium-driver`) driven through WebDriver (thirtyfour) against the real server.
//!
//! The dashboard is loaded in an iframe of a page served by a tiny HTTP server of the test
//! from an allowed origin (its numbers, the copy button, the payout form, the parent's
//! `refgrow:ready` / `refgrow:resize` messages, axe-core); the same page from another origin
//! is refused by `frame-ancestors`; an invitation is accepted through the hosted page; a
//! portal sign-in link arrives at a real SMTP server started by the test.
//!
//! SQLite only: on PostgreSQL (`REFGROW_TEST_DATABASE_URL`) they skip, saying so (the API
//! tests of the same features run on both). Without Chromium they skip with a note, except
//! under CI (`CI` set), where they fail: `.ci/run` installs what they need
//! (`scripts/browser-deps`, which also installs axe-core from npm).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use refgrow_server::config::Redacted;
use reqwest::StatusCode;
use serde_json::{json, Value};
use thirtyfour::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::free_port;
use crate::helpers::{invite, spawn_app_with, TestApp};
use crate::smtp_sink::{token_in, SmtpSink};

/// Why the browser tests cannot run here, if they cannot.
fn skip_reason() -> Option<String> {
    if std::env::var("REFGROW_TEST_DATABASE_URL").is_ok_and(|u| u.starts_with("postgres")) {
        return Some("the browser tests run on SQLite only".into());
    }
    let found = |bin: &str| {
        Command::new(bin)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !found("chromium") || !found("chromedriver") || !axe_path().exists() {
        let why = "chromium, chromedriver or axe-core is missing: run scripts/browser-deps";
        assert!(std::env::var("CI").is_err(), "{why}");
        return Some(why.into());
    }
    None
}

fn axe_path() -> PathBuf {
    std::env::var("REFGROW_AXE_JS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../target/browser-deps/node_modules/axe-core/axe.min.js")
        })
}

/// A chromedriver process and a browser session; the process ends when this is dropped.
struct Browser {
    driver: Option<WebDriver>,
    chromedriver: Child,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.chromedriver.kill();
        let _ = self.chromedriver.wait();
    }
}

impl Browser {
    async fn start() -> Browser {
        let port = free_port();
        let chromedriver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let url = format!("http://127.0.0.1:{port}");
        for _ in 0..100 {
            if reqwest::get(format!("{url}/status")).await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().unwrap();
        let mut caps = DesiredCapabilities::chrome();
        caps.set_binary("/usr/bin/chromium").unwrap();
        for arg in [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--window-size=1100,1400",
        ] {
            caps.add_arg(arg).unwrap();
        }
        caps.add_arg(&format!("--user-data-dir={}", profile.path().display()))
            .unwrap();
        let driver = WebDriver::new(&url, caps).await.expect("browser session");
        Browser {
            driver: Some(driver),
            chromedriver,
            _profile: profile,
        }
    }

    fn d(&self) -> &WebDriver {
        self.driver.as_ref().unwrap()
    }

    async fn quit(mut self) {
        if let Some(d) = self.driver.take() {
            let _ = d.quit().await;
        }
    }

    /// Waits (up to 10 s) for the element with this id and answers its text.
    async fn text_of(&self, id: &str) -> String {
        for _ in 0..100 {
            if let Ok(el) = self.d().find(By::Id(id)).await {
                return el.text().await.unwrap();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let src = self.d().source().await.unwrap_or_default();
        panic!("no #{id} in {src}");
    }

    /// Waits (up to 10 s) until the text of #id satisfies `ok`.
    async fn wait_text(&self, id: &str, ok: impl Fn(&str) -> bool) -> String {
        let mut last = String::new();
        for _ in 0..100 {
            if let Ok(el) = self.d().find(By::Id(id)).await {
                last = el.text().await.unwrap_or_default();
                if ok(&last) {
                    return last;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("#{id} stayed {last:?}");
    }

    /// Runs axe-core on the current document: the serious and critical violations.
    async fn axe(&self) -> Vec<String> {
        let src = std::fs::read_to_string(axe_path()).unwrap();
        self.d()
            .execute(format!("{src}\n;return true;"), Vec::<Value>::new())
            .await
            .unwrap();
        let r = self
            .d()
            .execute_async(
                r#"var done = arguments[arguments.length - 1];
                axe.run(document, {resultTypes: ['violations']}).then(function (r) {
                  done(r.violations.filter(function (v) {
                    return v.impact === 'serious' || v.impact === 'critical';
                  }).map(function (v) {
                    return v.id + ': ' + v.help + ' @ ' +
                      v.nodes.map(function (n) { return n.target.join(' '); }).join(', ');
                  }));
                }).catch(function (e) { done(['axe failed: ' + e]); });"#,
                Vec::<Value>::new(),
            )
            .await
            .unwrap();
        serde_json::from_value(r.json().clone()).unwrap()
    }
}

/// A tiny HTTP server that answers every request with a host page framing `frame_src`, and
/// records the messages the frame posts in `window.__msgs`.
async fn host_page(frame_src: &str) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let body = format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Host app</title></head>
<body><main><h1>Host app</h1>
<iframe id="rg" title="Referral dashboard" src="{frame_src}" width="1000" height="300"></iframe>
</main><script>
window.__msgs = [];
window.addEventListener('message', function (e) {{
  window.__msgs.push({{origin: e.origin, data: e.data}});
  if (e.data && e.data.type === 'refgrow:resize') {{ document.getElementById('rg').height = e.data.height; }}
}});
</script></body></html>"#
    );
    let task = tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let body = body.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = sock.read(&mut buf).await;
                let res = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/html; charset=utf-8\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(res.as_bytes()).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    (origin, task)
}

/// An affiliate with 3 clicks, a signup and two sales.
async fn busy_affiliate(app: &TestApp, email: &str, name: &str) -> Value {
    let a = app.affiliate(email, name).await;
    let code = a["referralCode"].as_str().unwrap();
    for _ in 0..3 {
        app.post("/v1/referrals/track", json!({"referralCode": code}))
            .await;
    }
    app.state.clicks.flush(&app.state.db).await.unwrap();
    app.post(
        "/v1/customers",
        json!({"key": format!("{email}-c"), "email": "carol@example.com", "referralCode": code}),
    )
    .await;
    for (order, amount) in [("o1", "100.00"), ("o2", "40.00")] {
        let r = app
            .post(
                "/v1/referrals/convert",
                json!({"referralCode": code, "amount": amount, "currency": "USD",
                       "orderId": format!("{email}-{order}")}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }
    a
}

#[tokio::test]
async fn the_dashboard_works_in_a_real_browser() {
    if let Some(why) = skip_reason() {
        eprintln!("skipped: {why}");
        return;
    }
    let sink = SmtpSink::start(0).await;
    let smtp = format!("smtp://127.0.0.1:{}", sink.port);
    let app = spawn_app_with(|c| c.affiliate_side.smtp_url = Some(Redacted(smtp))).await;
    let a = busy_affiliate(&app, "ann@x.io", "Ann").await;
    let id = a["id"].as_str().unwrap().to_string();
    let t = app
        .post("/v1/embed-tokens", json!({"affiliateId": id}))
        .await;
    assert_eq!(t.status, StatusCode::CREATED, "{}", t.text);
    let url = format!("{}&theme=light", t.data()["url"].as_str().unwrap());
    let (allowed, _h1) = host_page(&url).await;
    let (refused, _h2) = host_page(&url).await;
    let r = app
        .patch("/v1/program", json!({"embedOrigins": [allowed]}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let stats = app.get(&format!("/v1/affiliates/{id}/stats")).await;
    let totals = stats.data()["totals"].clone();

    let b = Browser::start().await;
    b.d().goto(&allowed).await.unwrap();
    // The parent hears `refgrow:ready` and `refgrow:resize` from the server's origin.
    let mut msgs = Value::Null;
    for _ in 0..100 {
        msgs = b
            .d()
            .execute("return window.__msgs;", Vec::<Value>::new())
            .await
            .unwrap()
            .json()
            .clone();
        let types: Vec<&str> = msgs
            .as_array()
            .map(|m| {
                m.iter()
                    .filter_map(|m| m["data"]["type"].as_str())
                    .collect()
            })
            .unwrap_or_default();
        if types.contains(&"refgrow:ready") && types.contains(&"refgrow:resize") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let list = msgs.as_array().expect("messages");
    assert!(
        list.iter().any(|m| m["data"]["type"] == "refgrow:ready"),
        "{msgs}"
    );
    let resize = list
        .iter()
        .find(|m| m["data"]["type"] == "refgrow:resize")
        .unwrap_or_else(|| panic!("{msgs}"));
    assert_eq!(resize["origin"], app.base);
    assert!(resize["data"]["height"].as_i64().unwrap() > 400, "{resize}");

    // The numbers, inside the frame, equal the stats endpoint's.
    b.d().enter_frame(0).await.unwrap();
    assert_eq!(b.text_of("stat-clicks").await, totals["clicks"].to_string());
    assert_eq!(
        b.text_of("stat-signups").await,
        totals["signups"].to_string()
    );
    assert_eq!(
        b.text_of("stat-conversions").await,
        totals["conversions"].to_string()
    );
    let pending = b
        .d()
        .find(By::Css("tr[data-currency=USD] td[data-k=pending]"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let want = &totals["money"][0]["earnings"]["pending"];
    assert_eq!(
        pending,
        want.as_str()
            .map(str::to_string)
            .unwrap_or(want.to_string())
    );
    let link = b
        .d()
        .find(By::Id("link"))
        .await
        .unwrap()
        .value()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        link,
        a["referralLink"].as_str().unwrap_or(&link).to_string()
    );
    assert!(link.ends_with(&format!("/r/{}", a["referralCode"].as_str().unwrap())));
    // Copy the link.
    b.d()
        .find(By::Id("copy"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.wait_text("copy-status", |s| s == "Copied").await;
    // No serious or critical accessibility violations.
    let violations = b.axe().await;
    assert!(violations.is_empty(), "{violations:#?}");
    // Change the payout details.
    let method = b.d().find(By::Id("paymentMethod")).await.unwrap();
    method.clear().await.unwrap();
    method.send_keys("wise").await.unwrap();
    let details = b.d().find(By::Id("paymentDetails")).await.unwrap();
    details.send_keys("IBAN DE00 1234 5678").await.unwrap();
    b.d()
        .find(By::Id("save-payout"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.wait_text("payout-status", |s| s == "Saved.").await;
    let aff = app.get(&format!("/v1/affiliates/{id}")).await;
    assert_eq!(aff.data()["affiliate"]["paymentMethod"], "wise");
    assert_eq!(
        aff.data()["affiliate"]["paymentDetails"],
        "IBAN DE00 1234 5678"
    );

    // From an origin that is not allowed, the frame stays empty.
    b.d().enter_default_frame().await.unwrap();
    b.d().goto(&refused).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let msgs = b
        .d()
        .execute("return window.__msgs;", Vec::<Value>::new())
        .await
        .unwrap()
        .json()
        .clone();
    assert_eq!(msgs, json!([]), "a refused frame says nothing");
    b.d().enter_frame(0).await.unwrap();
    assert!(
        b.d().find(By::Id("stat-clicks")).await.is_err(),
        "the dashboard must not render inside {refused}"
    );
    b.d().enter_default_frame().await.unwrap();

    // Accept an invitation through the hosted page, then open the dashboard.
    let accept_url = invite(&app, json!({"emails": ["ivy@x.io"]})).await;
    b.d().goto(&accept_url).await.unwrap();
    b.text_of("accept").await;
    let violations = b.axe().await;
    assert!(violations.is_empty(), "accept page: {violations:#?}");
    b.d()
        .find(By::Id("name"))
        .await
        .unwrap()
        .send_keys("Ivy Invitee")
        .await
        .unwrap();
    b.d()
        .find(By::Id("referralCode"))
        .await
        .unwrap()
        .send_keys("IVY-2026")
        .await
        .unwrap();
    b.d()
        .find(By::Id("accept"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.text_of("open-dashboard").await;
    let link = b
        .d()
        .find(By::Id("link"))
        .await
        .unwrap()
        .value()
        .await
        .unwrap()
        .unwrap();
    assert!(link.ends_with("/r/IVY-2026"), "{link}");
    b.d()
        .find(By::Id("open-dashboard"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert_eq!(b.text_of("stat-clicks").await, "0");
    b.d().goto(&accept_url).await.unwrap();
    let h1 = b
        .d()
        .find(By::Tag("h1"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(h1.contains("already been accepted"), "{h1}");

    // Sign in by a magic link that arrives at the SMTP server.
    b.d().goto(&format!("{}/portal", app.base)).await.unwrap();
    let violations = b.axe().await;
    assert!(violations.is_empty(), "portal: {violations:#?}");
    b.d()
        .find(By::Id("email"))
        .await
        .unwrap()
        .send_keys("ann@x.io")
        .await
        .unwrap();
    b.d()
        .find(By::Id("send-link"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.text_of("sent").await;
    let mail = sink.wait_for("rgml_").await;
    let token = token_in(&mail, "rgml_");
    b.d()
        .goto(&format!("{}/portal/signin?token={token}", app.base))
        .await
        .unwrap();
    assert_eq!(b.text_of("stat-clicks").await, totals["clicks"].to_string());
    b.quit().await;
}

/// Writes the screenshots of `docs/` (`scripts/screenshots` runs this): the dashboard in
/// light and dark, and the accept page.
#[tokio::test]
#[ignore = "writes docs/screenshots; run by scripts/screenshots"]
async fn screenshots_for_docs() {
    if let Some(why) = skip_reason() {
        eprintln!("skipped: {why}");
        return;
    }
    let dir = std::env::var("REFGROW_SCREENSHOT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots")
        });
    std::fs::create_dir_all(&dir).unwrap();
    let app = spawn_app_with(|_| {}).await;
    // A few weeks of history, so the chart has a shape.
    app.state.clock.advance(chrono::Duration::days(-20));
    let a = busy_affiliate(&app, "jane@example.com", "Jane Doe").await;
    let code = a["referralCode"].as_str().unwrap().to_string();
    for day in 0..20_i64 {
        app.state.clock.advance(chrono::Duration::days(1));
        for _ in 0..((day * 7) % 11 + 2) {
            app.post("/v1/referrals/track", json!({"referralCode": code}))
                .await;
        }
        app.state.clicks.flush(&app.state.db).await.unwrap();
        if day % 3 == 0 {
            app.post(
                "/v1/referrals/convert",
                json!({"referralCode": code, "amount": "49.00", "currency": "USD",
                       "orderId": format!("shot-{day}")}),
            )
            .await;
        }
    }
    let id = a["id"].as_str().unwrap();
    let t = app
        .post("/v1/embed-tokens", json!({"affiliateId": id}))
        .await;
    let url = t.data()["url"].as_str().unwrap().to_string();
    let b = Browser::start().await;
    b.d().set_window_rect(0, 0, 1000, 1500).await.unwrap();
    for theme in ["light", "dark"] {
        b.d().goto(&format!("{url}&theme={theme}")).await.unwrap();
        b.text_of("stat-clicks").await;
        b.d()
            .screenshot(&dir.join(format!("dashboard-{theme}.png")))
            .await
            .unwrap();
    }
    let accept = invite(
        &app,
        json!({"emails": ["sam@example.com"], "message": "We would love to have you on board."}),
    )
    .await;
    b.d().set_window_rect(0, 0, 900, 900).await.unwrap();
    b.d().goto(&accept).await.unwrap();
    b.text_of("accept").await;
    b.d().screenshot(&dir.join("accept.png")).await.unwrap();
    b.quit().await;
}
