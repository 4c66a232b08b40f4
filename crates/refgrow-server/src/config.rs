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
}

impl Config {
    /// Defaults for a database URL (tests and tools).
    pub fn for_database(url: &str) -> Config {
        Config {
            database_url: url.to_string(),
            bind: "127.0.0.1:0".into(),
            public_url: None,
            fallback_url: None,
            max_body_bytes: 65536,
            workers: 2,
            job_interval_secs: 60,
            click_flush_ms: 20,
            invitation_days: 14,
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
