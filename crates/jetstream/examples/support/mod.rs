//! Shared by the examples: where to connect.

/// Connects to `NATS_URL` when it is set; otherwise starts a local nats-server
/// with JetStream (the test kit provisions the pinned binary) and says so.
/// Keep the returned server alive for as long as the example runs.
pub async fn connect() -> Result<(Option<nats_testkit::Server>, nats_core::Client), nats_core::Error>
{
    let (server, url) = match std::env::var("NATS_URL") {
        Ok(url) => (None, url),
        Err(_) => {
            let server = nats_testkit::Server::jetstream().start();
            let url = server.url();
            eprintln!("NATS_URL is not set: started a local nats-server at {url}");
            (Some(server), url)
        }
    };
    let client = nats_core::connect(url.as_str()).await?;
    Ok((server, client))
}
