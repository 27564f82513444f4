//! `loadgen`: measures confirmed ERC-20 transfers per second and their latency on a node.
//!
//! `cargo run --release -p kaimeng-benches --features loadgen --bin loadgen -- --help`.
//! The logic lives in `benches/src/loadgen/`; this file only parses options and prints.

#[path = "../loadgen/mod.rs"]
mod loadgen;

use std::process::ExitCode;

use clap::Parser;

use loadgen::config::{Args, RunConfig};

fn main() -> ExitCode {
    let config = match RunConfig::try_from(Args::parse()) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("loadgen: {err}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("loadgen: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(loadgen::run(&config)) {
        Ok(report) => {
            if config.json {
                eprintln!("{report}");
                match serde_json::to_string(&report) {
                    Ok(json) => println!("{json}"),
                    Err(err) => {
                        eprintln!("loadgen: cannot encode the report: {err}");
                        return ExitCode::FAILURE;
                    }
                }
            } else {
                println!("{report}");
            }
            if report.timed_out || report.confirmed == 0 {
                ExitCode::from(3)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(err) => {
            eprintln!("loadgen: {err:#}");
            ExitCode::FAILURE
        }
    }
}
