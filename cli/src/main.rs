//! `mongoelector`: run a command under a MongoDB lock (`lock`) or as the
//! elected leader of a group (`elect`), and look at or clear locks and
//! elections (`show`, `status`, `release --force`). Built on the Rust core.

mod args;
mod elect_cmd;
mod exit;
mod lock_cmd;
mod release_cmd;
mod run_child;
mod show;
mod signals;

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use mongoelector::core::log::{set_sink, Level};

use args::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.verbose {
        set_sink(
            Some(Arc::new(|level, msg: &str| {
                eprintln!("mongoelector [{level:?}] {msg}")
            })),
            Level::Debug,
        );
    }
    let res = match &cli.command {
        Command::Lock(a) => lock_cmd::run(&cli, a),
        Command::Elect(a) => elect_cmd::run(&cli, a),
        Command::Status(a) => show::status(&cli, a),
        Command::Show(a) => show::show(&cli, a),
        Command::Release(a) => release_cmd::run(&cli, a),
    };
    match res {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            eprintln!("mongoelector: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}
