//! The rkube binary: parses flags into typed configs and starts components. Thin on purpose:
//! the components are libraries.

use clap::{Parser, Subcommand};

/// A Kubernetes-compatible cluster in one binary.
#[derive(Parser, Debug)]
#[command(name = "rkube", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print the version of this binary and of the Kubernetes API it serves.
    Version,
}

/// The Kubernetes API version rkube implements (k8s-openapi's newest enabled version).
const KUBERNETES_API_VERSION: &str = "v1.33";

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Version => {
            println!("rkube {}", env!("CARGO_PKG_VERSION"));
            println!("Kubernetes API {KUBERNETES_API_VERSION}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn version_parses() {
        let cli = Cli::try_parse_from(["rkube", "version"]).unwrap();
        assert!(matches!(cli.command, Command::Version));
        assert!(Cli::try_parse_from(["rkube", "no-such-command"]).is_err());
    }
}
