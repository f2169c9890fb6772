//! The `opsdeck` binary: command-line parsing and dispatch only. Each
//! subcommand lives in its own module under `cli/`.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::dispatch(args) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("opsdeck: {err:#}");
            ExitCode::from(2)
        }
    }
}
