//! The `echo` service: version 1.0.0, one endpoint `echo` on the subject
//! `echo` that replies with the request's payload, until Ctrl-C.
//!
//! Run with `cargo run -p nats-service --example service`. Connects to
//! `NATS_URL` when it is set; otherwise starts a local nats-server through the
//! test kit (which provisions the pinned server binary if needed). Try it
//! with the `nats` CLI: `nats request echo hi`, `nats micro ls`,
//! `nats micro stats echo`.
#![allow(clippy::print_stdout)]

use futures_util::StreamExt;
use nats_service::Service;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (_local_server, client) = connect().await?;

    let service = Service::builder(&client, "echo", "1.0.0")
        .description("replies with the request's payload")
        .await?;
    let mut echo = service.endpoint("echo").await?;
    println!(
        "service {} {} (id {}) listening on `echo`; Ctrl-C to stop",
        service.name(),
        service.version(),
        service.id()
    );

    let serve = async {
        while let Some(request) = echo.next().await {
            let payload = request.payload().clone();
            if let Err(e) = request.respond(payload).await {
                eprintln!("cannot reply: {e}");
            }
        }
    };
    tokio::select! {
        () = serve => println!("the connection closed"),
        signal = tokio::signal::ctrl_c() => {
            signal?;
            println!("stopping (draining requests already received)");
            service.stop().await?;
            // Answer what was received before the stop, then end.
            while let Some(request) = echo.next().await {
                let payload = request.payload().clone();
                request.respond(payload).await?;
            }
        }
    }
    let stats = service.stats();
    println!("handled {} requests", stats.endpoints[0].num_requests);
    Ok(())
}

/// Connects to `NATS_URL` when it is set; otherwise starts a local
/// nats-server and says so. Keep the returned server alive while running.
async fn connect() -> Result<(Option<nats_testkit::Server>, nats_core::Client), nats_core::Error> {
    let (server, url) = match std::env::var("NATS_URL") {
        Ok(url) => (None, url),
        Err(_) => {
            let server = nats_testkit::Server::new().start();
            let url = server.url();
            eprintln!("NATS_URL is not set: started a local nats-server at {url}");
            (Some(server), url)
        }
    };
    let client = nats_core::connect(url.as_str()).await?;
    Ok((server, client))
}
