//! The retry loop against a scripted HTTP server: backoff on 5xx and 429 (`Retry-After`),
//! one `Idempotency-Key` across all attempts of a POST, no retry on 4xx.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use refgrow_client::api::{CreateCommission, CreateRefund};
use refgrow_client::{AffiliateId, Client, ConversionId, Error, ErrorCode, RetryPolicy};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A request as the fake server saw it.
#[derive(Debug, Clone)]
struct Seen {
    head: String,
    body: String,
}

impl Seen {
    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }
}

/// A scripted answer: status, extra headers, body.
type Scripted = (u16, Vec<(&'static str, String)>, String);

/// Serves the scripted responses in order (the last one repeats), recording every request.
async fn fake_server(script: Vec<Scripted>) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        let mut i = 0usize;
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            let (head, body) = loop {
                let n = sock.read(&mut chunk).await.unwrap_or(0);
                if n == 0 {
                    break (String::new(), String::new());
                }
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).to_string();
                if let Some(pos) = text.find("\r\n\r\n") {
                    let head = text[..pos].to_string();
                    let len = head
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse::<usize>().ok())?
                        })
                        .unwrap_or(0);
                    if buf.len() >= pos + 4 + len {
                        let body =
                            String::from_utf8_lossy(&buf[pos + 4..pos + 4 + len]).to_string();
                        break (head, body);
                    }
                }
            };
            log.lock().expect("lock").push(Seen { head, body });
            let (status, headers, body) = script[i.min(script.len() - 1)].clone();
            i += 1;
            let mut res = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
                body.len()
            );
            for (k, v) in headers {
                res.push_str(&format!("{k}: {v}\r\n"));
            }
            res.push_str("\r\n");
            res.push_str(&body);
            let _ = sock.write_all(res.as_bytes()).await;
            let _ = sock.shutdown().await;
        }
    });
    (format!("http://{addr}"), seen)
}

fn fast_policy(retries: u32) -> RetryPolicy {
    RetryPolicy {
        max_retries: retries,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(40),
        max_retry_after: Duration::from_secs(5),
    }
}

fn client(base: &str, policy: RetryPolicy) -> Client {
    Client::builder()
        .base_url(base)
        .api_key("rg_test_key")
        .retry(policy)
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client")
}

const COMMISSION: &str = r#"{"success":true,"data":{"commission":{"id":"comm_1","affiliateId":"aff_1",
 "conversionId":null,"orderId":"o-1","type":"manual","amount":12.50,"originalAmount":12.50,"currency":"USD",
 "status":"pending","conversionAmount":null,"description":null,"payoutId":null,"onHold":false,
 "createdAt":"2025-01-01T00:00:00Z","updatedAt":"2025-01-01T00:00:00Z","approvedAt":null,"paidAt":null,
 "reversedAt":null,"reason":null}}}"#;

fn server_error() -> Scripted {
    (
        503,
        vec![("x-request-id", "req_503".to_string())],
        r#"{"success":false,"error":{"code":"service_unavailable","message":"down"}}"#.to_string(),
    )
}

fn manual_commission() -> CreateCommission {
    CreateCommission {
        affiliate_id: AffiliateId::parse("aff_1").expect("id"),
        amount: Some("12.50".parse().expect("amount")),
        sale_amount: None,
        product_id: None,
        order_id: Some("o-1".into()),
        description: None,
    }
}

#[tokio::test]
async fn a_post_is_retried_with_one_idempotency_key() {
    let (base, seen) = fake_server(vec![
        server_error(),
        server_error(),
        (201, vec![], COMMISSION.to_string()),
    ])
    .await;
    let c = client(&base, fast_policy(3));
    let comm = c
        .commissions()
        .create(manual_commission())
        .await
        .expect("created after retries");
    assert_eq!(comm.id.as_str(), "comm_1");
    assert_eq!(comm.amount.to_string(), "12.50");
    let seen = seen.lock().expect("lock").clone();
    assert_eq!(seen.len(), 3);
    let keys: Vec<_> = seen.iter().map(|s| s.header("idempotency-key")).collect();
    assert!(
        keys[0].as_deref().is_some_and(|k| k.starts_with("idem_")),
        "{keys:?}"
    );
    assert!(keys.iter().all(|k| k == &keys[0]), "{keys:?}");
    assert!(seen.iter().all(|s| s.body == seen[0].body));
    assert!(seen[0].head.starts_with("POST /v1/commissions HTTP/1.1"));
    assert_eq!(
        seen[0].header("authorization").as_deref(),
        Some("Bearer rg_test_key")
    );
    assert!(seen[0]
        .header("user-agent")
        .is_some_and(|ua| ua.starts_with("refgrow-rust/")));
    assert_eq!(
        seen[0].header("content-type").as_deref(),
        Some("application/json")
    );

    // A second call gets a new key; a caller's key is sent as given.
    let (base, seen) = fake_server(vec![(201, vec![], COMMISSION.to_string())]).await;
    let c = client(&base, fast_policy(3));
    c.commissions()
        .create(manual_commission())
        .await
        .expect("one");
    c.commissions()
        .with_idempotency_key("order-o-1")
        .create(manual_commission())
        .await
        .expect("two");
    let seen = seen.lock().expect("lock").clone();
    assert_ne!(
        seen[0].header("idempotency-key"),
        seen[1].header("idempotency-key")
    );
    assert_eq!(
        seen[1].header("idempotency-key").as_deref(),
        Some("order-o-1")
    );
}

#[tokio::test]
async fn retries_give_up_after_the_policy_and_keep_the_last_error() {
    let (base, seen) = fake_server(vec![server_error()]).await;
    let c = client(&base, fast_policy(2));
    let e = c
        .commissions()
        .create(manual_commission())
        .await
        .expect_err("fails");
    assert_eq!(e.code(), Some(ErrorCode::ServiceUnavailable));
    assert_eq!(e.status(), Some(503));
    assert_eq!(e.request_id(), Some("req_503"));
    assert!(e.is_retryable());
    assert_eq!(seen.lock().expect("lock").len(), 3);

    let (base, seen) = fake_server(vec![server_error()]).await;
    let c = client(&base, RetryPolicy::none());
    assert!(c.program().get().await.is_err());
    assert_eq!(seen.lock().expect("lock").len(), 1);
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let (base, seen) = fake_server(vec![(
        409,
        vec![],
        r#"{"success":false,"error":{"code":"conflict","message":"illegal move","details":{"from":"paid"}}}"#
            .to_string(),
    )])
    .await;
    let c = client(&base, fast_policy(3));
    let e = c
        .conversions()
        .refund(
            &ConversionId::parse("conv_1").expect("id"),
            CreateRefund::default(),
        )
        .await
        .expect_err("conflict");
    assert_eq!(e.code(), Some(ErrorCode::Conflict));
    assert_eq!(e.details().and_then(|d| d["from"].as_str()), Some("paid"));
    assert!(!e.is_retryable());
    let seen = seen.lock().expect("lock").clone();
    assert_eq!(seen.len(), 1);
    assert!(seen[0]
        .head
        .starts_with("POST /v1/conversions/conv_1/refunds "));
    assert_eq!(seen[0].body, "{}");
}

#[tokio::test]
async fn rate_limits_wait_for_retry_after() {
    let (base, seen) = fake_server(vec![
        (
            429,
            vec![("retry-after", "1".to_string())],
            r#"{"success":false,"error":{"code":"rate_limit_exceeded","message":"slow down"}}"#
                .to_string(),
        ),
        (201, vec![], COMMISSION.to_string()),
    ])
    .await;
    let c = client(&base, fast_policy(3));
    let started = Instant::now();
    c.commissions()
        .create(manual_commission())
        .await
        .expect("after the wait");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(seen.lock().expect("lock").len(), 2);

    // A Retry-After longer than the policy allows is returned at once.
    let (base, seen) = fake_server(vec![(
        429,
        vec![("retry-after", "3600".to_string())],
        r#"{"success":false,"error":{"code":"rate_limit_exceeded","message":"slow down"}}"#
            .to_string(),
    )])
    .await;
    let c = client(&base, fast_policy(3));
    let e = c.program().get().await.expect_err("429");
    assert_eq!(e.code(), Some(ErrorCode::RateLimitExceeded));
    assert_eq!(seen.lock().expect("lock").len(), 1);
}

#[tokio::test]
async fn connection_errors_are_retried_then_reported() {
    // Bind and drop a listener: the port is (very likely) closed now.
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr")
    };
    let c = client(&format!("http://{addr}"), fast_policy(2));
    let e = c.program().get().await.expect_err("refused");
    assert!(matches!(e, Error::Http(_)), "{e:?}");
    assert!(e.is_retryable());
}

#[tokio::test]
async fn non_json_errors_and_bad_success_bodies() {
    let (base, _) = fake_server(vec![(502, vec![], "<html>bad gateway</html>".to_string())]).await;
    let e = client(&base, RetryPolicy::none())
        .program()
        .get()
        .await
        .expect_err("502");
    assert_eq!(
        (e.status(), e.code()),
        (Some(502), Some(ErrorCode::ServiceUnavailable))
    );
    assert!(
        e.message().is_some_and(|m| m.contains("bad gateway")),
        "{e}"
    );

    let (base, _) = fake_server(vec![(
        200,
        vec![("x-request-id", "req_x".into())],
        r#"{"success":true,"data":{"nope":1}}"#.to_string(),
    )])
    .await;
    let e = client(&base, fast_policy(3))
        .program()
        .get()
        .await
        .expect_err("decode");
    assert!(matches!(e, Error::Decode { status: 200, .. }), "{e:?}");
    assert_eq!(e.request_id(), Some("req_x"));
    assert!(!e.is_retryable());
}

#[tokio::test]
async fn queries_and_path_segments_are_encoded() {
    let (base, seen) = fake_server(vec![(
        200,
        vec![],
        r#"{"success":true,"data":{"commissions":[],"total":0,"limit":5,"offset":0}}"#.to_string(),
    )])
    .await;
    let c = client(&base, RetryPolicy::none());
    let list = c
        .commissions()
        .list(refgrow_client::ListCommissions {
            affiliate_id: Some(AffiliateId::parse("aff_9").expect("id")),
            status: Some(refgrow_client::api::CommissionStatus::Approved),
            from: Some("2025-01-02T03:04:05Z".parse().expect("time")),
            limit: Some(5),
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(list.total, 0);
    let _ = c.customers().get("user 1/é").await;
    let seen = seen.lock().expect("lock").clone();
    // The order of the parameters carries no meaning.
    let target = seen[0]
        .head
        .split(' ')
        .nth(1)
        .unwrap_or_default()
        .to_string();
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    assert_eq!(path, "/v1/commissions", "{}", seen[0].head);
    let mut pairs: Vec<&str> = query.split('&').collect();
    pairs.sort_unstable();
    assert_eq!(
        pairs,
        [
            "affiliateId=aff_9",
            "from=2025-01-02T03%3A04%3A05Z",
            "limit=5",
            "status=approved"
        ],
        "{}",
        seen[0].head
    );
    assert!(seen[0].header("idempotency-key").is_none());
    assert!(
        seen[1]
            .head
            .starts_with("GET /v1/customers/user%201%2F%C3%A9 "),
        "{}",
        seen[1].head
    );
}

#[cfg(feature = "blocking")]
#[test]
fn the_blocking_facade_drives_the_async_client() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (base, seen) = rt.block_on(fake_server(vec![
        server_error(),
        (201, vec![], COMMISSION.to_string()),
    ]));
    let c = refgrow_client::blocking::Client::new(client(&base, fast_policy(2))).expect("blocking");
    let comm = c
        .run(|c| async move { c.commissions().create(manual_commission()).await })
        .expect("created");
    assert_eq!(comm.id.as_str(), "comm_1");
    assert_eq!(seen.lock().expect("lock").len(), 2);
}
