//! The server pool walked when (re)connecting.

use rand::seq::SliceRandom;

use crate::addr::ServerAddr;

#[derive(Debug, Clone)]
struct Entry {
    addr: ServerAddr,
    /// Learned from INFO `connect_urls` rather than given by the user.
    discovered: bool,
}

/// Configured servers plus the ones the cluster announces, tried in turn.
#[derive(Debug)]
pub(crate) struct Pool {
    entries: Vec<Entry>,
    next: usize,
}

impl Pool {
    pub(crate) fn new(addrs: Vec<ServerAddr>, randomize: bool) -> Pool {
        let mut entries: Vec<Entry> = addrs
            .into_iter()
            .map(|addr| Entry {
                addr,
                discovered: false,
            })
            .collect();
        if randomize {
            entries.shuffle(&mut rand::thread_rng());
        }
        Pool { entries, next: 0 }
    }

    /// The next server to try.
    pub(crate) fn next_addr(&mut self) -> Option<ServerAddr> {
        if self.entries.is_empty() {
            return None;
        }
        let i = self.next % self.entries.len();
        self.next = (i + 1) % self.entries.len();
        Some(self.entries[i].addr.clone())
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Replaces the discovered servers with the `connect_urls` of the latest INFO.
    /// Credentials of the configured servers carry over to discovered ones.
    pub(crate) fn update_discovered(&mut self, urls: &[String], tls: bool) {
        let template = self
            .entries
            .iter()
            .find(|e| !e.discovered)
            .map(|e| e.addr.clone());
        let mut learned = Vec::new();
        for url in urls {
            let Ok(mut addr) = ServerAddr::from_discovered(url, tls) else {
                continue;
            };
            if let Some(t) = &template {
                addr = addr.with_credentials_of(t);
            }
            let known = self
                .entries
                .iter()
                .any(|e| e.addr.host() == addr.host() && e.addr.port() == addr.port());
            if !known {
                learned.push(addr);
            }
        }
        // Drop discovered servers no longer announced.
        self.entries.retain(|e| {
            !e.discovered
                || urls.iter().any(|u| {
                    ServerAddr::from_discovered(u, tls)
                        .is_ok_and(|a| a.host() == e.addr.host() && a.port() == e.addr.port())
                })
        });
        learned.shuffle(&mut rand::thread_rng());
        self.entries.extend(learned.into_iter().map(|addr| Entry {
            addr,
            discovered: true,
        }));
        if self.next >= self.entries.len() {
            self.next = 0;
        }
    }
}
