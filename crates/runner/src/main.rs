//! The `runner` binary: see `runner --help`.

use clap::Parser;

fn main() {
    let cli = runner::cli::Cli::parse();
    // Only `run` and `cleanup` run steps concurrently; the other commands
    // start faster on a current-thread runtime.
    let mut builder = match cli.command {
        runner::cli::Command::Run(_) | runner::cli::Command::Cleanup { .. } => {
            tokio::runtime::Builder::new_multi_thread()
        }
        _ => tokio::runtime::Builder::new_current_thread(),
    };
    let rt = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(runner::cli::EXIT_CONFIG);
        }
    };
    if matches!(cli.command, runner::cli::Command::Run(_)) {
        // Before anything else runs: a signal from now on is handled.
        let _guard = rt.enter();
        runner::signals::install_early();
    }
    let code = rt.block_on(runner::cli::main(cli));
    // Reader threads of daemonized grandchildren may still hold pipes; don't
    // wait for them.
    rt.shutdown_timeout(std::time::Duration::from_millis(200));
    std::process::exit(code);
}
