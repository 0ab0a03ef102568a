//! [`Cluster`]: several routed `nats-server` nodes, JetStream by default.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;

use crate::builder::ServerBuilder;
use crate::config::{has_top_level_key, ClusterConfig};
use crate::ports::free_port;
use crate::readiness::{poll_until, Abort};
use crate::server::{Frozen, Server, ServerSpec};

/// How often a cluster start is retried with fresh ports after a port clash.
const START_ATTEMPTS: usize = 4;

/// A cluster of `nats-server` nodes named `n0`, `n1`, ... on `127.0.0.1`,
/// routed to each other, each with its own ports and store directory.
///
/// Nodes are addressed by index. Dropping the cluster kills every node.
///
/// ```no_run
/// use std::time::Duration;
/// use nats_testkit::Cluster;
///
/// let mut cluster = Cluster::new(3);
/// let leader = cluster.wait_meta_leader(Duration::from_secs(10)).unwrap();
/// cluster.kill(leader);
/// let new_leader = cluster.wait_meta_leader(Duration::from_secs(20)).unwrap();
/// assert_ne!(leader, new_leader);
/// ```
#[derive(Debug)]
#[must_use = "dropping a Cluster kills its nodes"]
pub struct Cluster {
    name: String,
    servers: Vec<Server>,
    jetstream: bool,
}

/// Options for starting a [`Cluster`]; created by [`Cluster::builder`].
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `.start()` is called"]
pub struct ClusterBuilder {
    size: usize,
    name: Option<String>,
    node: ServerBuilder,
}

impl ClusterBuilder {
    /// Enables or disables JetStream on every node (default: enabled).
    pub fn jetstream(mut self, enabled: bool) -> Self {
        self.node = self.node.jetstream(enabled);
        self
    }

    /// Sets the JetStream domain of every node; implies JetStream.
    pub fn jetstream_domain(mut self, domain: impl Into<String>) -> Self {
        self.node = self.node.jetstream_domain(domain);
        self
    }

    /// Adds lines inside every node's generated `jetstream { }` block.
    pub fn jetstream_config(mut self, text: &str) -> Self {
        self.node = self.node.jetstream_config(text);
        self
    }

    /// Appends configuration text verbatim to every node's `server.conf`.
    /// It must not contain top-level `jetstream` or `cluster` blocks.
    pub fn config(mut self, text: &str) -> Self {
        self.node = self.node.config(text);
        self
    }

    /// Runs this `nats-server` version on every node.
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.node = self.node.version(version);
        self
    }

    /// Runs this `nats-server` binary on every node.
    pub fn binary(mut self, path: impl Into<PathBuf>) -> Self {
        self.node = self.node.binary(path);
        self
    }

    /// Sets the cluster name (default: a unique `testkit-c-<pid>-<n>`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// How long each node, and then route formation / meta-leader election,
    /// may take (default 10 s each).
    pub fn ready_timeout(mut self, timeout: Duration) -> Self {
        self.node = self.node.ready_timeout(timeout);
        self
    }

    /// Passes an extra command-line argument to every node.
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.node = self.node.arg(arg);
        self
    }

    /// Starts all nodes and waits until each is ready, all routes are up
    /// and, with JetStream, a meta leader is elected.
    ///
    /// # Panics
    ///
    /// Panics with the reason and the log tails on failure.
    pub fn start(self) -> Cluster {
        self.try_start().unwrap_or_else(|e| panic!("{e}"))
    }

    /// Like [`start`](Self::start) but returns the failure.
    ///
    /// # Errors
    ///
    /// Returns a message with the reason and the log tails.
    pub fn try_start(self) -> Result<Cluster, String> {
        if self.size == 0 {
            return Err("nats-testkit: a cluster needs at least one node".to_owned());
        }
        self.node.check_custom_config()?;
        if has_top_level_key(&self.node.custom, "cluster") {
            return Err(
                "nats-testkit: the custom config must not have a `cluster` block".to_owned(),
            );
        }
        let binary = self.node.resolve_binary();
        let name = self.name.clone().unwrap_or_else(unique_cluster_name);
        let jetstream = self.node.jetstream;
        let mut servers = Vec::with_capacity(self.size);
        for i in 0..self.size {
            let node = self.node.clone();
            servers.push(Server::prepare(ServerSpec {
                binary: binary.clone(),
                server_name: format!("n{i}"),
                jetstream,
                domain: node.domain,
                jetstream_extra: node.jetstream_extra,
                custom: node.custom,
                cluster: None,
                health_path: jetstream.then_some("/healthz?js-enabled-only=true"),
                ready_timeout: node.ready_timeout,
                args: node.args,
            })?);
        }
        let mut cluster = Cluster {
            name,
            servers,
            jetstream,
        };
        cluster.first_start(self.node.ready_timeout)?;
        Ok(cluster)
    }
}

impl Cluster {
    /// Starts an `n`-node JetStream cluster and waits until a meta leader is
    /// elected.
    ///
    /// # Panics
    ///
    /// Panics with the log tails if the cluster does not form.
    pub fn new(n: usize) -> Cluster {
        Self::builder(n).start()
    }

    /// A builder for an `n`-node cluster (JetStream enabled by default).
    pub fn builder(n: usize) -> ClusterBuilder {
        ClusterBuilder {
            size: n,
            name: None,
            node: ServerBuilder::new().jetstream(true),
        }
    }

    fn first_start(&mut self, timeout: Duration) -> Result<(), String> {
        for attempt in 1..=START_ATTEMPTS {
            if attempt > 1 {
                self.servers.iter_mut().for_each(Server::pick_ports);
            }
            let route_ports: Vec<u16> = self.servers.iter().map(|_| free_port()).collect();
            for (server, route_port) in self.servers.iter_mut().zip(&route_ports) {
                server.set_cluster(ClusterConfig {
                    name: self.name.clone(),
                    route_port: *route_port,
                    route_ports: route_ports.clone(),
                });
            }
            for server in &mut self.servers {
                server.spawn().map_err(|e| server.failure_report(&e))?;
            }
            let failed = self
                .servers
                .iter()
                .enumerate()
                .find_map(|(i, s)| s.wait_ready(timeout).err().map(|e| (i, e)));
            let Some((index, reason)) = failed else {
                break;
            };
            let report = self.servers[index].failure_report(&reason);
            self.servers.iter_mut().for_each(Server::stop);
            if attempt < START_ATTEMPTS && self.servers.iter().any(Server::port_clash) {
                continue;
            }
            return Err(report);
        }
        self.wait_routes(timeout)
            .map_err(|e| self.report(&format!("routes did not form: {e}")))?;
        if self.jetstream {
            self.wait_meta_leader(timeout)
                .map_err(|e| self.report(&format!("no meta leader: {e}")))?;
            self.wait_meta_peers(timeout)
                .map_err(|e| self.report(&format!("meta peers not current: {e}")))?;
        }
        Ok(())
    }

    fn report(&self, reason: &str) -> String {
        let mut out = format!("nats-testkit: cluster `{}`: {reason}\n", self.name);
        for server in &self.servers {
            out.push_str(&server.failure_report(reason));
        }
        out
    }

    /// The cluster name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The number of nodes.
    pub fn len(&self) -> usize {
        self.servers.len()
    }

    /// True if the cluster has no nodes (never, once started).
    pub fn is_empty(&self) -> bool {
        self.servers.is_empty()
    }

    /// All nodes, in index order.
    pub fn servers(&self) -> &[Server] {
        &self.servers
    }

    /// Node `i`. Panics if `i` is out of range.
    pub fn server(&self, i: usize) -> &Server {
        &self.servers[i]
    }

    /// Node `i`, mutably. Panics if `i` is out of range.
    pub fn server_mut(&mut self, i: usize) -> &mut Server {
        &mut self.servers[i]
    }

    /// The client URL of node `i`.
    pub fn url(&self, i: usize) -> String {
        self.servers[i].url()
    }

    /// The client URLs of all nodes.
    pub fn urls(&self) -> Vec<String> {
        self.servers.iter().map(Server::url).collect()
    }

    /// All client URLs joined with commas: `nats://a,nats://b,nats://c`.
    pub fn client_urls_joined(&self) -> String {
        self.urls().join(",")
    }

    /// Kills node `i` with `SIGKILL` (same as [`stop`](Self::stop)).
    pub fn kill(&mut self, i: usize) {
        self.servers[i].stop();
    }

    /// Kills node `i` with `SIGKILL`; see [`Server::stop`].
    pub fn stop(&mut self, i: usize) {
        self.servers[i].stop();
    }

    /// Stops node `i` gracefully with `SIGTERM`; see [`Server::shutdown`].
    pub fn shutdown(&mut self, i: usize) {
        self.servers[i].shutdown();
    }

    /// Starts node `i` again (same ports and store) and waits until it
    /// answers clients and has JetStream enabled. It may still be catching
    /// up with the cluster; see [`wait_healthy`](Self::wait_healthy).
    ///
    /// # Panics
    ///
    /// Panics with the log tail if the node does not become ready.
    pub fn start(&mut self, i: usize) {
        self.servers[i].start();
    }

    /// Gracefully restarts node `i`; see [`Server::restart`] and
    /// [`start`](Self::start).
    pub fn restart(&mut self, i: usize) {
        self.servers[i].restart();
    }

    /// Freezes node `i` with `SIGSTOP`; the guard thaws it when dropped.
    /// See [`Server::freeze`].
    ///
    /// # Panics
    ///
    /// Panics if `i` is out of range or the node is not running.
    pub fn freeze(&self, i: usize) -> Frozen<'_> {
        self.servers[i].freeze()
    }

    /// Continues node `i` after [`freeze`](Self::freeze); see
    /// [`Server::thaw`].
    pub fn thaw(&self, i: usize) {
        self.servers[i].thaw();
    }

    /// The index of the JetStream meta leader if every running node agrees
    /// on one that is running (one poll of `/jsz` on each node, whose
    /// `meta_cluster.leader` names the leader).
    pub fn meta_leader(&self) -> Option<usize> {
        self.meta_leader_once().ok()
    }

    fn meta_leader_once(&self) -> Result<usize, String> {
        let mut agreed: Option<usize> = None;
        for server in self.servers.iter().filter(|s| s.is_running()) {
            let jsz = server.monitor_json("/jsz")?;
            let leader = jsz
                .pointer("/meta_cluster/leader")
                .and_then(|v| v.as_str())
                .unwrap_or_default();
            let index = self
                .servers
                .iter()
                .position(|s| s.server_name() == leader && s.is_running())
                .ok_or_else(|| {
                    format!("{} reports meta leader {leader:?}", server.server_name())
                })?;
            match agreed {
                Some(previous) if previous != index => {
                    return Err("nodes disagree on the meta leader".to_owned())
                }
                _ => agreed = Some(index),
            }
        }
        agreed.ok_or_else(|| "no node is running".to_owned())
    }

    /// Waits until every running node reports the same running node as
    /// JetStream meta leader, and returns its index.
    ///
    /// After the leader is killed the others keep naming it for a few
    /// seconds (about 5 s with 2.14) until they elect a new one.
    ///
    /// # Errors
    ///
    /// Returns the last reason if no leader is agreed within `timeout`.
    pub fn wait_meta_leader(&self, timeout: Duration) -> Result<usize, String> {
        poll_until(timeout, || self.meta_leader_once().map_err(Abort::Retry))
    }

    /// Waits until the meta leader sees every other running node as a current,
    /// online peer (`/jsz` `meta_cluster.replicas`). A leader is elected by a
    /// majority, so right after the election a replicated stream can still be
    /// refused with "no suitable peers for placement, peer offline".
    ///
    /// # Errors
    ///
    /// Returns the last reason if the peers are not current within `timeout`.
    pub fn wait_meta_peers(&self, timeout: Duration) -> Result<(), String> {
        poll_until(timeout, || {
            let leader = self.meta_leader_once().map_err(Abort::Retry)?;
            let jsz = self.servers[leader]
                .monitor_json("/jsz")
                .map_err(Abort::Retry)?;
            let current: HashSet<&str> = jsz
                .pointer("/meta_cluster/replicas")
                .and_then(|r| r.as_array())
                .map(|peers| {
                    peers
                        .iter()
                        .filter(|p| p.get("current").and_then(|c| c.as_bool()) == Some(true))
                        .filter(|p| p.get("offline").and_then(|o| o.as_bool()) != Some(true))
                        .filter_map(|p| p.get("name").and_then(|n| n.as_str()))
                        .collect()
                })
                .unwrap_or_default();
            let missing: Vec<&str> = self
                .servers
                .iter()
                .enumerate()
                .filter(|(i, s)| *i != leader && s.is_running())
                .map(|(_, s)| s.server_name())
                .filter(|n| !current.contains(n))
                .collect();
            if missing.is_empty() {
                Ok(())
            } else {
                Err(Abort::Retry(format!(
                    "the meta leader does not see {missing:?} as current"
                )))
            }
        })
    }

    /// Waits until every running node has a route to every other running
    /// node (`/routez`, counting distinct `remote_name`s).
    ///
    /// # Errors
    ///
    /// Returns the last reason if the routes are not up within `timeout`.
    pub fn wait_routes(&self, timeout: Duration) -> Result<(), String> {
        poll_until(timeout, || {
            let running: Vec<&Server> = self.servers.iter().filter(|s| s.is_running()).collect();
            for server in &running {
                let routez = server.monitor_json("/routez").map_err(Abort::Retry)?;
                let remotes: HashSet<&str> = routez
                    .get("routes")
                    .and_then(|r| r.as_array())
                    .map(|routes| {
                        routes
                            .iter()
                            .filter_map(|r| r.get("remote_name").and_then(|n| n.as_str()))
                            .collect()
                    })
                    .unwrap_or_default();
                let missing: Vec<&str> = running
                    .iter()
                    .map(|s| s.server_name())
                    .filter(|n| *n != server.server_name() && !remotes.contains(n))
                    .collect();
                if !missing.is_empty() {
                    return Err(Abort::Retry(format!(
                        "{} has no route to {missing:?}",
                        server.server_name()
                    )));
                }
            }
            Ok(())
        })
    }

    /// Waits until `/healthz` answers 200 on every running node (with
    /// JetStream: each node is current with the meta leader and its assets).
    ///
    /// # Errors
    ///
    /// Returns the last reason if not healthy within `timeout`.
    pub fn wait_healthy(&self, timeout: Duration) -> Result<(), String> {
        poll_until(timeout, || {
            for server in self.servers.iter().filter(|s| s.is_running()) {
                server
                    .monitor_json("/healthz")
                    .map_err(|e| Abort::Retry(format!("{}: {e}", server.server_name())))?;
            }
            Ok(())
        })
    }
}

fn unique_cluster_name() -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "testkit-c-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}
