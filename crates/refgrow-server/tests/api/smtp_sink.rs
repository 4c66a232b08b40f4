//! A tiny real SMTP server for tests: it speaks enough SMTP (EHLO/HELO, MAIL, RCPT, DATA,
//! RSET, NOOP, QUIT) for a mailer to deliver to it, and keeps each message's raw text.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// A running sink.
pub struct SmtpSink {
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// The messages received, raw.
    pub messages: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads the next line into `line`, replacing what it held; `false` once the client is gone.
async fn next_line(r: &mut (impl AsyncBufRead + Unpin), line: &mut String) -> bool {
    line.clear();
    r.read_line(line).await.unwrap_or(0) > 0
}

impl SmtpSink {
    /// Starts a sink on `port` (0: any free port).
    pub async fn start(port: u16) -> SmtpSink {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let messages: Arc<Mutex<Vec<String>>> = Arc::default();
        let store = messages.clone();
        let task = tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let store = store.clone();
                tokio::spawn(async move {
                    let (r, mut w) = sock.into_split();
                    let mut r = BufReader::new(r);
                    let _ = w.write_all(b"220 sink ESMTP\r\n").await;
                    let mut line = String::new();
                    loop {
                        if !next_line(&mut r, &mut line).await {
                            return;
                        }
                        let cmd = line.trim_end().to_ascii_uppercase();
                        let reply: &[u8] = if cmd.starts_with("EHLO") || cmd.starts_with("HELO") {
                            b"250 sink\r\n"
                        } else if cmd.starts_with("DATA") {
                            let _ = w.write_all(b"354 go on\r\n").await;
                            let mut body = String::new();
                            loop {
                                if !next_line(&mut r, &mut line).await {
                                    return;
                                }
                                if line == ".\r\n" || line == ".\n" {
                                    break;
                                }
                                body.push_str(&line);
                            }
                            store.lock().unwrap().push(body);
                            b"250 queued\r\n"
                        } else if cmd.starts_with("QUIT") {
                            let _ = w.write_all(b"221 bye\r\n").await;
                            return;
                        } else {
                            b"250 ok\r\n"
                        };
                        if w.write_all(reply).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        SmtpSink {
            port,
            messages,
            task,
        }
    }

    /// Waits (up to 15 s) for a message that holds `needle`, and answers it with
    /// quoted-printable soft breaks undone.
    pub async fn wait_for(&self, needle: &str) -> String {
        for _ in 0..150 {
            let found = self
                .messages
                .lock()
                .unwrap()
                .iter()
                .map(|m| m.replace("=\r\n", "").replace("=3D", "="))
                .find(|m| m.contains(needle));
            if let Some(m) = found {
                return m;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("no mail with {needle:?} arrived");
    }
}

/// The first `prefix…` token (base62) in a text.
pub fn token_in(text: &str, prefix: &str) -> String {
    let at = text
        .find(prefix)
        .unwrap_or_else(|| panic!("no {prefix} in {text}"));
    text[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}
