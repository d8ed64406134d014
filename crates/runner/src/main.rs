//! The `runner` binary: see `runner --help`.

use clap::Parser;

fn main() {
    let cli = runner::cli::Cli::parse();
    // One thread runs every task, `run` included: steps wait on children
    // and pipes, not on the CPU, and a step that starts, waits for and
    // reads a child on one thread is cheaper than one passed between
    // workers (each hand-off a wake-up of another CPU). Blocking work goes
    // to tokio's blocking pool, as on any runtime.
    let mut builder = tokio::runtime::Builder::new_current_thread();
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
