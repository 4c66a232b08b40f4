//! Configuration: every setting is an environment variable and a flag (see `.env.template`).

use clap::Args;

/// Settings of the server, read from flags or the environment.
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Where the data lives: sqlite://FILE or postgres://USER@HOST/DB.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://refgrow.db",
        global = true
    )]
    pub database_url: String,

    /// Address to listen on.
    #[arg(
        long,
        env = "REFGROW_BIND",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub bind: String,

    /// Base of referral links (`{public_url}/r/{code}`); defaults to http://{bind}.
    #[arg(long, env = "REFGROW_PUBLIC_URL", global = true)]
    pub public_url: Option<String>,

    /// Where `/r/{code}` sends visitors whose code is unknown (default: the website of the
    /// only program that has one).
    #[arg(long, env = "REFGROW_FALLBACK_URL", global = true)]
    pub fallback_url: Option<String>,

    /// Requests per second per API key (a key's own limit overrides it; 0: unlimited).
    #[arg(long, env = "REFGROW_RATE_LIMIT", default_value_t = 100, global = true)]
    pub rate_limit_per_sec: u32,

    /// Recorded clicks per second per client IP on `/r/{code}` (0: unlimited).
    #[arg(
        long,
        env = "REFGROW_CLICK_RATE_LIMIT",
        default_value_t = 20,
        global = true
    )]
    pub click_rate_limit_per_sec: u32,

    /// The largest request body accepted, in bytes.
    #[arg(
        long,
        env = "REFGROW_MAX_BODY_BYTES",
        default_value_t = 65536,
        global = true
    )]
    pub max_body_bytes: usize,

    /// HTTP worker threads (0: one per core).
    #[arg(long, env = "REFGROW_WORKERS", default_value_t = 0, global = true)]
    pub workers: usize,

    /// Seconds between runs of the background jobs (auto-approval and the like).
    #[arg(
        long,
        env = "REFGROW_JOB_INTERVAL_SECS",
        default_value_t = 60,
        global = true
    )]
    pub job_interval_secs: u64,

    /// Milliseconds between flushes of buffered clicks to the database.
    #[arg(
        long,
        env = "REFGROW_CLICK_FLUSH_MS",
        default_value_t = 50,
        global = true
    )]
    pub click_flush_ms: u64,

    /// Days an affiliate invitation stays open before it expires (1..=3650).
    #[arg(
        long,
        env = "REFGROW_INVITATION_DAYS",
        default_value_t = 14,
        value_parser = clap::value_parser!(u32).range(1..=3650),
        global = true
    )]
    pub invitation_days: u32,

    /// Milliseconds between polls of the webhook outbox for due deliveries.
    #[arg(
        long,
        env = "REFGROW_WEBHOOK_POLL_MS",
        default_value_t = 1000,
        global = true
    )]
    pub webhook_poll_ms: u64,

    /// Base delay of the webhook retry schedule, in milliseconds. The schedule is 1, 6, 24,
    /// 120, 360, 720, 1440, 2880, then 5760 times this base (default 5 s: 5 s, 30 s, 2 min,
    /// 10 min, 30 min, 1 h, 2 h, 4 h, then every 8 h), plus up to 20% jitter.
    #[arg(
        long,
        env = "REFGROW_WEBHOOK_BACKOFF_BASE_MS",
        default_value_t = 5000,
        global = true
    )]
    pub webhook_backoff_base_ms: u64,

    /// Attempts of one delivery before it is marked failed (default 12: about 31 hours with
    /// the default base delay).
    #[arg(
        long,
        env = "REFGROW_WEBHOOK_MAX_ATTEMPTS",
        default_value_t = 12,
        value_parser = clap::value_parser!(u32).range(1..=1000),
        global = true
    )]
    pub webhook_max_attempts: u32,

    /// Seconds one delivery attempt may take (connect, send, answer).
    #[arg(
        long,
        env = "REFGROW_WEBHOOK_TIMEOUT_SECS",
        default_value_t = 10,
        value_parser = clap::value_parser!(u64).range(1..=300),
        global = true
    )]
    pub webhook_timeout_secs: u64,

    /// Deliveries sent at the same time, at most.
    #[arg(
        long,
        env = "REFGROW_WEBHOOK_CONCURRENCY",
        default_value_t = 64,
        value_parser = clap::value_parser!(u32).range(1..=1024),
        global = true
    )]
    pub webhook_concurrency: u32,

    /// Seconds the previous secret keeps signing after a rotation (default 24 h).
    #[arg(
        long,
        env = "REFGROW_WEBHOOK_ROTATION_GRACE_SECS",
        default_value_t = 86400,
        global = true
    )]
    pub webhook_rotation_grace_secs: u64,

    /// Let webhook endpoints point at loopback, private, link-local and other non-public
    /// addresses (default: refused, at registration and again at delivery).
    #[arg(
        long,
        env = "REFGROW_WEBHOOK_ALLOW_PRIVATE",
        default_value_t = false,
        action = clap::ArgAction::Set,
        global = true
    )]
    pub webhook_allow_private: bool,

    /// The key that encrypts secrets at rest (base64 of 32 bytes; `refgrow-server secret
    /// generate` makes one). Unset: read from, or created in, `REFGROW_SECRET_KEY_FILE`.
    #[arg(
        long,
        env = "REFGROW_SECRET_KEY",
        hide_env_values = true,
        global = true
    )]
    pub secret_key: Option<Redacted>,

    /// Where the secret key is kept when `REFGROW_SECRET_KEY` is unset (default:
    /// `refgrow-secret.key` beside the SQLite file, or in the working directory).
    #[arg(long, env = "REFGROW_SECRET_KEY_FILE", global = true)]
    pub secret_key_file: Option<String>,

    /// Proxies whose `Forwarded` / `X-Forwarded-For` headers are believed: comma-separated
    /// addresses or CIDRs (default: none, the socket's peer is the client).
    #[arg(long, env = "REFGROW_TRUSTED_PROXIES", global = true)]
    pub trusted_proxies: Option<String>,

    /// A token `GET /metrics` requires as `Authorization: Bearer <token>` (default: open).
    #[arg(
        long,
        env = "REFGROW_METRICS_TOKEN",
        hide_env_values = true,
        global = true
    )]
    pub metrics_token: Option<Redacted>,

    /// The most clicks held before they are in the database (waiting, being written, or
    /// spilled to disk during an outage); past it `POST /v1/referrals/track` answers 503
    /// with `Retry-After` and `GET /r/{code}` redirects without recording.
    #[arg(
        long,
        env = "REFGROW_CLICK_BUFFER_MAX",
        default_value_t = 200_000,
        value_parser = clap::value_parser!(u64).range(1..=10_000_000),
        global = true
    )]
    pub click_buffer_max: u64,

    /// Acknowledge a click only once it is committed to the database (or, while the
    /// database is down, fsync'd to the spill file): no loss on a crash, at the cost of a
    /// wait of one group commit per click.
    #[arg(
        long,
        env = "REFGROW_CLICK_SYNC",
        default_value_t = false,
        action = clap::ArgAction::Set,
        value_parser = clap::builder::BoolishValueParser::new(),
        global = true
    )]
    pub click_sync: bool,

    /// The file where clicks are kept (fsync'd) while the database is unreachable, and
    /// replayed from at start. Default: `refgrow-clicks-{port}.spill` beside the SQLite
    /// file, or in the working directory on PostgreSQL. Created only when needed.
    #[arg(long, env = "REFGROW_CLICK_SPILL_PATH", global = true)]
    pub click_spill_path: Option<String>,

    /// Seconds a graceful stop may take to write buffered clicks (and finish webhook
    /// deliveries in flight) before it gives up, spills what is left and exits non-zero if
    /// even that fails.
    #[arg(
        long,
        env = "REFGROW_SHUTDOWN_TIMEOUT_SECS",
        default_value_t = 60,
        global = true
    )]
    pub shutdown_timeout_secs: u64,

    /// Milliseconds a request waits for a database connection before its 503.
    #[arg(
        long,
        env = "REFGROW_DB_POOL_TIMEOUT_MS",
        default_value_t = 2000,
        value_parser = clap::value_parser!(u64).range(100..=60_000),
        global = true
    )]
    pub db_pool_timeout_ms: u64,

    /// PostgreSQL: threads that write sales in batches (group commit). One is fastest on a
    /// small machine: the queue fills while a batch commits; more write smaller batches.
    #[arg(
        long,
        env = "REFGROW_SALE_WRITERS",
        default_value_t = 1,
        value_parser = clap::value_parser!(u16).range(1..=32),
        global = true
    )]
    pub sale_writers: u16,

    /// The affiliate's side: dashboard tokens, magic links and email.
    #[command(flatten)]
    pub affiliate_side: AffiliateSideConfig,
}

/// Settings of the affiliate's side: the embedded dashboard, the portal and email.
#[derive(Debug, Clone, Args)]
pub struct AffiliateSideConfig {
    /// Seconds a dashboard token (`POST /v1/embed-tokens`, portal sign-in) stays valid.
    #[arg(
        long,
        env = "REFGROW_EMBED_TOKEN_SECS",
        default_value_t = 3600,
        value_parser = clap::value_parser!(u64).range(60..=86400),
        global = true
    )]
    pub embed_token_secs: u64,

    /// Seconds a portal sign-in link stays valid (single use).
    #[arg(
        long,
        env = "REFGROW_MAGIC_LINK_SECS",
        default_value_t = 900,
        value_parser = clap::value_parser!(u64).range(60..=86400),
        global = true
    )]
    pub magic_link_secs: u64,

    /// Where mail is sent: `smtp://host:port` (plain, or STARTTLS when offered),
    /// `smtps://user:pass@host:465` (TLS). Unset: no mail; the API returns the URLs.
    #[arg(long, env = "REFGROW_SMTP_URL", hide_env_values = true, global = true)]
    pub smtp_url: Option<Redacted>,

    /// The sender of mail.
    #[arg(
        long,
        env = "REFGROW_MAIL_FROM",
        default_value = "Refgrow <refgrow@localhost>",
        global = true
    )]
    pub mail_from: String,
}

impl Default for AffiliateSideConfig {
    fn default() -> Self {
        AffiliateSideConfig {
            embed_token_secs: 3600,
            magic_link_secs: 900,
            smtp_url: None,
            mail_from: "Refgrow <refgrow@localhost>".into(),
        }
    }
}

/// A setting that is a secret: shown as `***` by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Redacted(pub String);

impl std::fmt::Debug for Redacted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("\"***\"")
    }
}

impl std::str::FromStr for Redacted {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Redacted(s.to_string()))
    }
}

impl Redacted {
    /// The value, when it is not blank.
    pub fn value(&self) -> Option<&str> {
        Some(self.0.trim()).filter(|s| !s.is_empty())
    }
}

impl Config {
    /// Defaults for a database URL (tests and tools).
    pub fn for_database(url: &str) -> Config {
        Config {
            database_url: url.to_string(),
            bind: "127.0.0.1:0".into(),
            public_url: None,
            fallback_url: None,
            rate_limit_per_sec: 0,
            click_rate_limit_per_sec: 0,
            max_body_bytes: 65536,
            workers: 2,
            job_interval_secs: 60,
            click_flush_ms: 20,
            invitation_days: 14,
            webhook_poll_ms: 100,
            webhook_backoff_base_ms: 200,
            webhook_max_attempts: 12,
            webhook_timeout_secs: 5,
            webhook_concurrency: 16,
            webhook_rotation_grace_secs: 86400,
            webhook_allow_private: false,
            secret_key: None,
            secret_key_file: None,
            trusted_proxies: None,
            metrics_token: None,
            click_buffer_max: 200_000,
            click_sync: false,
            click_spill_path: None,
            shutdown_timeout_secs: 60,
            db_pool_timeout_ms: 2000,
            sale_writers: 1,
            affiliate_side: AffiliateSideConfig::default(),
        }
    }

    /// The base of referral links, without a trailing slash.
    pub fn public_base(&self) -> String {
        match &self.public_url {
            Some(u) if !u.trim().is_empty() => u.trim().trim_end_matches('/').to_string(),
            _ => format!("http://{}", self.bind),
        }
    }
}
