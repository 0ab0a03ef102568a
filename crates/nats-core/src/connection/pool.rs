//! The server pool walked when (re)connecting.
//!
//! The pool holds the configured servers (shuffled unless the order is to be
//! kept) and the servers the cluster announces in INFO `connect_urls`
//! ("discovered"). It is walked round-robin from where the last connection
//! came from, so a server that just failed is tried again only after all the
//! others.

use std::net::IpAddr;

use rand::seq::SliceRandom;

use crate::addr::ServerAddr;

#[derive(Debug, Clone)]
struct Entry {
    addr: ServerAddr,
    /// Learned from INFO `connect_urls` rather than given by the user.
    discovered: bool,
    /// The name to verify the server's TLS certificate against, when it is
    /// not the address's host (a discovered IP of a cluster the user named by
    /// host name).
    tls_name: Option<String>,
}

/// One server to try: its address and the name its TLS certificate must have.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub addr: ServerAddr,
    pub tls_name: String,
}

/// Configured servers plus the ones the cluster announces, tried in turn.
#[derive(Debug)]
pub(crate) struct Pool {
    entries: Vec<Entry>,
    next: usize,
}

fn is_ip(host: &str) -> bool {
    host.parse::<IpAddr>().is_ok()
}

impl Pool {
    pub(crate) fn new(addrs: Vec<ServerAddr>, randomize: bool) -> Pool {
        let mut entries: Vec<Entry> = Vec::with_capacity(addrs.len());
        for addr in addrs {
            let dup = entries
                .iter()
                .any(|e| e.addr.host() == addr.host() && e.addr.port() == addr.port());
            if !dup {
                entries.push(Entry {
                    addr,
                    discovered: false,
                    tls_name: None,
                });
            }
        }
        if randomize {
            entries.shuffle(&mut rand::thread_rng());
        }
        Pool { entries, next: 0 }
    }

    /// The next server to try.
    pub(crate) fn next_target(&mut self) -> Option<Target> {
        if self.entries.is_empty() {
            return None;
        }
        let i = self.next % self.entries.len();
        self.next = (i + 1) % self.entries.len();
        let e = &self.entries[i];
        Some(Target {
            addr: e.addr.clone(),
            tls_name: e
                .tls_name
                .clone()
                .unwrap_or_else(|| e.addr.host().to_string()),
        })
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The addresses in the pool, in the order they will be tried from the
    /// start of a pass (for diagnostics and tests).
    #[cfg(test)]
    pub(crate) fn addrs(&self) -> Vec<String> {
        self.entries
            .iter()
            .map(|e| format!("{}:{}", e.addr.host(), e.addr.port()))
            .collect()
    }

    /// Replaces the discovered servers with the `connect_urls` of the latest
    /// INFO (the configured servers always stay). Credentials and the TLS
    /// scheme of the configured servers carry over to discovered ones, and so
    /// does the host name for certificate checks when a discovered server is
    /// announced by IP address but the user named the cluster by host name.
    pub(crate) fn update_discovered(&mut self, urls: &[String], tls: bool) {
        let template = self
            .entries
            .iter()
            .find(|e| !e.discovered)
            .map(|e| e.addr.clone());
        let tls = tls || template.as_ref().is_some_and(ServerAddr::tls_required);
        let announced: Vec<ServerAddr> = urls
            .iter()
            .filter_map(|url| ServerAddr::from_discovered(url, tls).ok())
            .collect();
        // Drop discovered servers no longer announced.
        self.entries.retain(|e| {
            !e.discovered
                || announced
                    .iter()
                    .any(|a| a.host() == e.addr.host() && a.port() == e.addr.port())
        });
        let mut learned = Vec::new();
        for mut addr in announced {
            let known = self
                .entries
                .iter()
                .chain(learned.iter())
                .any(|e| e.addr.host() == addr.host() && e.addr.port() == addr.port());
            if known {
                continue;
            }
            let mut tls_name = None;
            if let Some(t) = &template {
                addr = addr.with_credentials_of(t);
                if is_ip(addr.host()) && !is_ip(t.host()) {
                    tls_name = Some(t.host().to_string());
                }
            }
            learned.push(Entry {
                addr,
                discovered: true,
                tls_name,
            });
        }
        learned.shuffle(&mut rand::thread_rng());
        self.entries.extend(learned);
        if self.next >= self.entries.len() {
            self.next = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::addr::ToServerAddrs;

    #[test]
    fn walks_round_robin_and_learns_servers() {
        let mut pool = Pool::new("nats://u:p@a:1".to_server_addrs().unwrap(), false);
        assert_eq!(pool.len(), 1);
        pool.update_discovered(&["a:1".into(), "b:2".into(), "10.0.0.3:3".into()], false);
        assert_eq!(pool.len(), 3);
        let mut seen = Vec::new();
        for _ in 0..3 {
            let t = pool.next_target().unwrap();
            assert_eq!(t.addr.password(), Some("p"), "credentials carry over");
            seen.push((t.addr.host().to_string(), t.tls_name));
        }
        seen.sort();
        assert_eq!(
            seen,
            [
                ("10.0.0.3".to_string(), "a".to_string()),
                ("a".to_string(), "a".to_string()),
                ("b".to_string(), "b".to_string()),
            ]
        );
        // A server no longer announced is dropped; configured ones stay.
        pool.update_discovered(&["b:2".into()], false);
        assert_eq!(pool.addrs(), ["a:1", "b:2"]);
        pool.update_discovered(&[], false);
        assert_eq!(pool.addrs(), ["a:1"]);
    }

    #[test]
    fn discovered_servers_inherit_tls_and_duplicates_collapse() {
        let mut pool = Pool::new("tls://h:1,tls://h:1".to_server_addrs().unwrap(), true);
        assert_eq!(pool.len(), 1);
        pool.update_discovered(&["h2:2".into()], false);
        let targets: Vec<Target> = (0..2).filter_map(|_| pool.next_target()).collect();
        assert!(targets.iter().all(|t| t.addr.tls_required()));
    }
}
