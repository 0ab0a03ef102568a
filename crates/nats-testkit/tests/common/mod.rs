//! A minimal raw NATS protocol client for the kit's own tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A plain-text NATS connection.
pub struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    /// The INFO line's JSON.
    pub info: serde_json::Value,
}

impl Conn {
    /// Connects and reads INFO (does not send CONNECT).
    pub fn open(port: u16) -> Conn {
        let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let writer = stream.try_clone().unwrap();
        let mut reader = BufReader::new(stream);
        let line = read_line(&mut reader);
        let json = line.strip_prefix("INFO ").expect("INFO line");
        let info = serde_json::from_str(json).unwrap();
        Conn {
            reader,
            writer,
            info,
        }
    }

    /// Sends raw protocol text.
    pub fn send(&mut self, text: &str) {
        self.writer.write_all(text.as_bytes()).unwrap();
    }

    /// Reads one protocol line (without CRLF).
    pub fn line(&mut self) -> String {
        read_line(&mut self.reader)
    }

    /// Reads one protocol line within `timeout`, telling a silent
    /// connection from a closed one.
    pub fn try_line(&mut self, timeout: Duration) -> Result<String, Ended> {
        self.reader
            .get_ref()
            .set_read_timeout(Some(timeout))
            .unwrap();
        let mut line = String::new();
        let read = self.reader.read_line(&mut line);
        self.reader
            .get_ref()
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        match read {
            Ok(0) => Err(Ended::Closed),
            Ok(_) => Ok(line.trim_end().to_owned()),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                Err(Ended::TimedOut)
            }
            Err(_) => Err(Ended::Closed),
        }
    }

    /// Sends `CONNECT <json>` + `PING` and returns the first answer line
    /// other than `+OK` (verbose mode).
    pub fn handshake(&mut self, connect_json: &str) -> String {
        self.send(&format!("CONNECT {connect_json}\r\nPING\r\n"));
        loop {
            let line = self.line();
            if line != "+OK" {
                return line;
            }
        }
    }

    /// A request/reply round trip; returns the reply payload.
    pub fn request(&mut self, subject: &str, payload: &str) -> String {
        self.send("SUB _INBOX.testkit 1\r\n");
        self.send(&format!(
            "PUB {subject} _INBOX.testkit {}\r\n{payload}\r\n",
            payload.len()
        ));
        loop {
            let line = self.line();
            if line.starts_with("MSG ") {
                let size: usize = line.rsplit(' ').next().unwrap().parse().unwrap();
                let mut body = vec![0u8; size + 2];
                self.reader.read_exact(&mut body).unwrap();
                body.truncate(size);
                return String::from_utf8(body).unwrap();
            }
            assert!(!line.starts_with("-ERR"), "request failed: {line}");
        }
    }
}

/// Why [`Conn::try_line`] got no line.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    /// Nothing arrived in time; the connection is open.
    TimedOut,
    /// The connection was closed or reset.
    Closed,
}

fn read_line(reader: &mut impl BufRead) -> String {
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    line.trim_end().to_owned()
}
