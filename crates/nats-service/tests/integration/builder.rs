//! Service configuration: validation and defaults.

use nats_service::{ErrorKind, Service, DEFAULT_QUEUE_GROUP};

use crate::common::setup;

#[tokio::test]
async fn names_and_versions_are_validated_before_anything_is_sent() {
    let (_server, client) = setup().await;
    let subs_before = client.subscription_count();
    for name in ["", "has space", "dot.ted", "star*", "gt>", "ümlaut"] {
        let err = Service::builder(&client, name, "1.0.0").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidName, "{name:?}");
    }
    for version in [
        "", "1", "1.0", "v1.0.0", "1.0.0.0", "01.0.0", "1.0.0-", "1.0.0-01", "1.0.0+",
    ] {
        let err = Service::builder(&client, "ok", version).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidVersion, "{version:?}");
    }
    let err = Service::builder(&client, "ok", "1.0.0")
        .queue_group("has space")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidQueueGroup);
    assert_eq!(
        client.subscription_count(),
        subs_before,
        "nothing subscribed"
    );
    for version in [
        "0.0.1",
        "1.2.3-alpha.1",
        "1.2.3+build.007",
        "10.20.30-rc.1+x-y",
    ] {
        Service::builder(&client, "Valid_name-1", version)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn identity_and_defaults() {
    let (_server, client) = setup().await;
    let a = Service::builder(&client, "ident", "1.0.0").await.unwrap();
    let b = Service::builder(&client, "ident", "1.0.0").await.unwrap();
    assert_eq!((a.name(), a.version()), ("ident", "1.0.0"));
    assert_ne!(a.id(), b.id(), "every instance has its own id");
    assert_eq!(a.id().len(), 22);
    assert!(a.id().bytes().all(|c| c.is_ascii_alphanumeric()));
    let info = a.info();
    assert_eq!(info.description, "");
    assert!(info.metadata.is_empty());
    assert!(info.endpoints.is_empty());
    let ep = a.endpoint("e").await.unwrap();
    assert_eq!(ep.info().queue_group, DEFAULT_QUEUE_GROUP);
    assert_eq!(DEFAULT_QUEUE_GROUP, "q");
    assert_eq!(ep.service().id(), a.id());
    assert!(!a.is_stopped());
}

#[tokio::test]
async fn endpoint_configuration_is_validated() {
    let (_server, client) = setup().await;
    let service = Service::builder(&client, "epval", "1.0.0").await.unwrap();
    let subs_before = client.subscription_count();
    for name in ["", "a.b", "a b", "*"] {
        let err = service.endpoint(name).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidName, "{name:?}");
    }
    for subject in ["a..b", "a b", ">.a", ""] {
        let err = service.endpoint("e").subject(subject).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidSubject, "{subject:?}");
    }
    for prefix in ["a.>", ">", "a..b"] {
        let err = service.group(prefix).endpoint("e").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidSubject, "{prefix:?}");
    }
    let err = service.endpoint("e").queue_group("a b").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidQueueGroup);
    let err = service
        .group("g")
        .queue_group("")
        .endpoint("e")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidQueueGroup);
    assert_eq!(
        client.subscription_count(),
        subs_before,
        "nothing subscribed"
    );
    assert!(service.info().endpoints.is_empty());
}

/// Handles are `Clone + Send + Sync`, streams `Unpin + Send`, and every
/// builder's future is `Send + 'static` (so it can be spawned).
#[tokio::test]
async fn handles_streams_and_builders_have_the_usual_traits() {
    fn handle<T: Clone + Send + Sync + 'static>() {}
    fn stream<T: futures_util::Stream + Unpin + Send + 'static>() {}
    fn spawnable<F: std::future::IntoFuture>(f: F) -> tokio::task::JoinHandle<F::Output>
    where
        F::IntoFuture: Send + 'static,
        F::Output: Send + 'static,
    {
        tokio::spawn(f.into_future())
    }
    handle::<Service>();
    handle::<nats_service::Group>();
    handle::<nats_service::Discovery>();
    stream::<nats_service::Endpoint>();
    fn send<T: Send + 'static>() {}
    send::<nats_service::Request>();

    let (_server, client) = setup().await;
    let service = spawnable(Service::builder(&client, "spawned", "1.0.0"))
        .await
        .unwrap()
        .unwrap();
    let endpoint = spawnable(service.endpoint("e")).await.unwrap().unwrap();
    let found = spawnable(nats_service::Discovery::new(&client).ping().name("spawned"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.len(), 1);
    drop(endpoint);
}
