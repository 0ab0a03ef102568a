//! Free-port selection on the loopback interface.

use std::collections::HashSet;
use std::net::{Ipv4Addr, TcpListener};
use std::sync::{Mutex, OnceLock};

/// The host every server started by this kit listens on.
pub const HOST: &str = "127.0.0.1";

/// Returns a TCP port on `127.0.0.1` that was free a moment ago.
///
/// The port is found by binding `127.0.0.1:0` and dropping the listener, so
/// another process may still grab it before the server binds it; servers
/// retry with fresh ports when that happens. Within one process a port is
/// never handed out twice, so tests running in parallel threads never
/// collide with each other.
///
/// # Panics
///
/// Panics if no port can be bound at all.
pub fn free_port() -> u16 {
    static HANDED_OUT: OnceLock<Mutex<HashSet<u16>>> = OnceLock::new();
    let handed_out = HANDED_OUT.get_or_init(|| Mutex::new(HashSet::new()));
    let mut last_error = None;
    for _ in 0..64 {
        let port = match TcpListener::bind((Ipv4Addr::LOCALHOST, 0)) {
            Ok(listener) => match listener.local_addr() {
                Ok(addr) => addr.port(),
                Err(e) => {
                    last_error = Some(e);
                    continue;
                }
            },
            Err(e) => {
                last_error = Some(e);
                continue;
            }
        };
        let mut set = handed_out
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if set.insert(port) {
            return port;
        }
    }
    panic!("nats-testkit: cannot find a free port on 127.0.0.1: {last_error:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_distinct() {
        let ports: HashSet<u16> = (0..20).map(|_| free_port()).collect();
        assert_eq!(ports.len(), 20);
        assert!(!ports.contains(&0));
    }
}
