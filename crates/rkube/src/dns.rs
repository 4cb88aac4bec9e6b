//! Cluster DNS as `rkube server` runs it (k3s ships CoreDNS as a pod; we serve in-process):
//! the DNS server on the node's address, and the `kube-system/kube-dns` Service on the cluster
//! DNS address (the 10th service IP) whose selectorless Endpoints point at that server, so the
//! proxy forwards pods' queries to it and the mirroring controller publishes its slice.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use clap::Args;
use k8s_openapi::api::core::v1::{Endpoints, Service};
use kube::api::{Api, PostParams};
use serde_json::json;

/// Cluster DNS flags.
#[derive(Args, Debug, Clone)]
pub struct DnsArgs {
    /// Do not run cluster DNS (pods' resolv.conf still names the cluster DNS address).
    #[arg(long)]
    pub disable_dns: bool,
    /// The port the DNS server listens on at the node address (the Service stays on 53).
    #[arg(long, default_value_t = 53)]
    pub dns_port: u16,
}

/// Starts the DNS server on `listen_ip` and publishes it as `kube-dns` on `cluster_dns`.
pub async fn spawn(
    args: &DnsArgs,
    client: kube::Client,
    listen_ip: IpAddr,
    cluster_dns: IpAddr,
    cluster_domain: &str,
) -> anyhow::Result<rkube_dns::DnsServer> {
    let mut config = rkube_dns::DnsConfig::new(vec![SocketAddr::new(listen_ip, args.dns_port)]);
    config.cluster_domain = cluster_domain.to_owned();
    config.upstreams = rkube_dns::read_resolv_conf("/etc/resolv.conf".as_ref()).unwrap_or_default();
    let server = rkube_dns::DnsServer::start(config, client.clone())
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "cluster DNS on {listen_ip}:{}: {e}\n(is another DNS server using that port? pick one with --dns-port, or --disable-dns)",
                args.dns_port
            )
        })?;
    let port = server
        .local_addrs()
        .first()
        .map_or(args.dns_port, SocketAddr::port);
    publish(&client, listen_ip, port, cluster_dns).await?;
    Ok(server)
}

/// Creates the `kube-dns` Service (if missing) and points its Endpoints at `ip:port`.
async fn publish(
    client: &kube::Client,
    ip: IpAddr,
    port: u16,
    cluster_dns: IpAddr,
) -> anyhow::Result<()> {
    let labels = json!({"k8s-app": "kube-dns", "kubernetes.io/name": "CoreDNS",
        "kubernetes.io/cluster-service": "true"});
    let services: Api<Service> = Api::namespaced(client.clone(), "kube-system");
    if services.get_opt("kube-dns").await?.is_none() {
        let svc: Service = serde_json::from_value(json!({
            "metadata": {"name": "kube-dns", "namespace": "kube-system", "labels": labels,
                "annotations": {"prometheus.io/port": "9153", "prometheus.io/scrape": "true"}},
            "spec": {"clusterIP": cluster_dns.to_string(), "ports": [
                {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53}]}
        }))?;
        services
            .create(&PostParams::default(), &svc)
            .await
            .map_err(|e| anyhow::anyhow!("creating the kube-dns Service on {cluster_dns}: {e}"))?;
    }
    let endpoints: Api<Endpoints> = Api::namespaced(client.clone(), "kube-system");
    let mut want: Endpoints = serde_json::from_value(json!({
        "metadata": {"name": "kube-dns", "namespace": "kube-system", "labels": labels},
        "subsets": [{"addresses": [{"ip": ip.to_string()}], "ports": [
            {"name": "dns", "port": port, "protocol": "UDP"},
            {"name": "dns-tcp", "port": port, "protocol": "TCP"}]}]
    }))?;
    match endpoints.get_opt("kube-dns").await? {
        None => {
            endpoints.create(&PostParams::default(), &want).await?;
        }
        Some(have) if have.subsets != want.subsets => {
            want.metadata.resource_version = have.metadata.resource_version;
            endpoints
                .replace("kube-dns", &PostParams::default(), &want)
                .await?;
        }
        Some(_) => {}
    }
    Ok(())
}

/// Flags of `rkube dns`.
#[derive(Args, Debug)]
pub struct DnsCmdArgs {
    /// The kubeconfig to reach the apiserver with (else $KUBECONFIG, else ~/.kube/config).
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// The address to answer on (UDP and TCP).
    #[arg(long, default_value = "0.0.0.0:53")]
    listen: SocketAddr,
    /// The cluster's DNS domain.
    #[arg(long, default_value = "cluster.local")]
    cluster_domain: String,
    /// Also publish this server as kube-system/kube-dns on this Service address (the
    /// listen address must then be one pods can reach).
    #[arg(long)]
    cluster_dns: Option<IpAddr>,
}

/// `rkube dns`: cluster DNS alone.
pub fn run(args: DnsCmdArgs) -> anyhow::Result<()> {
    crate::server::init_logging();
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let client = crate::server::component_client(args.kubeconfig.as_deref()).await?;
        let flags = DnsArgs {
            disable_dns: false,
            dns_port: args.listen.port(),
        };
        let server = match args.cluster_dns {
            Some(dns_ip) => {
                spawn(
                    &flags,
                    client,
                    args.listen.ip(),
                    dns_ip,
                    &args.cluster_domain,
                )
                .await?
            }
            None => {
                let mut config = rkube_dns::DnsConfig::new(vec![args.listen]);
                config.cluster_domain = args.cluster_domain.clone();
                config.upstreams =
                    rkube_dns::read_resolv_conf("/etc/resolv.conf".as_ref()).unwrap_or_default();
                rkube_dns::DnsServer::start(config, client)
                    .await
                    .map_err(|e| anyhow::anyhow!("cluster DNS on {}: {e}", args.listen))?
            }
        };
        eprintln!("rkube dns: answering on {:?}", server.local_addrs());
        crate::server::stop_signal().await?;
        server.stop().await;
        Ok(())
    })
}
