//! The rkube binary: parses flags into typed configs and starts components. Thin on purpose:
//! the components are libraries.

mod agent;
mod agent_cmd;
mod controller_manager;
mod dns;
mod images;
mod proxy;
mod scheduler;
mod server;
mod sim;

use clap::{Parser, Subcommand};

/// mimalloc rather than glibc's malloc: under write load the apiserver spent about a quarter
/// of its CPU in glibc's allocator (perf, docs/benchmarks-history.md, session 10).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A Kubernetes-compatible cluster in one binary.
#[derive(Parser, Debug)]
#[command(name = "rkube", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the control plane: the Kubernetes API on the embedded store (or etcd).
    Server(Box<server::ServerArgs>),
    /// Join a cluster as a node: the kubelet on a private containerd.
    Agent(Box<agent_cmd::AgentCmdArgs>),
    /// Manage the node's container images.
    Images(images::ImagesArgs),
    /// Simulated nodes (like kwok) for scale tests: `rkube sim nodes --count N`.
    Sim(sim::SimArgs),
    /// Run the scheduler alone against an apiserver.
    Scheduler(scheduler::SchedulerCmdArgs),
    /// Run the controller manager alone against an apiserver.
    ControllerManager(controller_manager::ControllerManagerCmdArgs),
    /// Run the Service proxy (nftables) alone for this node.
    Proxy(proxy::ProxyCmdArgs),
    /// Run cluster DNS alone.
    Dns(dns::DnsCmdArgs),
    /// Print the version of this binary and of the Kubernetes API it serves.
    Version,
}

/// The Kubernetes API version rkube implements (k8s-openapi's newest enabled version).
const KUBERNETES_API_VERSION: &str = "v1.33";

fn main() -> anyhow::Result<()> {
    rkube_component::allocator::tune();
    let cli = Cli::parse();
    match cli.command {
        Command::Version => {
            println!("rkube {}", env!("CARGO_PKG_VERSION"));
            println!("Kubernetes API {KUBERNETES_API_VERSION}");
            Ok(())
        }
        Command::Server(args) => server::run(*args),
        Command::Images(args) => images::run(args),
        Command::Agent(args) => agent_cmd::run(*args),
        Command::Scheduler(args) => scheduler::run(args),
        Command::ControllerManager(args) => controller_manager::run(args),
        Command::Sim(args) => sim::run(args),
        Command::Proxy(args) => proxy::run(args),
        Command::Dns(args) => dns::run(args),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use rkube_apiserver::admission::{AdmissionPlugins, Plugin};

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

    #[test]
    fn server_flags_follow_k3s() {
        let cli = Cli::try_parse_from([
            "rkube",
            "server",
            "--data-dir",
            "/tmp/x",
            "--https-listen-port",
            "7443",
            "--datastore-endpoint",
            "http://127.0.0.1:2379",
            "--tls-san",
            "a.example",
            "--tls-san",
            "10.0.0.1",
        ])
        .unwrap();
        let Command::Server(args) = cli.command else {
            panic!("not server")
        };
        let config = args.config().unwrap();
        assert_eq!(config.https_port, 7443);
        assert_eq!(config.tls_sans, ["a.example", "10.0.0.1"]);
        assert_eq!(
            config.datastore_endpoint.as_deref(),
            Some("http://127.0.0.1:2379")
        );
        assert_eq!(config.admission, AdmissionPlugins::default());
    }

    fn server_args(flags: &[&str]) -> server::ServerArgs {
        let cli = Cli::try_parse_from(["rkube", "server"].iter().chain(flags)).unwrap();
        let Command::Server(args) = cli.command else {
            panic!("not server")
        };
        *args
    }

    #[test]
    fn server_disables_admission_plugins_by_upstream_name() {
        let args = server_args(&["--disable-admission-plugins=ServiceAccount,Priority"]);
        let admission = args.config().unwrap().admission;
        assert!(!admission.runs(Plugin::ServiceAccount));
        assert!(!admission.runs(Plugin::Priority));
        assert!(admission.runs(Plugin::NamespaceLifecycle));
        let args = server_args(&["--disable-admission-plugins", "Priority,NoSuchPlugin"]);
        let err = args.config().unwrap_err();
        assert!(
            err.to_string()
                .starts_with("disable-admission-plugins plugin \"NoSuchPlugin\" is unknown"),
            "{err}"
        );
    }
}
