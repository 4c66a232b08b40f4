//! A webhook receiver: a tiny HTTP server that checks every delivery with
//! [`refgrow_client::verify_webhook`] before trusting it, answers `400` to anything unsigned,
//! stale or forged, and `204` (quickly, before doing any work) to a genuine event.
//!
//! ```sh
//! # Either give the endpoint's secret…
//! export REFGROW_WEBHOOK_SECRET=whsec_...
//! # …or let the example register itself with your server and use the secret it gets back
//! # (a server started with REFGROW_WEBHOOK_ALLOW_PRIVATE=true, since it listens on 127.0.0.1):
//! export REFGROW_URL=http://127.0.0.1:8080 REFGROW_KEY=rg_...
//! cargo run -p refgrow-client --example webhook_receiver
//! ```
//!
//! `REFGROW_WEBHOOK_BIND` (default `127.0.0.1:4242`) is where it listens; deliveries are
//! accepted on any path. A real service would use its web framework instead of the hand-rolled
//! HTTP/1.1 below; the part to copy is [`handle`].

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use refgrow_client::api::{CreateWebhookEndpoint, WebhookPayload};
use refgrow_client::{verify_webhook, Client};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// The largest body accepted.
const MAX_BODY: usize = 1024 * 1024;

#[tokio::main]
async fn main() -> Result<()> {
    let bind = std::env::var("REFGROW_WEBHOOK_BIND").unwrap_or_else(|_| "127.0.0.1:4242".into());
    let listener = TcpListener::bind(&bind).await?;
    let secret = match std::env::var("REFGROW_WEBHOOK_SECRET") {
        Ok(secret) => secret,
        Err(_) => register(&format!("http://{}/webhooks", listener.local_addr()?)).await?,
    };
    println!("listening on http://{bind}/ for Refgrow deliveries");

    // Deliveries are at least once: the same event may come again (same `webhook-id`).
    let seen: Arc<Mutex<HashSet<String>>> = Arc::default();
    loop {
        let (socket, peer) = listener.accept().await?;
        let secret = secret.clone();
        let seen = seen.clone();
        tokio::spawn(async move {
            if let Err(e) = serve(socket, &secret, &seen).await {
                eprintln!("{peer}: {e}");
            }
        });
    }
}

/// Registers this receiver as a webhook endpoint (REFGROW_URL, REFGROW_KEY) and returns its
/// signing secret, which the server shows only in this answer.
async fn register(url: &str) -> Result<String> {
    let (Ok(base), Ok(key)) = (std::env::var("REFGROW_URL"), std::env::var("REFGROW_KEY")) else {
        return Err(
            "set REFGROW_WEBHOOK_SECRET, or REFGROW_URL and REFGROW_KEY to register".into(),
        );
    };
    let client = Client::new(base, key)?;
    let endpoint = client
        .webhook_endpoints()
        .create(CreateWebhookEndpoint {
            url: url.to_string(),
            events: None,
            format: None,
            description: Some("refgrow-client webhook_receiver example".into()),
        })
        .await?;
    println!("registered endpoint {} for {url}", endpoint.id);
    endpoint
        .secret
        .ok_or_else(|| "the server did not return the endpoint's secret".into())
}

/// What the receiver answers, and why.
struct Answer {
    status: u16,
    reason: String,
}

/// Checks one delivery and acts on it. `headers` are the request's headers, `body` the raw
/// bytes exactly as received (verify before parsing: re-serialized JSON would not match).
fn handle(
    secret: &str,
    headers: &[(String, String)],
    body: &[u8],
    seen: &Mutex<HashSet<String>>,
) -> Answer {
    let verified = match verify_webhook(secret, headers.iter().map(|(k, v)| (k, v)), body) {
        Ok(v) => v,
        Err(e) => {
            return Answer {
                status: 400,
                reason: format!("rejected: {e}"),
            }
        }
    };
    let event: WebhookPayload = match serde_json::from_slice(body) {
        Ok(event) => event,
        Err(e) => {
            return Answer {
                status: 400,
                reason: format!("signed but not an event: {e}"),
            }
        }
    };
    let first_time = seen
        .lock()
        .map(|mut s| s.insert(verified.id.clone()))
        .unwrap_or(true);
    if !first_time {
        return Answer {
            status: 204,
            reason: format!("{} again (already handled)", verified.id),
        };
    }
    // Acknowledge fast; do slow work (emails, syncing a CRM) after answering, or in a queue.
    match event.event_type.as_str() {
        "conversion.created" => println!("a sale: {}", event.data["conversion"]),
        "commission.created" | "commission.updated" | "commission.reversed" => {
            println!("{}: {}", event.event_type, event.data["commission"]["id"])
        }
        "payout.paid" => println!("paid out: {}", event.data["payout"]["id"]),
        other => println!("{other} at {}", event.timestamp),
    }
    Answer {
        status: 204,
        reason: format!("{} handled", verified.id),
    }
}

/// Reads one HTTP/1.1 request, answers it, and closes the connection.
async fn serve(mut socket: TcpStream, secret: &str, seen: &Mutex<HashSet<String>>) -> Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        let n = socket.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos;
        }
        if buf.len() > 64 * 1024 {
            return Err("request head too large".into());
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default().to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            Some((k.trim().to_ascii_lowercase(), v.trim().to_string()))
        })
        .collect();
    let len = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    let answer = if !request_line.starts_with("POST ") {
        Answer {
            status: 405,
            reason: format!("not a delivery: {request_line}"),
        }
    } else if len > MAX_BODY {
        Answer {
            status: 413,
            reason: "body too large".into(),
        }
    } else {
        while buf.len() < head_end + 4 + len {
            let n = socket.read(&mut chunk).await?;
            if n == 0 {
                return Err("the connection closed mid-body".into());
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        handle(
            secret,
            &headers,
            &buf[head_end + 4..head_end + 4 + len],
            seen,
        )
    };
    println!("{} {}", answer.status, answer.reason);
    let text = match answer.status {
        204 => "No Content",
        400 => "Bad Request",
        405 => "Method Not Allowed",
        _ => "Payload Too Large",
    };
    socket
        .write_all(
            format!(
                "HTTP/1.1 {} {text}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                answer.status
            )
            .as_bytes(),
        )
        .await?;
    socket.shutdown().await?;
    Ok(())
}
