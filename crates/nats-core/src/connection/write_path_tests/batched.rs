//! Batched publishes (`Client::publish_batched`) on the mock socket: they wait without
//! waking the task, and leave with the next write, a PONG, a read, or the sweeper's tick.

use super::*;

/// Publishes three batched messages (`(0, 0)` to `(0, 2)`) and checks that nothing woke the
/// task and nothing was written beyond the first `subs` bytes: the batch waits.
async fn three_waiting(client: &Client, wire: &Wire, subs: usize) {
    for seq in 0..3 {
        client
            .publish_batched("ack", payload(0, seq, false))
            .await
            .unwrap();
    }
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    assert_eq!(wire.data().len(), subs, "a batched publish went out alone");
}

#[tokio::test(flavor = "current_thread")]
async fn a_batched_publish_waits_for_the_next_write_and_leaves_with_it() {
    let (client, shared) = client(ConnectOptions::new());
    let wire = Wire::new(usize::MAX, 0);
    let (_server, _task) = serve_over(&shared, &wire, true);
    started(&shared, &wire).await;
    let subs = wire.data().len();
    let calls = wire.state().direct_calls;
    three_waiting(&client, &wire, subs).await;
    assert_eq!(wire.state().direct_calls, calls);

    // The next ordinary publish takes the batch along, in one write.
    client.publish("ack", payload(0, 3, false)).await.unwrap();
    drained(&shared).await;
    let s = wire.state();
    assert_eq!(s.direct_calls, calls + 1, "one write for the lot");
    let (frames, partial) = frames(&s.data[subs..]);
    assert_eq!(partial, 0);
    assert_eq!(ids(&frames), [(0, 0), (0, 1), (0, 2), (0, 3)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batched_publish_no_write_follows_goes_out_on_the_tick() {
    let (client, shared) = client(ConnectOptions::new());
    // The sweeper, as `connect` starts it: it ticks for batched publishes.
    tokio::spawn(crate::deadlines::sweep(shared.clone()));
    let wire = Wire::new(usize::MAX, 0);
    let (_server, _task) = serve_over(&shared, &wire, true);
    started(&shared, &wire).await;
    let subs = wire.data().len();

    // Rounds apart by more than a tick: the ticking stops in between and
    // starts again with the next batched publish.
    for seq in 0..5 {
        let start = Instant::now();
        client
            .publish_batched("ack", payload(0, seq, false))
            .await
            .unwrap();
        wait_until("the batched publish", || {
            ids(&frames(&wire.data()[subs..]).0).len() == seq as usize + 1
        })
        .await;
        let took = start.elapsed();
        // The tick is 1 ms (plus timer resolution); a loaded machine gets slack.
        assert!(took < Duration::from_millis(500), "round {seq}: {took:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert!(
            !shared.batch_tick.load(std::sync::atomic::Ordering::Acquire),
            "round {seq}: the tick went on with nothing batched"
        );
    }
    let (frames, _) = frames(&wire.data()[subs..]);
    assert_eq!(ids(&frames), (0..5).map(|q| (0, q)).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publisher_waiting_for_room_is_not_held_up_by_a_batch() {
    // Without the sweeper: only the full buffer may wake the task here.
    const BUFFER: usize = 4 * 1024;
    let (client, shared) = client(ConnectOptions::new().write_buffer_size(BUFFER));
    let wire = Wire::new(usize::MAX, 0);
    let (_server, _task) = serve_over(&shared, &wire, true);
    started(&shared, &wire).await;
    let subs = wire.data().len();
    // Batched publishes up to the buffer's size, then one that does not fit.
    let big = Bytes::from(vec![b'x'; 1000]);
    for _ in 0..4 {
        client.publish_batched("b", big.clone()).await.unwrap();
    }
    tokio::time::timeout(
        Duration::from_secs(10),
        client.publish_batched("b", big.clone()),
    )
    .await
    .expect("the publish waiting for room was held up by the batch")
    .unwrap();
    client.publish("b", "end").await.unwrap();
    drained(&shared).await;
    let (frames, _) = frames(&wire.data()[subs..]);
    assert_eq!(frames.len(), 6);
}

#[tokio::test(flavor = "current_thread")]
async fn a_pong_takes_batched_publishes_along() {
    // No sweeper here: only the PONG may carry the batch out.
    let (client, shared) = client(ConnectOptions::new());
    let wire = Wire::new(usize::MAX, 0);
    let (mut server, _task) = serve_over(&shared, &wire, true);
    started(&shared, &wire).await;
    let subs = wire.data().len();
    client
        .publish_batched("ack", payload(0, 0, false))
        .await
        .unwrap();
    server.write_all(b"PING\r\n").await.unwrap();
    wait_until("the PONG", || wire.data().ends_with(b"PONG\r\n")).await;
    let (frames, partial) = frames(&wire.data()[subs..]);
    assert_eq!(partial, 0);
    assert_eq!(ids(&frames), [(0, 0)], "the batch went out before the PONG");
}

#[tokio::test(flavor = "current_thread")]
async fn a_read_takes_batched_publishes_along() {
    // No sweeper here: only the read may carry the batch out.
    let (client, shared) = client(ConnectOptions::new());
    let wire = Wire::new(usize::MAX, 0);
    let (mut server, _task) = serve_over(&shared, &wire, true);
    started(&shared, &wire).await;
    let subs = wire.data().len();
    three_waiting(&client, &wire, subs).await;
    // A message for no subscription: nothing to answer, but the task is awake.
    server
        .write_all(b"MSG elsewhere 999 2\r\nhi\r\n")
        .await
        .unwrap();
    wait_until("the batch", || {
        ids(&frames(&wire.data()[subs..]).0).len() == 3
    })
    .await;
    let (frames, partial) = frames(&wire.data()[subs..]);
    assert_eq!(partial, 0);
    assert_eq!(ids(&frames), [(0, 0), (0, 1), (0, 2)]);
}
