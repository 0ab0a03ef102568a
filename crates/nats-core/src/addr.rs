//! Server addresses and the [`ToServerAddrs`] conversion.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, ErrorKind};

/// One server to connect to, parsed from a URL such as `nats://user:pass@host:4222`,
/// `tls://host`, `host:port` or `host`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ServerAddr {
    tls: bool,
    host: String,
    port: u16,
    user: Option<String>,
    password: Option<String>,
}

impl ServerAddr {
    /// The host name or IP address.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether the URL asked for TLS (`tls://`).
    pub fn tls_required(&self) -> bool {
        self.tls
    }

    /// The user from the URL's user info, if a password came with it.
    pub fn username(&self) -> Option<&str> {
        self.password.as_ref().and(self.user.as_deref())
    }

    /// The password from the URL's user info.
    pub fn password(&self) -> Option<&str> {
        self.password.as_deref()
    }

    /// A user info with no password is a token.
    pub fn token(&self) -> Option<&str> {
        if self.password.is_none() {
            self.user.as_deref()
        } else {
            None
        }
    }

    /// Whether the URL carries credentials.
    pub fn has_credentials(&self) -> bool {
        self.user.is_some()
    }

    /// `host:port`, for connecting.
    pub fn host_port(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// This address with the user info of `other` (for discovered servers).
    pub(crate) fn with_credentials_of(mut self, other: &ServerAddr) -> ServerAddr {
        self.user = other.user.clone();
        self.password = other.password.clone();
        self
    }

    pub(crate) fn from_discovered(url: &str, tls: bool) -> Result<ServerAddr, Error> {
        let mut addr: ServerAddr = url.parse()?;
        addr.tls |= tls;
        Ok(addr)
    }
}

impl fmt::Debug for ServerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ServerAddr({self})")
    }
}

/// Displays the URL with any credentials redacted.
impl fmt::Display for ServerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls { "tls" } else { "nats" };
        let creds = if self.user.is_some() { "***@" } else { "" };
        write!(f, "{scheme}://{creds}{}", self.host_port())
    }
}

fn percent_decode(s: &str) -> Result<String, Error> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| {
                    Error::with_detail(ErrorKind::InvalidArgument, "bad percent escape in URL")
                })?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out)
        .map_err(|_| Error::with_detail(ErrorKind::InvalidArgument, "URL user info is not UTF-8"))
}

impl FromStr for ServerAddr {
    type Err = Error;

    fn from_str(url: &str) -> Result<Self, Error> {
        let bad = |why: &str| {
            Error::with_detail(
                ErrorKind::InvalidArgument,
                format!("invalid server URL {:?}: {why}", redact_url(url)),
            )
        };
        let url = url.trim();
        if url.is_empty() {
            return Err(bad("empty"));
        }
        let (tls, rest) = match url.split_once("://") {
            Some((scheme, rest)) => match scheme.to_ascii_lowercase().as_str() {
                "nats" => (false, rest),
                "tls" => (true, rest),
                other => return Err(bad(&format!("unsupported scheme {other:?}"))),
            },
            None => (false, url),
        };
        let rest = rest.trim_end_matches('/');
        let (userinfo, hostport) = match rest.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, rest),
        };
        let (user, password) = match userinfo {
            Some(u) => match u.split_once(':') {
                Some((user, pass)) => (Some(percent_decode(user)?), Some(percent_decode(pass)?)),
                None => (Some(percent_decode(u)?), None),
            },
            None => (None, None),
        };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (h, after) = v6.split_once(']').ok_or_else(|| bad("unclosed '['"))?;
            let port = match after.strip_prefix(':') {
                Some(p) => p.parse().map_err(|_| bad("bad port"))?,
                None if after.is_empty() => 4222,
                None => return Err(bad("garbage after IPv6 address")),
            };
            (h.to_string(), port)
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), p.parse().map_err(|_| bad("bad port"))?),
                None => (hostport.to_string(), 4222),
            }
        };
        if host.is_empty() || host.contains(['/', ' ']) {
            return Err(bad("bad host"));
        }
        Ok(ServerAddr {
            tls,
            host,
            port,
            user,
            password,
        })
    }
}

fn redact_url(url: &str) -> String {
    match url.rsplit_once('@') {
        Some((before, after)) => match before.split_once("://") {
            Some((scheme, _)) => format!("{scheme}://***@{after}"),
            None => format!("***@{after}"),
        },
        None => url.to_string(),
    }
}

/// Anything that names one or more servers: `"nats://a:4222"`, `"a:4222,b:4222"`,
/// a `String`, `Vec<String>`, `Vec<&str>`, `&[&str]`, `[&str; N]` or [`ServerAddr`]s.
pub trait ToServerAddrs {
    /// The parsed addresses.
    fn to_server_addrs(&self) -> Result<Vec<ServerAddr>, Error>;
}

fn parse_list(s: &str) -> Result<Vec<ServerAddr>, Error> {
    s.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::parse)
        .collect()
}

impl ToServerAddrs for str {
    fn to_server_addrs(&self) -> Result<Vec<ServerAddr>, Error> {
        parse_list(self)
    }
}

impl ToServerAddrs for &str {
    fn to_server_addrs(&self) -> Result<Vec<ServerAddr>, Error> {
        parse_list(self)
    }
}

impl ToServerAddrs for String {
    fn to_server_addrs(&self) -> Result<Vec<ServerAddr>, Error> {
        parse_list(self)
    }
}

impl ToServerAddrs for &String {
    fn to_server_addrs(&self) -> Result<Vec<ServerAddr>, Error> {
        parse_list(self)
    }
}

impl ToServerAddrs for ServerAddr {
    fn to_server_addrs(&self) -> Result<Vec<ServerAddr>, Error> {
        Ok(vec![self.clone()])
    }
}

impl<T: ToServerAddrs> ToServerAddrs for [T] {
    fn to_server_addrs(&self) -> Result<Vec<ServerAddr>, Error> {
        let mut all = Vec::new();
        for t in self {
            all.extend(t.to_server_addrs()?);
        }
        Ok(all)
    }
}

impl<T: ToServerAddrs> ToServerAddrs for &[T] {
    fn to_server_addrs(&self) -> Result<Vec<ServerAddr>, Error> {
        (**self).to_server_addrs()
    }
}

impl<T: ToServerAddrs, const N: usize> ToServerAddrs for [T; N] {
    fn to_server_addrs(&self) -> Result<Vec<ServerAddr>, Error> {
        self.as_slice().to_server_addrs()
    }
}

impl<T: ToServerAddrs> ToServerAddrs for Vec<T> {
    fn to_server_addrs(&self) -> Result<Vec<ServerAddr>, Error> {
        self.as_slice().to_server_addrs()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_forms() {
        let a: ServerAddr = "nats://127.0.0.1:4223".parse().unwrap();
        assert_eq!(
            (a.host(), a.port(), a.tls_required()),
            ("127.0.0.1", 4223, false)
        );
        let a: ServerAddr = "demo.nats.io".parse().unwrap();
        assert_eq!(a.port(), 4222);
        let a: ServerAddr = "tls://h:1".parse().unwrap();
        assert!(a.tls_required());
        let a: ServerAddr = "nats://bob:s%40cret@h:1".parse().unwrap();
        assert_eq!((a.username(), a.password()), (Some("bob"), Some("s@cret")));
        assert!(!a.to_string().contains("cret"));
        assert!(!format!("{a:?}").contains("cret"));
        let a: ServerAddr = "nats://tok@h".parse().unwrap();
        assert_eq!((a.token(), a.username()), (Some("tok"), None));
        let a: ServerAddr = "[::1]:4222".parse().unwrap();
        assert_eq!(a.host(), "::1");
        for bad in ["", "http://h", "h:port", "nats://:1", "[::1"] {
            assert!(bad.parse::<ServerAddr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn lists() {
        assert_eq!("a:1, b:2".to_server_addrs().unwrap().len(), 2);
        assert_eq!(vec!["a", "b"].to_server_addrs().unwrap().len(), 2);
        assert_eq!(vec!["a".to_string()].to_server_addrs().unwrap().len(), 1);
        assert_eq!(["a", "b", "c"].to_server_addrs().unwrap().len(), 3);
        let s: &[&str] = &["x"];
        assert_eq!(s.to_server_addrs().unwrap().len(), 1);
    }
}
