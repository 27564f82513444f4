//! `soak`: floods a node with large-gas-limit transactions at a fixed rate for a fixed time while
//! WebSocket subscribers read slowly or never; prints what the node accepted, confirmed and did to
//! the subscribers as one JSON object. `benches/soak.sh` runs it against `kaimeng dev` and samples
//! the node's memory. The logic lives in `benches/src/soak/`.
//!
//! `cargo run -p kaimeng-benches --features loadgen --bin soak -- --help`

#[cfg(feature = "loadgen")]
#[path = "../soak/mod.rs"]
mod soak;

#[cfg(feature = "loadgen")]
fn main() -> std::process::ExitCode {
    use clap::Parser;
    use std::process::ExitCode;

    let args = soak::Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("soak: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(soak::run(&args)) {
        Ok(report) => match serde_json::to_string(&report) {
            Ok(json) => {
                println!("{json}");
                ExitCode::SUCCESS
            }
            Err(err) => {
                eprintln!("soak: cannot encode the report: {err}");
                ExitCode::FAILURE
            }
        },
        Err(err) => {
            eprintln!("soak: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Without the `loadgen` feature (e.g. `cargo build --workspace`) there is nothing to run.
#[cfg(not(feature = "loadgen"))]
fn main() {
    eprintln!("soak: build with `--features loadgen`");
    std::process::exit(2);
}
