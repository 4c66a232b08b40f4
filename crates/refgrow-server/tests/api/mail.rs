//! Email through a real SMTP server started by the test (both backends): invitations and
//! portal sign-in links are sent from the durable queue; a failing server delays mail, loses
//! none, and the failure shows on the invitation.

use chrono::Duration;
use refgrow_server::config::Redacted;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::spawn_app_with;
use crate::smtp_sink::{token_in, SmtpSink};

#[tokio::test]
async fn a_failing_smtp_server_delays_mail_but_loses_none() {
    // A port with nobody listening yet.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let app = spawn_app_with(|c| {
        c.affiliate_side.smtp_url = Some(Redacted(format!("smtp://127.0.0.1:{port}")));
        c.affiliate_side.mail_from = "Acme Partners <partners@acme.test>".into();
    })
    .await;
    let r = app
        .post(
            "/v1/affiliates/invitations",
            json!({"emails": ["ivy@x.io"], "message": "Join us"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let inv = r.data()["invitations"][0].clone();
    let id = inv["id"].as_str().unwrap();
    let url = inv["acceptUrl"].as_str().unwrap().to_string();
    // The first attempt fails: the invitation says so.
    let mut failed = None;
    for _ in 0..100 {
        let got = app.get(&format!("/v1/affiliates/invitations/{id}")).await;
        let mail = got.data()["invitation"]["mail"].clone();
        if mail["attempts"].as_i64().unwrap_or(0) >= 1 {
            failed = Some(mail);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let failed = failed.expect("an attempt was made");
    assert_eq!(failed["status"], "queued");
    assert!(
        failed["lastError"].as_str().is_some_and(|e| !e.is_empty()),
        "{failed}"
    );
    // The server comes up; once the retry is due, the mail goes out.
    let sink = SmtpSink::start(port).await;
    app.state.clock.advance(Duration::seconds(60));
    let mail = sink.wait_for("ivy@x.io").await;
    assert!(mail.contains(&url), "{mail}");
    assert!(mail.contains("invites you to join") && mail.contains("Join us"));
    assert!(mail.contains("partners@acme.test"), "from-address");
    assert!(mail.contains("text/plain") && mail.contains("text/html"));
    for _ in 0..50 {
        let got = app.get(&format!("/v1/affiliates/invitations/{id}")).await;
        if got.data()["invitation"]["mail"]["status"] == "sent" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let got = app.get(&format!("/v1/affiliates/invitations/{id}")).await;
    assert_eq!(got.data()["invitation"]["mail"]["status"], "sent");
    assert_eq!(sink.messages.lock().unwrap().len(), 1, "sent once");
}

#[tokio::test]
async fn a_portal_link_arrives_by_mail_and_works_once() {
    let sink = SmtpSink::start(0).await;
    let port = sink.port;
    let app = spawn_app_with(|c| {
        c.affiliate_side.smtp_url = Some(Redacted(format!("smtp://127.0.0.1:{port}")));
    })
    .await;
    app.affiliate("ann@x.io", "Ann").await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = http
        .post(format!("{}/portal", app.base))
        .form(&[("email", "ANN@x.io")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let mail = sink.wait_for("rgml_").await;
    let token = token_in(&mail, "rgml_");
    assert!(mail.contains(&format!("{}/portal/signin?token={token}", app.base)));
    let r = http
        .get(format!("{}/portal/signin?token={token}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to = r.headers()["location"].to_str().unwrap().to_string();
    assert!(to.starts_with("/embed/referrals?token=rgemb_"), "{to}");
    let page = http.get(format!("{}{to}", app.base)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("Ann"));
    // Single use.
    let r = http
        .get(format!("{}/portal/signin?token={token}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::GONE);
    // At most three links per window; the page still says the same.
    for _ in 0..4 {
        app.state.ip_limits.forget("portal:127.0.0.1");
        let r = http
            .post(format!("{}/portal", app.base))
            .form(&[("email", "ann@x.io")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let n = sink
        .messages
        .lock()
        .unwrap()
        .iter()
        .filter(|m| m.contains("rgml_"))
        .count();
    assert_eq!(n, 3, "rate limited to 3 links per 15 minutes");
}
