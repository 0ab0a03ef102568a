//! Deferred requests on the mock socket: on the thread that `block_on`s a
//! multi-thread runtime, a request made while others are in flight is queued,
//! and its `Response` sends it on its second poll (or its drop), so that the
//! requests of one pass over the ready futures leave in one write.

use futures_util::FutureExt;

use super::*;
use crate::request::ReplySubject;

/// Sends the request with token 0 (never answered): the ones after it find a
/// request in flight. Returns it, and the wire's length after it.
async fn one_in_flight(client: &Client, shared: &Shared, wire: &Wire) -> (crate::Response, usize) {
    let first = client
        .send_request("svc", None, "first".into())
        .await
        .unwrap();
    drained(shared).await;
    wait_until("the first request", || {
        payloads(&wire.data()).contains(&b"first".to_vec())
    })
    .await;
    (first, wire.data().len())
}

/// The payloads of the PUB frames in `data`.
fn payloads(data: &[u8]) -> Vec<Vec<u8>> {
    frames(data)
        .0
        .into_iter()
        .filter_map(|f| match f {
            Frame::Pub { payload, .. } => Some(payload),
            Frame::Other(_) => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_of_one_pass_leave_in_one_write() {
    let (client, shared) = client(ConnectOptions::new());
    let wire = Wire::new(usize::MAX, 0);
    let (mut server, _task) = serve_over(&shared, &wire, true);
    started(&shared, &wire).await;
    let (_first, from) = one_in_flight(&client, &shared, &wire).await;
    let (calls, task_bytes) = {
        let s = wire.state();
        (s.direct_calls, s.task_bytes)
    };

    // The server: once all twenty are on the wire, it answers each (tokens 1
    // to 20, in the order they were made).
    let prefix = shared.mux_prefix.clone();
    let wire2 = wire.clone();
    let answer = tokio::spawn(async move {
        wait_until("twenty requests", || {
            payloads(&wire2.data()[from..]).len() == 20
        })
        .await;
        for token in 1..=20u64 {
            let reply = ReplySubject::new(&prefix, token);
            let body = format!("re{token}");
            let msg = format!("MSG {} 1 {}\r\n{body}\r\n", reply.as_str(), body.len());
            server.write_all(msg.as_bytes()).await.unwrap();
        }
        server
    });
    let replies = tokio::time::timeout(
        Duration::from_secs(10),
        futures_util::future::join_all((0..20).map(|i| client.request("svc", format!("r{i}")))),
    )
    .await
    .expect("the requests were answered");
    for (i, reply) in replies.into_iter().enumerate() {
        assert_eq!(reply.unwrap().payload, format!("re{}", i + 1).as_bytes());
    }
    let _server = answer.await.unwrap();

    let s = wire.state();
    assert_eq!(
        s.direct_calls,
        calls + 1,
        "the twenty requests went out in one write by their caller"
    );
    assert_eq!(s.task_bytes, task_bytes, "the task wrote none of them");
    let payloads = payloads(&s.data[from..]);
    let expected: Vec<Vec<u8>> = (0..20).map(|i| format!("r{i}").into_bytes()).collect();
    assert_eq!(payloads, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deferred_request_dropped_before_its_second_poll_is_still_sent() {
    let (client, shared) = client(ConnectOptions::new());
    let wire = Wire::new(usize::MAX, 0);
    let (_server, _task) = serve_over(&shared, &wire, true);
    started(&shared, &wire).await;
    let (_first, from) = one_in_flight(&client, &shared, &wire).await;

    let mut request = Box::pin(client.request("svc", "dropped"));
    assert!((&mut request).now_or_never().is_none());
    assert_eq!(wire.data().len(), from, "written before its second poll");
    assert_eq!(client.pending_requests(), 2);
    drop(request);
    // Sent by the drop itself, not left in the queue for a later write.
    assert_eq!(payloads(&wire.data()[from..]), [b"dropped".to_vec()]);
    assert_eq!(client.pending_requests(), 1);
    assert!(lock(&shared.write).queue.is_empty());
}

/// In a task, and on a current-thread runtime, a request is not deferred: it
/// is sent on its first poll (directly or by the task), with others in flight.
async fn sent_on_first_poll(client: &Client, shared: &Shared, wire: &Wire, from: usize) {
    let mut request = Box::pin(client.request("svc", "now"));
    assert!((&mut request).now_or_never().is_none());
    wait_until("the request", || {
        payloads(&wire.data()[from..]) == [b"now".to_vec()]
    })
    .await;
    drop(request);
    drained(shared).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_in_a_task_is_sent_on_its_first_poll() {
    let (client, shared) = client(ConnectOptions::new());
    let wire = Wire::new(usize::MAX, 0);
    let (_server, _task) = serve_over(&shared, &wire, true);
    started(&shared, &wire).await;
    let (_first, from) = one_in_flight(&client, &shared, &wire).await;
    tokio::spawn(async move { sent_on_first_poll(&client, &shared, &wire, from).await })
        .await
        .unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn a_request_on_a_current_thread_runtime_is_sent_on_its_first_poll() {
    let (client, shared) = client(ConnectOptions::new());
    let wire = Wire::new(usize::MAX, 0);
    let (_server, _task) = serve_over(&shared, &wire, true);
    started(&shared, &wire).await;
    let (_first, from) = one_in_flight(&client, &shared, &wire).await;
    sent_on_first_poll(&client, &shared, &wire, from).await;
}
