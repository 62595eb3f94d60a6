//! `kyotod`: the Kyoto Ledger node.
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = kyoto_node::daemon::Args::parse();
    match kyoto_node::daemon::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kyotod: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
