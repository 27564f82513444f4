//! The `kaimeng` binary: a thin CLI over the `kaimeng` library.

use clap::Parser;

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
