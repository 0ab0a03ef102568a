//! Readiness detection by talking to the server: the NATS client port and the
//! HTTP monitoring port, with plain `std::net` sockets.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// How long one connection attempt may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(500);
/// How long to wait for the INFO line before asking the monitoring port
/// instead (a `handshake_first` TLS server sends no INFO).
const INFO_TIMEOUT: Duration = Duration::from_millis(250);
/// Pause between attempts.
const RETRY_PAUSE: Duration = Duration::from_millis(15);

/// What probing the client port found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ClientProbe {
    /// The server answered as a NATS server (PONG, an `-ERR` such as
    /// `Authorization Violation`, or an INFO demanding TLS).
    Ready,
    /// Nothing listens on the port yet.
    NotListening,
    /// A TCP connection was accepted but no INFO arrived (for example a
    /// `handshake_first` TLS server waiting for a TLS ClientHello).
    NoInfo,
    /// The connection failed in some other way; retry.
    Failed(String),
}

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

/// Connects to the NATS client port, reads the `INFO` line, sends
/// `CONNECT` + `PING` and waits for the answer.
pub(crate) fn probe_client(port: u16) -> ClientProbe {
    let stream = match TcpStream::connect_timeout(&addr(port), ATTEMPT_TIMEOUT) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            return ClientProbe::NotListening
        }
        Err(e) => return ClientProbe::Failed(format!("connect: {e}")),
    };
    let _ = stream.set_read_timeout(Some(INFO_TIMEOUT));
    let _ = stream.set_write_timeout(Some(ATTEMPT_TIMEOUT));
    let mut writer = match stream.try_clone() {
        Ok(w) => w,
        Err(e) => return ClientProbe::Failed(format!("clone socket: {e}")),
    };
    let mut reader = BufReader::new(stream);
    let info = match read_line(&mut reader) {
        Ok(Some(line)) => line,
        Ok(None) => return ClientProbe::Failed("connection closed before INFO".into()),
        Err(e) if is_timeout(&e) => return ClientProbe::NoInfo,
        Err(e) => return ClientProbe::Failed(format!("reading INFO: {e}")),
    };
    let Some(json) = info.strip_prefix("INFO ") else {
        return ClientProbe::Failed(format!("expected INFO, got {info:?}"));
    };
    let tls_required = serde_json::from_str::<serde_json::Value>(json)
        .ok()
        .and_then(|v| v.get("tls_required").and_then(|t| t.as_bool()))
        .unwrap_or(false);
    if tls_required {
        // A TLS-required server sent its INFO in plaintext: it is up.
        return ClientProbe::Ready;
    }
    let _ = writer.set_read_timeout(Some(ATTEMPT_TIMEOUT));
    let hello = b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\nPING\r\n";
    if let Err(e) = writer.write_all(hello) {
        return ClientProbe::Failed(format!("sending CONNECT: {e}"));
    }
    loop {
        match read_line(&mut reader) {
            Ok(Some(line)) if line == "PONG" || line.starts_with("-ERR") => {
                return ClientProbe::Ready
            }
            Ok(Some(_)) => continue,
            Ok(None) => return ClientProbe::Failed("connection closed before PONG".into()),
            Err(e) => return ClientProbe::Failed(format!("waiting for PONG: {e}")),
        }
    }
}

fn read_line(reader: &mut impl BufRead) -> std::io::Result<Option<String>> {
    let mut line = String::new();
    let n = reader.read_line(&mut line)?;
    if n == 0 {
        return Ok(None);
    }
    Ok(Some(line.trim_end_matches(['\r', '\n']).to_owned()))
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

/// Sends `GET <path> HTTP/1.0` to `127.0.0.1:<port>` and returns the status
/// code and the body.
///
/// # Errors
///
/// Returns a message if the connection fails or the answer is not HTTP.
pub fn http_get(port: u16, path: &str) -> Result<(u16, String), String> {
    let mut stream = TcpStream::connect_timeout(&addr(port), ATTEMPT_TIMEOUT)
        .map_err(|e| format!("connect to 127.0.0.1:{port}: {e}"))?;
    let timeout = Some(Duration::from_secs(2));
    let _ = stream.set_read_timeout(timeout);
    let _ = stream.set_write_timeout(timeout);
    let request = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("send request: {e}"))?;
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .map_err(|e| format!("read response: {e}"))?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| format!("not an HTTP response: {head:?}"))?;
    Ok((status, body.to_owned()))
}

/// What has to hold before a server counts as ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ReadyCheck {
    pub(crate) port: u16,
    pub(crate) monitor_port: u16,
    /// Monitoring path that must answer 200 as well (JetStream servers).
    pub(crate) health_path: Option<&'static str>,
}

impl ReadyCheck {
    /// One round of checks; `Ok(())` when ready, `Err(reason)` otherwise.
    pub(crate) fn check_once(&self) -> Result<(), String> {
        match probe_client(self.port) {
            ClientProbe::Ready => {}
            ClientProbe::NoInfo => {
                // handshake_first TLS: the TCP connect worked; let the
                // monitoring port confirm the server is up.
                let (code, body) = http_get(self.monitor_port, "/healthz")?;
                if code != 200 {
                    return Err(format!("/healthz answered {code}: {body}"));
                }
            }
            ClientProbe::NotListening => {
                return Err(format!("nothing listens on port {} yet", self.port))
            }
            ClientProbe::Failed(reason) => return Err(reason),
        }
        if let Some(path) = self.health_path {
            let (code, body) = http_get(self.monitor_port, path)?;
            if code != 200 {
                return Err(format!("{path} answered {code}: {}", body.trim()));
            }
        }
        Ok(())
    }

    /// Repeats [`check_once`](Self::check_once) until it succeeds or
    /// `timeout` passes. `alive` is called between attempts and aborts the
    /// wait with its error (for example when the process has exited).
    pub(crate) fn wait(
        &self,
        timeout: Duration,
        mut alive: impl FnMut() -> Result<(), String>,
    ) -> Result<(), String> {
        poll_until(timeout, || {
            alive().map_err(Abort::Fatal)?;
            self.check_once().map_err(Abort::Retry)
        })
    }
}

/// Why one polling attempt did not succeed.
#[derive(Debug)]
pub(crate) enum Abort {
    /// Try again after a short pause.
    Retry(String),
    /// Give up now.
    Fatal(String),
}

/// Calls `attempt` every few milliseconds until it returns `Ok`, returns a
/// fatal error, or `timeout` passes (then the last retry reason is returned).
pub(crate) fn poll_until<T>(
    timeout: Duration,
    mut attempt: impl FnMut() -> Result<T, Abort>,
) -> Result<T, String> {
    let deadline = Instant::now() + timeout;
    loop {
        match attempt() {
            Ok(value) => return Ok(value),
            Err(Abort::Fatal(reason)) => return Err(reason),
            Err(Abort::Retry(reason)) => {
                if Instant::now() >= deadline {
                    return Err(format!("not ready after {timeout:?}: {reason}"));
                }
            }
        }
        std::thread::sleep(RETRY_PAUSE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn closed_port_is_not_listening() {
        let port = crate::ports::free_port();
        assert_eq!(probe_client(port), ClientProbe::NotListening);
    }

    #[test]
    fn fake_server_pong_and_http() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let handle = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            s.write_all(b"INFO {\"server_id\":\"x\"}\r\n").unwrap();
            let mut buf = [0u8; 256];
            let mut got = Vec::new();
            while !String::from_utf8_lossy(&got).contains("PING\r\n") {
                let n = s.read(&mut buf).unwrap();
                got.extend_from_slice(&buf[..n]);
            }
            s.write_all(b"PONG\r\n").unwrap();
            let (mut s, _) = listener.accept().unwrap();
            let mut req = [0u8; 256];
            let _ = s.read(&mut req).unwrap();
            s.write_all(b"HTTP/1.0 503 Service Unavailable\r\nX: y\r\n\r\n{\"a\":1}")
                .unwrap();
        });
        assert_eq!(probe_client(port), ClientProbe::Ready);
        let (code, body) = http_get(port, "/healthz").unwrap();
        assert_eq!(code, 503);
        assert_eq!(body, "{\"a\":1}");
        handle.join().unwrap();
    }

    #[test]
    fn poll_until_times_out_with_reason() {
        let err = poll_until::<()>(Duration::from_millis(30), || {
            Err(Abort::Retry("nope".into()))
        })
        .unwrap_err();
        assert!(err.contains("nope"), "{err}");
    }
}
