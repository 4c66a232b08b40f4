//! The `refgrow-server` binary.

use clap::Parser;
use mimalloc::MiMalloc;
use refgrow_server::cli::{run_admin, Cli, Command};
use refgrow_server::clock::Clock;

/// mimalloc: the write path allocates a lot of small strings (SQL, JSON); glibc's malloc
/// showed up at ~15% of the writer thread's profile.
#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

fn main() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let cli = Cli::parse();
    match cli.command {
        None | Some(Command::Serve) => std::process::exit(serve(cli.config)),
        Some(cmd) => std::process::exit(run_admin(&cli.config, cmd)),
    }
}

fn serve(config: refgrow_server::config::Config) -> i32 {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return 1;
        }
    };
    runtime.block_on(async move {
        let running = match refgrow_server::app::start(config, Clock::system()) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("error: {e}");
                return 1;
            }
        };
        log::info!(
            "refgrow listening on http://{} ({:?})",
            running.addr,
            running.state.db.backend
        );
        let result = running.server.await;
        // Graceful stop: actix stopped accepting on SIGINT/SIGTERM and in-flight requests
        // have finished; finish or release webhook deliveries, write every held click
        // (bounded by REFGROW_SHUTDOWN_TIMEOUT_SECS) and the audit log.
        let stopped = refgrow_server::app::shutdown(&running.state, &running.deliveries).await;
        if stopped.clicks.lost > 0 {
            eprintln!(
                "error: {} acknowledged clicks could not be written to the database nor to \
                 the spill file and are lost",
                stopped.clicks.lost
            );
            return stopped.exit_code();
        }
        match result {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("error: {e}");
                1
            }
        }
    })
}
