//! The Rust SDK (`refgrow-client`) against the real server: every resource it covers, the
//! error mapping, auto-pagination, and retries that reuse one `Idempotency-Key` so a lost
//! answer never records a sale twice.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{StreamExt, TryStreamExt};
use refgrow_client::api::{
    AffiliateStatus, Attribution, CommissionStatus, CreateAffiliate, CreateApiKey,
    CreateCommission, CreateConversion, CreateCustomer, CreateInvitations, CreateRefund,
    CreateTransaction, Email, InvitationStatus, ReferralCode, Scope, TrackClick, UpdateAffiliate,
    UpdateCommissionStatus, UpdateProgram,
};
use refgrow_client::{
    AffiliateId, Amount, Client, ErrorCode, KeyId, ListAffiliates, ListAuditLog, ListCommissions,
    ListConversions, ListInvitations, RetryPolicy,
};

use crate::helpers::{spawn_app, spawn_configured, TestApp};

fn client_for(app: &TestApp) -> Client {
    Client::builder()
        .base_url(&app.base)
        .api_key(&app.key)
        .user_agent("refgrow-tests/1")
        .timeout(Duration::from_secs(30))
        .retry(RetryPolicy::none())
        .build()
        .expect("client")
}

fn amount(s: &str) -> Amount {
    s.parse().expect("amount")
}

fn new_affiliate(email: &str, name: &str) -> CreateAffiliate {
    CreateAffiliate {
        email: Email::parse(email).expect("email"),
        name: name.into(),
        referral_code: None,
        custom_fields: None,
        parent_affiliate_id: None,
        payment_method: None,
        payment_details: None,
    }
}

#[tokio::test]
async fn program_get_and_update() {
    let app = spawn_app().await;
    let c = client_for(&app);
    let p = c.program().get().await.expect("program");
    assert_eq!(p.id.as_str(), app.program_id);
    assert_eq!(p.name, "Test program");
    assert_eq!(p.currency.code(), "USD");
    assert_eq!(p.cookie_days, 60);

    let mut rule = p.commission.clone();
    rule.rate = Some(amount("25"));
    let p2 = c
        .program()
        .update(UpdateProgram {
            name: Some("Renamed".into()),
            cookie_days: Some(30),
            attribution: Some(Attribution::LastClick),
            website_url: Some(Some("https://saas.example.com".into())),
            min_payout: Some(amount("25.50")),
            commission: Some(rule),
            ..Default::default()
        })
        .await
        .expect("update");
    assert_eq!(p2.name, "Renamed");
    assert_eq!(p2.cookie_days, 30);
    assert_eq!(p2.attribution, Attribution::LastClick);
    assert!(p2
        .website_url
        .as_deref()
        .is_some_and(|u| u.starts_with("https://saas.example.com")));
    assert_eq!(p2.min_payout.to_string(), "25.50");
    assert_eq!(
        p2.commission.rate.map(|r| r.value()),
        Some(amount("25").value())
    );
    assert_eq!(c.program().get().await.expect("again"), p2);

    // `null` clears a nullable field.
    let p3 = c
        .program()
        .update(UpdateProgram {
            website_url: Some(None),
            ..Default::default()
        })
        .await
        .expect("clear");
    assert_eq!(p3.website_url, None);
}

#[tokio::test]
async fn affiliates_create_get_by_code_list_update() {
    let app = spawn_app().await;
    let c = client_for(&app);
    let mut body = new_affiliate("Jane@Example.com", "Jane Doe");
    body.referral_code = ReferralCode::parse("jane-10");
    body.payment_method = Some("paypal".into());
    body.custom_fields = serde_json::json!({"userId": 42}).as_object().cloned();
    let a = c.affiliates().create(body).await.expect("create");
    assert!(a.id.as_str().starts_with("aff_"));
    assert_eq!(a.email, "jane@example.com");
    assert_eq!(a.referral_code, "JANE-10");
    assert_eq!(a.referral_link, format!("{}/r/JANE-10", app.base));
    assert_eq!(a.status, AffiliateStatus::Active);
    assert_eq!(a.total_earnings.to_string(), "0.00");
    assert_eq!(a.custom_fields["userId"], 42);

    assert_eq!(c.affiliates().get(&a.id).await.expect("get"), a);
    assert_eq!(
        c.affiliates()
            .get_by_code("jane-10")
            .await
            .expect("by code")
            .id,
        a.id
    );

    let b = c
        .affiliates()
        .create(new_affiliate("bob@example.com", "Bob"))
        .await
        .expect("bob");
    assert!(b.referral_code.starts_with("BOB"), "{}", b.referral_code);

    let page = c
        .affiliates()
        .list(ListAffiliates {
            limit: Some(1),
            offset: Some(1),
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(
        (page.total, page.limit, page.offset, page.affiliates.len()),
        (2, 1, 1, 1)
    );
    let by_email = c
        .affiliates()
        .list(ListAffiliates {
            email: Some("BOB@example.com".into()),
            ..Default::default()
        })
        .await
        .expect("by email");
    assert_eq!(by_email.total, 1);
    assert_eq!(by_email.affiliates[0].id, b.id);

    let suspended = c
        .affiliates()
        .update(
            &b.id,
            UpdateAffiliate {
                status: Some(AffiliateStatus::Suspended),
                suspended_reason: Some("fraud review".into()),
                name: Some("Robert".into()),
                payment_method: Some(Some("wise".into())),
                ..Default::default()
            },
        )
        .await
        .expect("suspend");
    assert_eq!(suspended.status, AffiliateStatus::Suspended);
    assert_eq!(suspended.suspended_reason.as_deref(), Some("fraud review"));
    assert_eq!(suspended.name, "Robert");
    assert_eq!(suspended.payment_method.as_deref(), Some("wise"));
    let only_suspended = c
        .affiliates()
        .list(ListAffiliates {
            status: Some(AffiliateStatus::Suspended),
            ..Default::default()
        })
        .await
        .expect("filter");
    assert_eq!(only_suspended.total, 1);
    assert_eq!(only_suspended.affiliates[0].id, b.id);
}

#[tokio::test]
async fn list_all_streams_every_page() {
    let app = spawn_app().await;
    let c = client_for(&app);
    let mut created = HashSet::new();
    for i in 0..7 {
        let a = c
            .affiliates()
            .create(new_affiliate(
                &format!("p{i}@example.com"),
                &format!("Person {i}"),
            ))
            .await
            .expect("create");
        created.insert(a.id);
    }
    let all: Vec<_> = c
        .affiliates()
        .list_all(ListAffiliates {
            limit: Some(3),
            ..Default::default()
        })
        .try_collect()
        .await
        .expect("stream");
    assert_eq!(all.len(), 7);
    assert_eq!(
        all.iter().map(|a| a.id.clone()).collect::<HashSet<_>>(),
        created
    );

    // From an offset, with the default page size.
    let rest: Vec<_> = c
        .affiliates()
        .list_all(ListAffiliates {
            offset: Some(5),
            ..Default::default()
        })
        .try_collect()
        .await
        .expect("rest");
    assert_eq!(rest.len(), 2);

    // A filter matching nothing ends at once; an error is yielded once and ends the stream.
    let none: Vec<_> = c
        .affiliates()
        .list_all(ListAffiliates {
            status: Some(AffiliateStatus::Blocked),
            ..Default::default()
        })
        .collect()
        .await;
    assert!(none.is_empty());
    let bad: Vec<_> = c
        .affiliates()
        .list_all(ListAffiliates {
            limit: Some(500),
            ..Default::default()
        })
        .collect()
        .await;
    assert_eq!(bad.len(), 1);
    let e = bad
        .into_iter()
        .next()
        .and_then(Result::err)
        .expect("an error");
    assert_eq!(
        (e.code(), e.field()),
        (Some(ErrorCode::InvalidRequest), Some("limit"))
    );
}

#[tokio::test]
async fn errors_carry_code_status_details_and_request_id() {
    let app = spawn_app().await;
    let c = client_for(&app);

    let missing = AffiliateId::parse("aff_doesnotexist").expect("id");
    let e = c.affiliates().get(&missing).await.expect_err("404");
    assert_eq!(e.code(), Some(ErrorCode::ResourceNotFound));
    assert_eq!(e.status(), Some(404));
    assert!(
        e.request_id().is_some_and(|r| r.starts_with("req_")),
        "{e:?}"
    );
    assert!(!e.is_retryable());
    assert!(
        e.to_string().starts_with("resource_not_found (404): "),
        "{e}"
    );

    // The caller's request id is echoed.
    let e = c
        .affiliates()
        .with_request_id("trace-abc-123")
        .get_by_code("NOSUCHCODE")
        .await
        .expect_err("404");
    assert_eq!(e.code(), Some(ErrorCode::ResourceNotFound));
    assert_eq!(e.request_id(), Some("trace-abc-123"));

    // 400 names the field.
    let e = c.affiliates().get_by_code("a/b").await.expect_err("400");
    assert_eq!(
        (e.status(), e.code()),
        (Some(400), Some(ErrorCode::InvalidRequest))
    );
    assert_eq!(e.field(), Some("referralCode"));
    let e = c
        .affiliates()
        .list(ListAffiliates {
            limit: Some(0),
            ..Default::default()
        })
        .await
        .expect_err("400");
    assert_eq!(e.field(), Some("limit"));
    assert!(e.issue().is_some());
    let mut bad_parent = new_affiliate("kid@example.com", "Kid");
    bad_parent.parent_affiliate_id = Some(missing);
    let e = c
        .affiliates()
        .create(bad_parent)
        .await
        .expect_err("unknown parent");
    assert!(e.status().is_some_and(|s| s == 400 || s == 404), "{e}");

    // 409 on a duplicate email.
    c.affiliates()
        .create(new_affiliate("dup@example.com", "Dup"))
        .await
        .expect("first");
    let e = c
        .affiliates()
        .create(new_affiliate("DUP@example.com", "Dup 2"))
        .await
        .expect_err("409");
    assert_eq!(
        (e.status(), e.code(), e.field()),
        (Some(409), Some(ErrorCode::Conflict), Some("email"))
    );

    // 401 with a bad key, however many retries the client allows.
    let bad = Client::builder()
        .base_url(&app.base)
        .api_key("rg_not_a_real_key")
        .build()
        .expect("client");
    let e = bad.program().get().await.expect_err("401");
    assert_eq!(
        (e.status(), e.code()),
        (Some(401), Some(ErrorCode::AuthenticationError))
    );
    assert!(e.request_id().is_some());
    assert!(!e.is_retryable());

    // Another program's affiliate is 404.
    let mine = c
        .affiliates()
        .create(new_affiliate("mine@example.com", "Mine"))
        .await
        .expect("mine");
    let other = Client::new(&app.base, app.other_program_key("Other program")).expect("client");
    let e = other
        .affiliates()
        .get(&mine.id)
        .await
        .expect_err("isolated");
    assert_eq!(e.code(), Some(ErrorCode::ResourceNotFound));
}

/// A TCP proxy in front of the server that forwards every request but swallows the answer
/// to the first `lose` of them (the connection is closed instead), as a flaky network would.
/// Returns its base URL, and the `Idempotency-Key` of every request it saw.
fn lossy_proxy(upstream: &str, lose: usize) -> (String, Arc<Mutex<Vec<Option<String>>>>) {
    lossy_proxy_notifying(upstream, lose, Arc::new(tokio::sync::Notify::new()))
}

/// [`lossy_proxy`], notifying `lost` each time it swallows an answer the server gave. While
/// the upstream server is down, each request is read and logged and its connection closed.
fn lossy_proxy_notifying(
    upstream: &str,
    lose: usize,
    lost: Arc<tokio::sync::Notify>,
) -> (String, Arc<Mutex<Vec<Option<String>>>>) {
    let upstream: SocketAddr = upstream
        .trim_start_matches("http://")
        .parse()
        .expect("upstream address");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let count = Arc::new(AtomicUsize::new(0));
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut down) = conn else { return };
            let log = log.clone();
            let count = count.clone();
            let lost = lost.clone();
            std::thread::spawn(move || {
                let Some((head, request)) = read_message(&mut down) else {
                    return;
                };
                let key = head.lines().find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.trim()
                        .eq_ignore_ascii_case("idempotency-key")
                        .then(|| v.trim().to_string())
                });
                log.lock().expect("lock").push(key);
                let Ok(mut up) = TcpStream::connect(upstream) else {
                    return;
                };
                if up.write_all(&request).is_err() {
                    return;
                }
                let Some((_, response)) = read_message(&mut up) else {
                    return;
                };
                if count.fetch_add(1, Ordering::SeqCst) < lose {
                    // The server did the work; the caller never hears of it.
                    let _ = down.shutdown(std::net::Shutdown::Both);
                    lost.notify_one();
                    return;
                }
                let _ = down.write_all(&response);
                let _ = down.shutdown(std::net::Shutdown::Both);
            });
        }
    });
    (format!("http://{addr}"), seen)
}

/// Reads one HTTP/1.1 message (head and a `content-length` body); the head has
/// `connection: close` forced so each connection carries one exchange.
fn read_message(s: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = s.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..pos]).to_string();
        let len = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.trim()
                    .eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse::<usize>().ok())?
            })
            .unwrap_or(0);
        if buf.len() < pos + 4 + len {
            continue;
        }
        let mut lines: Vec<&str> = head
            .split("\r\n")
            .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
            .collect();
        lines.push("connection: close");
        let mut out = lines.join("\r\n").into_bytes();
        out.extend_from_slice(b"\r\n\r\n");
        out.extend_from_slice(&buf[pos + 4..pos + 4 + len]);
        return Some((head, out));
    }
}

fn retrying_client(base: &str, key: &str) -> Client {
    Client::builder()
        .base_url(base)
        .api_key(key)
        .retry(RetryPolicy {
            max_retries: 3,
            base_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(100),
            max_retry_after: Duration::from_secs(5),
        })
        .build()
        .expect("client")
}

#[tokio::test]
async fn a_lost_answer_is_retried_with_the_same_idempotency_key() {
    let app = spawn_app().await;
    let c = client_for(&app);
    c.affiliates()
        .create(new_affiliate("seller@example.com", "Seller"))
        .await
        .expect("affiliate");
    let code = c
        .affiliates()
        .list(Default::default())
        .await
        .expect("list")
        .affiliates[0]
        .referral_code
        .clone();

    // A conversion without an orderId: only the Idempotency-Key keeps the retry from
    // recording the sale a second time.
    let (proxy, seen) = lossy_proxy(&app.base, 1);
    let flaky = retrying_client(&proxy, &app.key);
    let conv = flaky
        .referrals()
        .convert(CreateConversion {
            click_id: None,
            referral_code: ReferralCode::parse(&code),
            customer_key: None,
            amount: amount("100.00"),
            currency: None,
            order_id: None,
            customer: None,
            products: None,
        })
        .await
        .expect("the retry gets the saved answer");
    let keys = seen.lock().expect("lock").clone();
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert!(keys[0].is_some() && keys[0] == keys[1], "{keys:?}");
    let list = c
        .conversions()
        .list(ListConversions::default())
        .await
        .expect("conversions");
    assert_eq!(list.total, 1, "the sale was recorded once");
    assert_eq!(list.conversions[0].conversion_id, conv.conversion_id);
    let comms = c
        .commissions()
        .list(ListCommissions::default())
        .await
        .expect("commissions");
    assert_eq!(comms.total, 1, "and earned once");
}

#[tokio::test]
async fn a_lost_answer_of_a_manual_commission_is_not_doubled() {
    let app = spawn_app().await;
    let c = client_for(&app);
    let a = c
        .affiliates()
        .create(new_affiliate("m@example.com", "M"))
        .await
        .expect("affiliate");
    let (proxy, seen) = lossy_proxy(&app.base, 2);
    let flaky = retrying_client(&proxy, &app.key);
    let comm = flaky
        .commissions()
        .create(CreateCommission {
            affiliate_id: a.id.clone(),
            amount: Some(amount("12.34")),
            sale_amount: None,
            product_id: None,
            order_id: None,
            description: Some("bonus".into()),
        })
        .await
        .expect("created through two lost answers");
    assert_eq!(comm.amount.to_string(), "12.34");
    let keys = seen.lock().expect("lock").clone();
    assert_eq!(keys.len(), 3);
    assert!(
        keys.iter().all(|k| k.is_some() && *k == keys[0]),
        "{keys:?}"
    );
    let all = c
        .commissions()
        .list(ListCommissions {
            affiliate_id: Some(a.id),
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(all.total, 1);
}

#[tokio::test]
async fn caller_idempotency_keys_replay_and_conflict() {
    let app = spawn_app().await;
    let c = client_for(&app);
    let a = c
        .affiliates()
        .create(new_affiliate("k@example.com", "K"))
        .await
        .expect("affiliate");
    let body = CreateCommission {
        affiliate_id: a.id.clone(),
        amount: Some(amount("5.00")),
        sale_amount: None,
        product_id: None,
        order_id: None,
        description: None,
    };
    let first = c
        .commissions()
        .with_idempotency_key("bonus-2025-01")
        .create(body.clone())
        .await
        .expect("first");
    let again = c
        .commissions()
        .with_idempotency_key("bonus-2025-01")
        .create(body.clone())
        .await
        .expect("replay");
    assert_eq!(first.id, again.id);
    let e = c
        .commissions()
        .with_idempotency_key("bonus-2025-01")
        .create(CreateCommission {
            amount: Some(amount("6.00")),
            sale_amount: None,
            product_id: None,
            ..body.clone()
        })
        .await
        .expect_err("another body");
    assert_eq!(e.code(), Some(ErrorCode::Conflict));
    // Without a caller key each call is its own operation.
    let other = c.commissions().create(body).await.expect("new");
    assert_ne!(other.id, first.id);
}

#[tokio::test]
async fn tracking_customers_transactions_and_refunds() {
    let app = spawn_app().await;
    let c = client_for(&app);
    let a = c
        .affiliates()
        .create(new_affiliate("aff@example.com", "Affie"))
        .await
        .expect("affiliate");

    let click = c
        .referrals()
        .track(TrackClick {
            referral_code: ReferralCode::parse(&a.referral_code).expect("code"),
            source_url: Some("https://blog.example.org/post".into()),
            landing_url: None,
            user_agent: Some("Mozilla/5.0".into()),
            ip_address: Some("203.0.113.9".into()),
        })
        .await
        .expect("track");
    assert_eq!(click.affiliate_id, a.id);
    assert!(click.click_id.as_str().starts_with("click_"));

    let cust = c
        .customers()
        .create(CreateCustomer {
            key: "user/42".into(),
            email: Email::parse("buyer@example.net"),
            name: Some("Buyer".into()),
            click_id: Some(click.click_id.clone()),
            referral_code: None,
            affiliate_id: None,
        })
        .await
        .expect("customer");
    assert!(cust.attributed);
    assert_eq!(cust.affiliate_id.as_ref(), Some(&a.id));
    assert_eq!(c.customers().get("user/42").await.expect("get").id, cust.id);

    let paid = c
        .transactions()
        .create(CreateTransaction {
            customer_key: "user/42".into(),
            key: "in_001".into(),
            amount: amount("49.00"),
            currency: None,
            product_id: None,
            product_type: None,
            action: Some("sale".into()),
        })
        .await
        .expect("transaction");
    assert!(paid.attributed);
    let conv = paid.conversion.expect("a conversion");
    assert_eq!(conv.commission.to_string(), "9.80");
    let commission_id = conv.commission_id.clone().expect("a commission");

    // The transaction key makes it idempotent.
    let again = c
        .transactions()
        .create(CreateTransaction {
            customer_key: "user/42".into(),
            key: "in_001".into(),
            amount: amount("49.00"),
            currency: None,
            product_id: None,
            product_type: None,
            action: Some("sale".into()),
        })
        .await
        .expect("replay");
    assert_eq!(
        again.conversion.map(|c| c.conversion_id),
        Some(conv.conversion_id.clone())
    );

    // A partial refund shrinks the commission in proportion.
    let refunded = c
        .conversions()
        .refund(
            &conv.conversion_id,
            CreateRefund {
                amount: Some(amount("24.50")),
                reason: Some("downgrade".into()),
            },
        )
        .await
        .expect("refund");
    assert_eq!(refunded.conversion.refunded_amount.to_string(), "24.50");
    assert_eq!(refunded.commissions[0].amount.to_string(), "4.90");
    assert_eq!(
        c.conversions()
            .get(&conv.conversion_id)
            .await
            .expect("get")
            .refunded_amount
            .to_string(),
        "24.50"
    );

    // Deleting the transaction refunds the rest.
    let deleted = c.transactions().delete("in_001").await.expect("delete");
    assert_eq!(deleted.conversion.refunded_amount.to_string(), "49.00");
    assert_eq!(
        c.commissions()
            .get(&commission_id)
            .await
            .expect("comm")
            .status,
        CommissionStatus::Reversed
    );

    // A conversion by referral code and order id; the order id makes the replay return it.
    let order = CreateConversion {
        click_id: None,
        referral_code: ReferralCode::parse(&a.referral_code),
        customer_key: None,
        amount: amount("10.00"),
        currency: None,
        order_id: Some("order-7".into()),
        customer: None,
        products: None,
    };
    let c1 = c.referrals().convert(order.clone()).await.expect("convert");
    assert_eq!(c1.affiliate_id, a.id);
    assert_eq!(c1.commission.to_string(), "2.00");
    let c2 = c.referrals().convert(order).await.expect("replay");
    assert_eq!(c1.conversion_id, c2.conversion_id);
    let all: Vec<_> = c
        .conversions()
        .list_all(Default::default())
        .try_collect()
        .await
        .expect("list");
    assert_eq!(all.len(), 2);

    let gone = c
        .customers()
        .delete("user/42")
        .await
        .expect("delete customer");
    assert_eq!(gone.id, cust.id);
}

#[tokio::test]
async fn commissions_list_status_and_reverse() {
    let app = spawn_app().await;
    let c = client_for(&app);
    let a = c
        .affiliates()
        .create(new_affiliate("c@example.com", "C"))
        .await
        .expect("affiliate");
    let b = c
        .affiliates()
        .create(new_affiliate("d@example.com", "D"))
        .await
        .expect("affiliate");
    let mut ids = Vec::new();
    for (who, amt) in [(&a, "1.00"), (&a, "2.00"), (&b, "3.00")] {
        let comm = c
            .commissions()
            .create(CreateCommission {
                affiliate_id: who.id.clone(),
                amount: Some(amount(amt)),
                sale_amount: None,
                product_id: None,
                order_id: None,
                description: Some("manual".into()),
            })
            .await
            .expect("create");
        assert_eq!(comm.status, CommissionStatus::Pending);
        ids.push(comm.id);
    }
    let of_a = c
        .commissions()
        .list(ListCommissions {
            affiliate_id: Some(a.id.clone()),
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(of_a.total, 2);
    let since: Vec<_> = c
        .commissions()
        .list_all(ListCommissions {
            from: Some(chrono::Utc::now() - chrono::Duration::hours(1)),
            limit: Some(2),
            ..Default::default()
        })
        .try_collect()
        .await
        .expect("list_all");
    assert_eq!(since.len(), 3);

    let approved = c
        .commissions()
        .set_status(
            &ids[0],
            UpdateCommissionStatus {
                status: CommissionStatus::Approved,
                reason: None,
            },
        )
        .await
        .expect("approve");
    assert_eq!(approved.status, CommissionStatus::Approved);
    assert!(approved.approved_at.is_some());
    let e = c
        .commissions()
        .set_status(
            &ids[0],
            UpdateCommissionStatus {
                status: CommissionStatus::Pending,
                reason: None,
            },
        )
        .await
        .expect_err("illegal move");
    assert_eq!(e.code(), Some(ErrorCode::Conflict));
    let approved_only = c
        .commissions()
        .list(ListCommissions {
            status: Some(CommissionStatus::Approved),
            ..Default::default()
        })
        .await
        .expect("by status");
    assert_eq!(approved_only.total, 1);

    let rev = c
        .commissions()
        .reverse_with_reason(&ids[1], "duplicate order")
        .await
        .expect("reverse");
    assert_eq!(rev.commission.status, CommissionStatus::Reversed);
    assert!(rev.adjustment.is_none());
    let rev = c.commissions().reverse(&ids[2]).await.expect("reverse");
    assert_eq!(rev.commission.status, CommissionStatus::Reversed);
    assert_eq!(
        c.commissions()
            .get(&ids[1])
            .await
            .expect("get")
            .reason
            .as_deref(),
        Some("duplicate order")
    );
}

#[tokio::test]
async fn api_keys_create_list_revoke_and_the_audit_log() {
    let app = spawn_app().await;
    let c = client_for(&app);
    let before = c.api_keys().list().await.expect("list");
    assert_eq!(before.total, 1, "the harness's key");
    let tests_key = before.api_keys[0].clone();
    assert_eq!(tests_key.label.as_deref(), Some("tests"));

    let created = c
        .api_keys()
        .with_request_id("req-key-create")
        .create(CreateApiKey {
            label: Some("backend v2".into()),
            scopes: None,
            rate_limit: None,
            expires_at: None,
        })
        .await
        .expect("create");
    let v2_id = created.api_key.id.clone();
    assert!(v2_id.as_str().starts_with("key_"));
    assert_eq!(created.api_key.label.as_deref(), Some("backend v2"));
    assert_eq!(created.api_key.scopes, vec![Scope::Read, Scope::Write]);
    assert!(
        created.key.starts_with(&created.api_key.prefix),
        "{} / {}",
        created.key,
        created.api_key.prefix
    );
    assert!(created.api_key.revoked_at.is_none());
    let read_only = c
        .api_keys()
        .create(CreateApiKey {
            label: Some("reports".into()),
            scopes: Some(vec![Scope::Read]),
            rate_limit: Some(0),
            expires_at: None,
        })
        .await
        .expect("read-only key");
    assert_eq!(read_only.api_key.scopes, vec![Scope::Read]);
    assert_eq!(read_only.api_key.rate_limit, Some(0));
    let e = c
        .api_keys()
        .create(CreateApiKey {
            scopes: Some(vec![Scope::Write]),
            ..Default::default()
        })
        .await
        .expect_err("write without read");
    assert_eq!(
        (e.code(), e.field()),
        (Some(ErrorCode::InvalidRequest), Some("scopes"))
    );

    let list = c.api_keys().list().await.expect("list");
    assert_eq!(list.total, 3);
    assert!(list.api_keys.iter().any(|k| k.id == v2_id));

    // The new key works; the read-only one reads but may not write.
    let v2 = Client::builder()
        .base_url(&app.base)
        .api_key(&created.key)
        .retry(RetryPolicy::none())
        .build()
        .expect("client");
    assert_eq!(
        v2.program().get().await.expect("program").id.as_str(),
        app.program_id
    );
    let ro = Client::builder()
        .base_url(&app.base)
        .api_key(&read_only.key)
        .retry(RetryPolicy::none())
        .build()
        .expect("client");
    ro.affiliates()
        .list(ListAffiliates::default())
        .await
        .expect("reads");
    let e = ro
        .affiliates()
        .create(new_affiliate("ro@example.com", "RO"))
        .await
        .expect_err("403");
    assert_eq!(
        (e.status(), e.code()),
        (Some(403), Some(ErrorCode::PermissionDenied))
    );
    let e = ro
        .api_keys()
        .create(CreateApiKey::default())
        .await
        .expect_err("403");
    assert_eq!(e.code(), Some(ErrorCode::PermissionDenied));

    // Rotation: the new key revokes the old one, whose next call is refused at once (and
    // is not retried, however patient the client).
    let revoked = v2.api_keys().revoke(&tests_key.id).await.expect("revoke");
    assert_eq!(revoked.id, tests_key.id);
    assert!(revoked.revoked_at.is_some());
    let patient_old = Client::builder()
        .base_url(&app.base)
        .api_key(&app.key)
        .retry(RetryPolicy::with_max_retries(5))
        .build()
        .expect("client");
    for old in [&c, &patient_old] {
        let started = std::time::Instant::now();
        let e = old.program().get().await.expect_err("revoked");
        assert_eq!(
            (e.status(), e.code()),
            (Some(401), Some(ErrorCode::AuthenticationError)),
            "{e}"
        );
        assert!(!e.is_retryable());
        assert!(started.elapsed() < Duration::from_millis(400), "no retries");
    }
    let e = v2
        .api_keys()
        .revoke(&tests_key.id)
        .await
        .expect_err("revoked twice");
    assert_eq!(e.code(), Some(ErrorCode::Conflict));
    let e = v2
        .api_keys()
        .revoke(&KeyId::parse("key_nosuchkey").expect("id"))
        .await
        .expect_err("unknown");
    assert_eq!(e.code(), Some(ErrorCode::ResourceNotFound));
    let other = Client::new(&app.base, app.other_program_key("Other program")).expect("client");
    let other_id = other
        .api_keys()
        .list()
        .await
        .expect("other's keys")
        .api_keys[0]
        .id
        .clone();
    let e = v2
        .api_keys()
        .revoke(&other_id)
        .await
        .expect_err("another program's key");
    assert_eq!(e.code(), Some(ErrorCode::ResourceNotFound));
    let after = v2.api_keys().list().await.expect("list");
    assert_eq!(after.total, 3);
    assert!(after
        .api_keys
        .iter()
        .any(|k| k.id == tests_key.id && k.revoked_at.is_some()));

    // The audit log: every write, newest first, with the key that made it.
    let log = v2
        .audit_log()
        .list(ListAuditLog::default())
        .await
        .expect("audit log");
    assert!(log.total >= 6, "{log:?}");
    assert_eq!((log.limit, log.offset), (20, 0));
    let entry = log
        .entries
        .iter()
        .find(|e| e.request_id == "req-key-create")
        .expect("the create call");
    assert_eq!(entry.action, "POST /v1/api-keys");
    assert_eq!(entry.method, "POST");
    assert_eq!(entry.status, 201);
    assert_eq!(entry.key_id.as_deref(), Some(tests_key.id.as_str()));
    assert_eq!(entry.resource_id.as_deref(), Some(v2_id.as_str()));
    assert!(log
        .entries
        .windows(2)
        .all(|w| w[0].created_at >= w[1].created_at));

    let by_old_key = v2
        .audit_log()
        .list(ListAuditLog {
            key_id: Some(tests_key.id.clone()),
            action: Some("POST /v1/api-keys".into()),
            ..Default::default()
        })
        .await
        .expect("filtered");
    assert_eq!(by_old_key.total, 3, "two keys created, one refused");
    let revocations = v2
        .audit_log()
        .list(ListAuditLog {
            method: Some("DELETE".into()),
            resource_id: Some(tests_key.id.to_string()),
            ..Default::default()
        })
        .await
        .expect("revocations");
    assert_eq!(revocations.total, 2, "{revocations:?}");
    assert!(revocations
        .entries
        .iter()
        .all(|e| e.key_id.as_deref() == Some(v2_id.as_str())));
    assert_eq!(
        revocations
            .entries
            .iter()
            .map(|e| e.status)
            .collect::<Vec<_>>(),
        vec![409, 200]
    );
    let hour = chrono::Duration::hours(1);
    let none = v2
        .audit_log()
        .list(ListAuditLog {
            from: Some(chrono::Utc::now() + hour),
            ..Default::default()
        })
        .await
        .expect("future");
    assert_eq!(none.total, 0);
    let all = v2
        .audit_log()
        .list(ListAuditLog {
            from: Some(chrono::Utc::now() - hour),
            to: Some(chrono::Utc::now() + hour),
            ..Default::default()
        })
        .await
        .expect("window");
    let streamed: Vec<_> = v2
        .audit_log()
        .list_all(ListAuditLog {
            limit: Some(2),
            to: Some(chrono::Utc::now() + hour),
            ..Default::default()
        })
        .try_collect()
        .await
        .expect("stream");
    assert_eq!(streamed.len() as i64, all.total);
    assert_eq!(
        streamed
            .iter()
            .map(|e| e.id.clone())
            .collect::<HashSet<_>>(),
        all.entries
            .iter()
            .map(|e| e.id.clone())
            .collect::<HashSet<_>>()
    );
    let e = v2
        .audit_log()
        .list(ListAuditLog {
            method: Some("GET".into()),
            ..Default::default()
        })
        .await
        .expect_err("reads are not audited");
    assert_eq!(
        (e.code(), e.field()),
        (Some(ErrorCode::InvalidRequest), Some("method"))
    );
}

#[tokio::test]
async fn every_shared_list_parameter_is_accepted_by_the_server() {
    let app = spawn_app().await;
    let c = client_for(&app);
    let a = c
        .affiliates()
        .create(new_affiliate("params@example.com", "Params"))
        .await
        .expect("affiliate");
    let b = c
        .affiliates()
        .create(new_affiliate("other@example.com", "Other"))
        .await
        .expect("affiliate");
    c.referrals()
        .convert(CreateConversion {
            click_id: None,
            referral_code: ReferralCode::parse(&a.referral_code),
            customer_key: None,
            amount: amount("10.00"),
            currency: None,
            order_id: Some("o-params".into()),
            customer: None,
            products: None,
        })
        .await
        .expect("convert");
    c.invitations()
        .create(CreateInvitations {
            emails: vec!["invitee@example.com".into()],
            message: None,
        })
        .await
        .expect("invite");
    let now = chrono::Utc::now();
    let hour = chrono::Duration::hours(1);

    let affiliates = c
        .affiliates()
        .list(ListAffiliates {
            status: Some(AffiliateStatus::Active),
            email: Some("PARAMS@example.com".into()),
            limit: Some(5),
            offset: Some(0),
        })
        .await
        .expect("affiliates");
    assert_eq!(affiliates.total, 1);

    let every = ListCommissions {
        affiliate_id: Some(a.id.clone()),
        status: Some(CommissionStatus::Pending),
        from: Some(now - hour),
        to: Some(now + hour),
        limit: Some(5),
        offset: Some(0),
    };
    let commissions = c
        .commissions()
        .list(every.clone())
        .await
        .expect("commissions");
    assert_eq!(commissions.total, 1);
    for (name, params) in [
        (
            "later",
            ListCommissions {
                from: Some(now + hour),
                ..every.clone()
            },
        ),
        (
            "earlier",
            ListCommissions {
                to: Some(now - hour),
                ..every.clone()
            },
        ),
        (
            "approved",
            ListCommissions {
                status: Some(CommissionStatus::Approved),
                ..every.clone()
            },
        ),
        (
            "other affiliate",
            ListCommissions {
                affiliate_id: Some(b.id.clone()),
                ..every.clone()
            },
        ),
    ] {
        let page = c.commissions().list(params).await.expect(name);
        assert_eq!(page.total, 0, "{name}");
    }

    let conversions = c
        .conversions()
        .list(ListConversions {
            affiliate_id: Some(a.id.clone()),
            limit: Some(5),
            offset: Some(0),
        })
        .await
        .expect("conversions");
    assert_eq!(conversions.total, 1);
    let none = c
        .conversions()
        .list(ListConversions {
            affiliate_id: Some(b.id.clone()),
            ..Default::default()
        })
        .await
        .expect("conversions of b");
    assert_eq!(none.total, 0);

    let invitations = c
        .invitations()
        .list(ListInvitations {
            status: Some(InvitationStatus::Pending),
            limit: Some(5),
            offset: Some(0),
        })
        .await
        .expect("invitations");
    assert_eq!(invitations.total, 1);
    let cancelled = c
        .invitations()
        .list(ListInvitations {
            status: Some(InvitationStatus::Cancelled),
            ..Default::default()
        })
        .await
        .expect("cancelled invitations");
    assert_eq!(cancelled.total, 0);

    let key_id = c.api_keys().list().await.expect("keys").api_keys[0]
        .id
        .clone();
    let audit = c
        .audit_log()
        .list(ListAuditLog {
            limit: Some(5),
            offset: Some(0),
            key_id: Some(key_id),
            resource_id: Some(a.id.to_string()),
            action: Some("POST /v1/affiliates".into()),
            method: Some("POST".into()),
            from: Some(now - hour),
            to: Some(now + hour),
        })
        .await
        .expect("audit log");
    assert_eq!(audit.total, 1, "{audit:?}");
}

/// The port of a test server's base URL (`http://127.0.0.1:PORT`).
fn port_of(base: &str) -> u16 {
    base.rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("a port")
}

/// A client that keeps trying for several seconds: 10 retries, 100 ms doubling up to 1 s.
fn patient_client(base: &str, key: &str) -> Client {
    Client::builder()
        .base_url(base)
        .api_key(key)
        .retry(RetryPolicy {
            max_retries: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            max_retry_after: Duration::from_secs(5),
        })
        .build()
        .expect("client")
}

/// A sale by referral code, without an order id: only the `Idempotency-Key` keeps a retry
/// from recording it twice.
fn sale_of(code: &str, amt: &str) -> CreateConversion {
    CreateConversion {
        click_id: None,
        referral_code: ReferralCode::parse(code),
        customer_key: None,
        amount: amount(amt),
        currency: None,
        order_id: None,
        customer: None,
        products: None,
    }
}

/// Exactly one conversion and one commission exist, and the conversion is `id`.
async fn assert_recorded_once(app: &TestApp, id: &refgrow_client::ConversionId) {
    let c = client_for(app);
    let conversions = c
        .conversions()
        .list(ListConversions::default())
        .await
        .expect("conversions");
    assert_eq!(conversions.total, 1, "the sale was recorded once");
    assert_eq!(&conversions.conversions[0].conversion_id, id);
    let commissions = c
        .commissions()
        .list(ListCommissions::default())
        .await
        .expect("commissions");
    assert_eq!(commissions.total, 1, "and earned once");
    assert_eq!(commissions.commissions[0].conversion_id.as_ref(), Some(id));
}

#[tokio::test]
async fn a_retry_crosses_a_server_restart_without_a_duplicate() {
    let app = spawn_app().await;
    let port = port_of(&app.base);
    let key = app.key.clone();
    let c = patient_client(&app.base, &key);
    let a = c
        .affiliates()
        .create(new_affiliate("restart@example.com", "Restart"))
        .await
        .expect("affiliate");

    // The server goes down: a call without retries fails with a connection error.
    let (url, dir, clock) = app.stop().await;
    let impatient = Client::builder()
        .base_url(format!("http://127.0.0.1:{port}"))
        .api_key(&key)
        .retry(RetryPolicy::none())
        .build()
        .expect("client");
    let e = impatient.program().get().await.expect_err("down");
    assert!(
        matches!(e, refgrow_client::Error::Http(_)) && e.is_retryable(),
        "{e:?}"
    );

    // It comes back on the same port while the client is still retrying.
    const DOWNTIME: Duration = Duration::from_millis(800);
    let restart = tokio::spawn(async move {
        tokio::time::sleep(DOWNTIME).await;
        spawn_configured(url, dir, clock, move |config| {
            config.bind = format!("127.0.0.1:{port}");
        })
        .await
    });
    let started = std::time::Instant::now();
    let conv = c
        .referrals()
        .convert(sale_of(&a.referral_code, "100.00"))
        .await
        .expect("a retry reaches the restarted server");
    assert!(
        started.elapsed() >= DOWNTIME,
        "the first attempts failed while the server was down ({:?})",
        started.elapsed()
    );
    let app = restart.await.expect("restarted");
    assert_eq!(app.base, format!("http://127.0.0.1:{port}"));
    assert_eq!(conv.affiliate_id, a.id);
    assert_eq!(conv.commission.to_string(), "20.00");
    assert_recorded_once(&app, &conv.conversion_id).await;
}

#[tokio::test]
async fn a_committed_call_whose_answer_was_lost_is_replayed_after_a_restart() {
    let app = spawn_app().await;
    let port = port_of(&app.base);
    let key = app.key.clone();
    let a = client_for(&app)
        .affiliates()
        .create(new_affiliate("lost@example.com", "Lost"))
        .await
        .expect("affiliate");

    // The server records the sale, the answer is lost on the way back, and the server
    // restarts before the client's retry gets through.
    let lost = Arc::new(tokio::sync::Notify::new());
    let (proxy, seen) = lossy_proxy_notifying(&app.base, 1, lost.clone());
    let restart = tokio::spawn(async move {
        lost.notified().await;
        let (url, dir, clock) = app.stop().await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        spawn_configured(url, dir, clock, move |config| {
            config.bind = format!("127.0.0.1:{port}");
        })
        .await
    });
    // The first retry waits 150..300 ms, long after the stop (about a millisecond) began.
    let client = Client::builder()
        .base_url(&proxy)
        .api_key(&key)
        .retry(RetryPolicy {
            max_retries: 10,
            base_delay: Duration::from_millis(300),
            max_delay: Duration::from_secs(1),
            max_retry_after: Duration::from_secs(5),
        })
        .build()
        .expect("client");
    let conv = client
        .referrals()
        .convert(sale_of(&a.referral_code, "50.00"))
        .await
        .expect("the retry gets the saved answer");
    let app = restart.await.expect("restarted");
    let keys = seen.lock().expect("lock").clone();
    // Lost, then (usually) refused while down, then replayed. On a loaded machine the
    // graceful stop can outlast the first retry's wait, so that retry reaches the stopping
    // server and is replayed there: at least the lost call and one replay.
    assert!(
        keys.len() >= 2,
        "lost, then replayed (possibly refused while down in between): {keys:?}"
    );
    assert!(
        keys.iter().all(|k| k.is_some() && *k == keys[0]),
        "one Idempotency-Key across all attempts: {keys:?}"
    );
    assert_eq!(conv.commission.to_string(), "10.00");
    assert_recorded_once(&app, &conv.conversion_id).await;
}
