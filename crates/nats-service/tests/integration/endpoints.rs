//! Endpoints, groups, queue groups, answers and statistics.

use std::time::Duration;

use futures_util::StreamExt;
use nats_core::HeaderMap;
use nats_service::{error_headers, ErrorKind, Service, ServiceError};
use serde_json::json;

use crate::common::{connect, echo, request_json, setup, sink};

#[tokio::test]
async fn groups_prefix_subjects_and_queue_groups_inherit_and_override() {
    let (_server, client) = setup().await;
    let service = Service::builder(&client, "qg", "1.0.0")
        .queue_group("svc")
        .await
        .unwrap();
    let root = service.endpoint("root").await.unwrap();
    let g = service.group("api");
    let in_group = g.endpoint("list").await.unwrap();
    let renamed = g.endpoint("get").subject("items.*").await.unwrap();
    let own = g.endpoint("own").queue_group("mine").await.unwrap();
    let g2 = g.group("v2").queue_group("grp");
    let nested = g2.endpoint("nested").await.unwrap();
    let sub_of_g2 = g2.group("deep").endpoint("x").await.unwrap();
    let none = g2.clone().no_queue_group().endpoint("none").await.unwrap();
    let back = g2
        .no_queue_group()
        .endpoint("back")
        .queue_group("again")
        .await
        .unwrap();
    let empty_prefix = service.group("").endpoint("bare").await.unwrap();
    let unqueued_service = Service::builder(&client, "qg2", "1.0.0")
        .no_queue_group()
        .await
        .unwrap();
    let unqueued = unqueued_service.endpoint("u").await.unwrap();
    let requeued = unqueued_service
        .group("g")
        .queue_group("qq")
        .endpoint("r")
        .await
        .unwrap();

    let got: Vec<(&str, &str)> = [
        &root,
        &in_group,
        &renamed,
        &own,
        &nested,
        &sub_of_g2,
        &none,
        &back,
        &empty_prefix,
        &unqueued,
        &requeued,
    ]
    .iter()
    .map(|e| (e.info().subject.as_str(), e.info().queue_group.as_str()))
    .collect();
    assert_eq!(
        got,
        vec![
            ("root", "svc"),
            ("api.list", "svc"),
            ("api.items.*", "svc"),
            ("api.own", "mine"),
            ("api.v2.nested", "grp"),
            ("api.v2.deep.x", "grp"),
            ("api.v2.none", ""),
            ("api.v2.back", "again"),
            ("bare", "svc"),
            ("u", ""),
            ("g.r", "qq"),
        ]
    );
    assert_eq!(g.prefix(), "api");
}

/// Two instances: in a queue group each request reaches one of them; without
/// one, every instance gets every request.
#[tokio::test]
async fn queue_groups_share_requests_and_no_queue_group_fans_out() {
    let (server, client) = setup().await;
    let one = Service::builder(&client, "fan", "1.0.0").await.unwrap();
    let two = Service::builder(&client, "fan", "1.0.0").await.unwrap();
    let mut handlers = Vec::new();
    for s in [&one, &two] {
        handlers.push(sink(s.endpoint("shared").await.unwrap()));
        handlers.push(sink(s.endpoint("all").no_queue_group().await.unwrap()));
    }
    let caller = connect(&server).await;
    for i in 0..20 {
        caller.publish("shared", format!("{i}")).await.unwrap();
        caller.publish("all", format!("{i}")).await.unwrap();
    }
    caller.flush().await.unwrap();
    let count = |s: &Service, name: &str| {
        s.stats()
            .endpoints
            .iter()
            .find(|e| e.name == name)
            .unwrap()
            .num_requests
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while count(&one, "shared") + count(&two, "shared") < 20
        || count(&one, "all") + count(&two, "all") < 40
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "requests not all handled"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        count(&one, "shared") + count(&two, "shared"),
        20,
        "each once"
    );
    assert_eq!(
        (count(&one, "all"), count(&two, "all")),
        (20, 20),
        "all to both"
    );
    for h in handlers {
        h.abort();
    }
}

#[tokio::test]
async fn requests_expose_the_message_and_answers_carry_headers() {
    let (server, client) = setup().await;
    let service = Service::builder(&client, "answers", "1.0.0").await.unwrap();
    let mut ep = service.endpoint("any").subject("items.>").await.unwrap();
    let caller = connect(&server).await;

    let mut headers = HeaderMap::new();
    headers.insert("X-Req", "1");
    let call = tokio::spawn({
        let caller = caller.clone();
        async move {
            caller
                .request_with_headers("items.a.b", headers, "payload")
                .await
                .unwrap()
        }
    });
    let request = ep.next().await.unwrap();
    assert_eq!(request.subject(), "items.a.b");
    assert_eq!(&request.payload()[..], b"payload");
    assert_eq!(request.headers().unwrap().get("X-Req"), Some("1"));
    assert!(request.reply().unwrap().starts_with("_INBOX."));
    assert_eq!(request.endpoint_name(), "any");
    assert_eq!(request.message().subject, "items.a.b");
    assert_eq!(ep.in_flight(), 1);
    let mut reply_headers = HeaderMap::new();
    reply_headers.insert("X-Answer", "42");
    request
        .respond_with_headers(reply_headers, "ok")
        .await
        .unwrap();
    assert_eq!(ep.in_flight(), 0);
    let reply = call.await.unwrap();
    assert_eq!(reply.headers.as_ref().unwrap().get("X-Answer"), Some("42"));
    assert_eq!(&reply.payload[..], b"ok");
    assert!(ServiceError::from_message(&reply).is_none());
    assert_eq!(ep.stats().num_requests, 1);
    assert_eq!(ep.stats().num_errors, 0);
}

#[tokio::test]
async fn error_answers_set_the_standard_headers_and_count_as_errors() {
    let (server, client) = setup().await;
    let service = Service::builder(&client, "errors", "1.0.0").await.unwrap();
    let mut ep = service.endpoint("fail").await.unwrap();
    let handler = tokio::spawn(async move {
        let mut n = 0;
        while let Some(request) = ep.next().await {
            n += 1;
            match n {
                1 => request.respond_error(404, "not found").await.unwrap(),
                2 => {
                    let mut h = error_headers(500, "with data");
                    h.insert("X-Extra", "yes");
                    request.respond_with_headers(h, "details").await.unwrap()
                }
                _ => request.respond("fine").await.unwrap(),
            }
        }
    });
    let caller = connect(&server).await;
    let first = caller.request("fail", "").await.unwrap();
    let headers = first.headers.as_ref().unwrap();
    assert_eq!(headers.get("Nats-Service-Error"), Some("not found"));
    assert_eq!(headers.get("Nats-Service-Error-Code"), Some("404"));
    assert!(first.payload.is_empty());
    assert_eq!(
        ServiceError::from_message(&first),
        Some(ServiceError {
            code: 404,
            description: "not found".into()
        })
    );
    let second = caller.request("fail", "").await.unwrap();
    assert_eq!(ServiceError::from_message(&second).unwrap().code, 500);
    assert_eq!(second.headers.as_ref().unwrap().get("X-Extra"), Some("yes"));
    assert_eq!(&second.payload[..], b"details");
    caller.request("fail", "").await.unwrap();

    let stats = &service.stats().endpoints[0];
    assert_eq!((stats.num_requests, stats.num_errors), (3, 2));
    assert_eq!(stats.last_error, "500:with data");
    handler.abort();
}

#[tokio::test]
async fn requests_without_reply_or_unanswered_still_count() {
    let (server, client) = setup().await;
    let service = Service::builder(&client, "noreply", "1.0.0").await.unwrap();
    let mut ep = service.endpoint("fire").await.unwrap();
    let caller = connect(&server).await;
    caller.publish("fire", "and forget").await.unwrap();
    let request = ep.next().await.unwrap();
    assert!(request.reply().is_none());
    let err = request.respond("x").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NoReplySubject);
    assert_eq!(
        request.respond_error(1, "x").await.unwrap_err().kind(),
        ErrorKind::NoReplySubject
    );
    assert_eq!(ep.stats().num_requests, 0, "not yet handled");
    assert_eq!(ep.in_flight(), 1);
    drop(request);
    assert_eq!(ep.in_flight(), 0);
    assert_eq!(ep.stats().num_requests, 1);
    assert_eq!(ep.stats().num_errors, 0);

    // Answered twice: counted once.
    let call = tokio::spawn(async move { caller.request("fire", "").await.unwrap() });
    let request = ep.next().await.unwrap();
    request.respond("one").await.unwrap();
    request.respond_error(500, "late").await.unwrap();
    assert_eq!(&call.await.unwrap().payload[..], b"one");
    drop(request);
    assert_eq!((ep.stats().num_requests, ep.stats().num_errors), (2, 0));
}

#[tokio::test]
async fn reset_zeroes_statistics_and_restarts_the_clock() {
    let (server, client) = setup().await;
    let service = Service::builder(&client, "resets", "1.0.0").await.unwrap();
    let mut ep = service.endpoint("r").queue_group("rq").await.unwrap();
    let handler = tokio::spawn(async move {
        while let Some(request) = ep.next().await {
            request.respond_error(418, "teapot").await.unwrap();
        }
    });
    let caller = connect(&server).await;
    caller.request("r", "").await.unwrap();
    let before = service.stats();
    assert_eq!(before.endpoints[0].num_errors, 1);
    tokio::time::sleep(Duration::from_millis(5)).await;
    service.reset();
    let after = request_json(&caller, "$SRV.STATS.resets").await;
    let e = &after["endpoints"][0];
    assert_eq!(
        (
            e["num_requests"].clone(),
            e["num_errors"].clone(),
            e["last_error"].clone()
        ),
        (json!(0), json!(0), json!(""))
    );
    assert_eq!(
        (
            e["processing_time"].clone(),
            e["average_processing_time"].clone()
        ),
        (json!(0), json!(0))
    );
    assert_eq!(
        (
            e["name"].clone(),
            e["subject"].clone(),
            e["queue_group"].clone()
        ),
        (json!("r"), json!("r"), json!("rq"))
    );
    let started: jiff::Timestamp = after["started"].as_str().unwrap().parse().unwrap();
    assert!(started > before.started, "started moved to the reset");
    handler.abort();
}

#[tokio::test]
async fn stats_handler_fills_data_for_each_endpoint() {
    let (server, client) = setup().await;
    let service = Service::builder(&client, "custom", "1.0.0")
        .stats_handler(
            |e| json!({"endpoint": e.name, "seen": e.num_requests, "doubled": e.num_requests * 2}),
        )
        .await
        .unwrap();
    let _a = echo(service.endpoint("a").await.unwrap());
    let _b = echo(service.endpoint("b").await.unwrap());
    let caller = connect(&server).await;
    caller.request("a", "").await.unwrap();
    caller.request("a", "").await.unwrap();
    let stats = request_json(&caller, &format!("$SRV.STATS.custom.{}", service.id())).await;
    assert_eq!(
        stats["endpoints"][0]["data"],
        json!({"endpoint": "a", "seen": 2, "doubled": 4})
    );
    assert_eq!(
        stats["endpoints"][1]["data"],
        json!({"endpoint": "b", "seen": 0, "doubled": 0})
    );
    assert_eq!(service.stats().endpoints[0].data["seen"], 2);
}
