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
    AffiliateStatus, Attribution, CommissionStatus, CreateAffiliate, CreateCommission,
    CreateConversion, CreateCustomer, CreateRefund, CreateTransaction, Email, ReferralCode,
    TrackClick, UpdateAffiliate, UpdateCommissionStatus, UpdateProgram,
};
use refgrow_client::{
    AffiliateId, Amount, Client, ErrorCode, ListAffiliates, ListCommissions, ListConversions,
    RetryPolicy,
};

use crate::helpers::{spawn_app, TestApp};

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
            amount: amount("12.34"),
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
        amount: amount("5.00"),
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
            amount: amount("6.00"),
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
                amount: amount(amt),
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
