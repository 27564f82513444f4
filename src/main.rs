//! The `kaimeng` binary: a thin CLI over the `kaimeng` library.

use clap::Parser;

// Allocation-heavy paths (JSON-RPC, block building) spend less time in the allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = kaimeng::cli::Cli::parse();
    match kaimeng::cli::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
