//! The command line: `serve` (the default), `migrate`, `program create`,
//! `key create|list|revoke|rotate`, `secret generate|rotate`, `verify` (the ledger check;
//! exit code 2 when a difference is found).
//! Output of `program create` and `key create` is the new id or key alone, so scripts can
//! capture it: `KEY=$(refgrow-server key create --program acme)`.

use clap::{Parser, Subcommand};

use crate::clock::{ms_to_datetime, Clock};
use crate::config::Config;
use crate::db::{api_keys, programs, Db};
use crate::error::ApiError;
use crate::services::api_keys::create_key;

/// Refgrow: a self-hosted, API-first affiliate and referral platform.
#[derive(Debug, Parser)]
#[command(name = "refgrow-server", version, about)]
pub struct Cli {
    /// Settings shared by every command.
    #[command(flatten)]
    pub config: Config,
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Migrate the database, then serve the API (the default).
    Serve,
    /// Run pending migrations and exit.
    Migrate,
    /// Manage programs.
    Program {
        /// What to do with programs.
        #[command(subcommand)]
        action: ProgramAction,
    },
    /// Manage API keys.
    Key {
        /// What to do with keys.
        #[command(subcommand)]
        action: KeyAction,
    },
    /// Check the ledger invariants of docs/money.md (commissions from their sales,
    /// rollups from the money rows, payouts from their commissions) in every program, or
    /// one. Prints each program's report as one JSON line; exits 0 when every invariant
    /// holds, 2 when a difference is found, 1 on an error. Safe on a live database.
    Verify {
        /// Only this program (name or id).
        #[arg(long)]
        program: Option<String>,
    },
    /// Manage the key that encrypts secrets at rest (`REFGROW_SECRET_KEY`).
    Secret {
        /// What to do.
        #[command(subcommand)]
        action: SecretAction,
    },
}

/// Secret-key commands.
#[derive(Debug, Subcommand)]
pub enum SecretAction {
    /// Print a new random key (base64 of 32 bytes) for `REFGROW_SECRET_KEY`. It is printed
    /// this once and stored nowhere.
    Generate,
    /// Re-encrypt every stored secret under a new key (and encrypt any still in clear), in
    /// one transaction. Stop the servers first, then start them with the new key. When the
    /// key came from the key file (no `REFGROW_SECRET_KEY`), the file is rewritten.
    Rotate {
        /// The key the secrets are encrypted under now (default: the server's key, from
        /// `REFGROW_SECRET_KEY` or the key file).
        #[arg(long)]
        old: Option<crate::config::Redacted>,
        /// The new key (from `secret generate`); or set `REFGROW_NEW_SECRET_KEY`, which keeps
        /// it out of the process list.
        #[arg(long, env = "REFGROW_NEW_SECRET_KEY", hide_env_values = true)]
        new: crate::config::Redacted,
    },
}

/// Program commands.
#[derive(Debug, Subcommand)]
pub enum ProgramAction {
    /// Create a program; prints its id alone.
    Create {
        /// A unique name.
        #[arg(long)]
        name: String,
        /// Its currency.
        #[arg(long, default_value = "USD")]
        currency: String,
    },
}

/// Key commands.
#[derive(Debug, Subcommand)]
pub enum KeyAction {
    /// Create a key; prints the key alone (it is shown only this once).
    Create {
        /// The program's name or id.
        #[arg(long)]
        program: String,
        /// A label to recognize the key by.
        #[arg(long)]
        label: Option<String>,
        /// Make a read-only key.
        #[arg(long)]
        read_only: bool,
    },
    /// List a program's keys (never the secrets).
    List {
        /// The program's name or id.
        #[arg(long)]
        program: String,
    },
    /// Revoke a key; it fails on its next request (within 2 s on a running server).
    Revoke {
        /// The key's id (`key_…`).
        key_id: String,
    },
    /// Rotate a key: create a new one with the same label and scopes, revoke the old one,
    /// and print the new key alone.
    Rotate {
        /// The old key's id (`key_…`).
        key_id: String,
    },
}

/// Runs a non-serving command, printing its result; returns the process exit code.
pub fn run_admin(config: &Config, command: Command) -> i32 {
    if let Command::Secret {
        action: SecretAction::Generate,
    } = command
    {
        println!("{}", crate::secrets::generate_key());
        return 0;
    }
    let db = match Db::connect(&config.database_url) {
        Ok(db) => db,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    let now = Clock::system().now_ms();
    let mut differences = false;
    let result = (|| -> Result<(), ApiError> {
        let mut c = db.write_conn()?;
        match command {
            Command::Serve | Command::Migrate => {
                eprintln!("migrations are up to date");
            }
            Command::Program {
                action: ProgramAction::Create { name, currency },
            } => {
                let row = crate::services::program::create(&mut c, &name, &currency, now)?;
                println!("{}", row.id);
            }
            Command::Secret { action } => match action {
                SecretAction::Generate => println!("{}", crate::secrets::generate_key()),
                SecretAction::Rotate { old, new } => {
                    let n = rotate_secret_key(config, &mut c, old.as_ref(), &new)?;
                    eprintln!("re-encrypted {n} stored secrets");
                }
            },
            Command::Verify { program } => {
                let reports = match program {
                    Some(p) => {
                        let prog = programs::find_by_id_or_name(&mut c, &p)?
                            .ok_or_else(|| ApiError::not_found("program"))?;
                        let r = crate::services::reconcile::program(&mut c, &prog.id)?;
                        vec![(prog.id, r)]
                    }
                    None => crate::services::reconcile::all(&mut c)?,
                };
                for (id, r) in reports {
                    differences |= !r.ok;
                    eprintln!(
                        "{id}: {} ({} commissions, {} conversions, {} payouts, {} rollup rows; {} differences)",
                        if r.ok { "ok" } else { "DIFFERENCES" },
                        r.checked.commissions,
                        r.checked.conversions,
                        r.checked.payouts,
                        r.checked.rollup_rows,
                        r.difference_count
                    );
                    let line = serde_json::json!({"programId": id, "report": r});
                    println!("{line}");
                }
            }
            Command::Key { action } => match action {
                KeyAction::Create {
                    program,
                    label,
                    read_only,
                } => {
                    let prog = programs::find_by_id_or_name(&mut c, &program)?
                        .ok_or_else(|| ApiError::not_found("program"))?;
                    let (_, secret) = create_key(&mut c, &prog.id, label, read_only, now)?;
                    println!("{secret}");
                }
                KeyAction::List { program } => {
                    let prog = programs::find_by_id_or_name(&mut c, &program)?
                        .ok_or_else(|| ApiError::not_found("program"))?;
                    println!("ID\tPREFIX\tSCOPES\tLABEL\tCREATED\tLAST_USED\tREVOKED\tEXPIRES");
                    for k in api_keys::list(&mut c, &prog.id)? {
                        let t = |v: Option<i64>| {
                            v.map(|ms| {
                                ms_to_datetime(ms)
                                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                            })
                            .unwrap_or_else(|| "-".into())
                        };
                        println!(
                            "{}\t{}…\t{}\t{}\t{}\t{}\t{}\t{}",
                            k.id,
                            k.key_prefix,
                            k.scopes,
                            k.label.as_deref().unwrap_or("-"),
                            t(Some(k.created_at)),
                            t(k.last_used_at),
                            t(k.revoked_at),
                            t(k.expires_at)
                        );
                    }
                }
                KeyAction::Rotate { key_id } => {
                    let old = api_keys::find(&mut c, &key_id)?
                        .filter(|k| k.revoked_at.is_none())
                        .ok_or_else(|| ApiError::not_found("live API key"))?;
                    let read_only = !old.scopes.split(',').any(|s| s.trim() == "write");
                    let (new_id, secret) = diesel::Connection::transaction(&mut *c, |c| {
                        let (id, secret) =
                            create_key(c, &old.program_id, old.label.clone(), read_only, now)?;
                        api_keys::set_rate_limit(c, &id, old.rate_limit_per_sec)?;
                        api_keys::revoke(c, &old.id, now)?;
                        Ok::<_, ApiError>((id, secret))
                    })?;
                    eprintln!("{} replaced by {new_id}", old.id);
                    println!("{secret}");
                }
                KeyAction::Revoke { key_id } => {
                    if api_keys::find(&mut c, &key_id)?.is_none() {
                        return Err(ApiError::not_found("API key"));
                    }
                    if !api_keys::revoke(&mut c, &key_id, now)? {
                        eprintln!("{key_id} was already revoked");
                    }
                    println!("{key_id}");
                }
            },
        }
        Ok(())
    })();
    match result {
        Ok(()) if differences => 2,
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {}", e.message);
            1
        }
    }
}

/// `secret rotate`: re-encrypts every stored secret under `new`; rewrites the key file when
/// the key came from it. Returns how many values were written.
pub fn rotate_secret_key(
    config: &Config,
    c: &mut crate::db::DbConn,
    old: Option<&crate::config::Redacted>,
    new: &crate::config::Redacted,
) -> Result<usize, ApiError> {
    use crate::secrets::{key_file_path, Sealer};
    let bad = |which: &str, e: crate::secrets::SecretError| {
        ApiError::bad_request(format!("--{which}: {e}"))
    };
    let new_text = new.value().unwrap_or_default();
    let new_sealer = Sealer::from_base64(new_text).map_err(|e| bad("new", e))?;
    let from_file = config.secret_key.as_ref().and_then(|k| k.value()).is_none();
    let old_sealer = match old.and_then(|o| o.value()) {
        Some(o) => Sealer::from_base64(o).map_err(|e| bad("old", e))?,
        None => {
            let path = key_file_path(config);
            if from_file && !path.exists() {
                return Err(ApiError::bad_request(format!(
                    "no --old key, no REFGROW_SECRET_KEY and no key file at {}",
                    path.display()
                )));
            }
            crate::secrets::load(config).map_err(|e| bad("old", e))?
        }
    };
    let n = crate::secrets::reseal_all(c, Some(&old_sealer), &new_sealer)?;
    if from_file {
        let path = key_file_path(config);
        if path.exists() {
            write_key_file(&path, new_text).map_err(|e| {
                ApiError::bad_request(format!(
                    "the secrets are re-encrypted, but {} could not be rewritten ({e}): set \
                     REFGROW_SECRET_KEY to the new key",
                    path.display()
                ))
            })?;
            eprintln!("wrote the new key to {}", path.display());
            return Ok(n);
        }
    }
    eprintln!("now start every replica with REFGROW_SECRET_KEY set to the new key");
    Ok(n)
}

/// Replaces the key file atomically (a temporary file, mode 0600, renamed over it).
fn write_key_file(path: &std::path::Path, key: &str) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("key.new");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(&tmp)?;
    f.write_all(format!("{}\n", key.trim()).as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}
