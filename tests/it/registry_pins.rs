//! Digest pins against the real registry: whether a pinned digest is the
//! tag's own digest (its index) or one platform's child, and which manifest
//! of a new tag replaces it, answered from the per-run cache.

use gitops_bump::registry::{Child, OciManifest, PinKind, Platform, RegistryError};

use crate::registry::{client, options, repo};
use crate::registry_support::{Registry, block_on};

fn platform(s: &str) -> Platform {
    Platform::parse(s).expect("platform")
}

#[test]
fn registry_pin_kinds_and_their_new_digests() {
    let reg = Registry::start();
    let p = reg.pusher();
    let both = ["linux/amd64", "linux/arm64/v8"];
    let v1 = block_on(p.index("acme/app", "v1", &both, "2024-01-01T00:00:00Z"));
    let v2 = block_on(p.index("acme/app", "v2", &both, "2024-02-01T00:00:00Z"));
    let v3 = block_on(p.image(
        "acme/app",
        Some("v3"),
        "linux/amd64",
        "2024-03-01T00:00:00Z",
    ));
    let c = client(options(&[&reg.host()]));
    let r = repo(&reg.host(), "acme/app");
    let (amd64, arm64) = (platform("linux/amd64"), platform("linux/arm64"));
    block_on(async {
        let children = |digest: String| {
            let c = c.clone();
            let r = r.clone();
            async move {
                match &*c.manifest(&r, &digest).await.expect("index") {
                    OciManifest::Index { children } => children.clone(),
                    OciManifest::Image { .. } => panic!("{digest} is not an index"),
                }
            }
        };
        let child = |children: &[Child], want: &str| -> String {
            children
                .iter()
                .find(|c| c.platform.as_ref().map(ToString::to_string).as_deref() == Some(want))
                .map(|c| c.digest.clone())
                .unwrap_or_else(|| panic!("no {want} child"))
        };
        // What `set` has read before it asks: both tags and their indexes.
        let old = c.digest_of(&r, "v1").await.expect("v1").digest;
        let new = c.digest_of(&r, "v2").await.expect("v2").digest;
        assert_eq!((&old, &new), (&v1.digest, &v2.digest));
        c.platforms(&r, &old).await.expect("platforms");
        c.platforms(&r, &new).await.expect("platforms");
        let (old_children, new_children) =
            (children(old.clone()).await, children(new.clone()).await);
        let before = c.stats().requests;

        assert_eq!(
            c.pin_kind(&r, &old, &old).await.expect("index pin"),
            PinKind::Tag
        );
        assert_eq!(
            c.pin_kind(&r, &old, &child(&old_children, "linux/amd64"))
                .await
                .expect("child"),
            PinKind::Child(amd64.clone())
        );
        assert_eq!(
            c.pin_kind(&r, &old, &child(&old_children, "linux/arm64"))
                .await
                .expect("child"),
            PinKind::Child(arm64.clone()),
            "arm64/v8 in the index is linux/arm64"
        );
        assert_eq!(
            c.pin_kind(&r, &old, &child(&old_children, "unknown/unknown"))
                .await
                .expect("att"),
            PinKind::Unrelated,
            "an attestation is no platform's image"
        );
        assert_eq!(
            c.pin_kind(&r, &old, &child(&new_children, "linux/amd64"))
                .await
                .expect("other"),
            PinKind::Unrelated,
            "a child of another tag"
        );
        // The new tag's manifest for each kind.
        assert_eq!(
            c.platform_child(&r, &new, &amd64).await.expect("amd64"),
            Some(child(&new_children, "linux/amd64"))
        );
        assert_eq!(
            c.platform_child(&r, &new, &arm64).await.expect("arm64"),
            Some(child(&new_children, "linux/arm64"))
        );
        assert_eq!(
            c.platform_child(&r, &new, &platform("linux/s390x"))
                .await
                .expect("s390x"),
            None
        );
        assert_eq!(c.stats().requests, before, "answered from the cache");

        // A single-image tag: the pin is the tag; its own manifest is the
        // child for its platform and for no other.
        let single = c.digest_of(&r, "v3").await.expect("v3").digest;
        assert_eq!(single, v3.digest);
        let child_of_v1 = child(&old_children, "linux/amd64");
        assert_eq!(
            c.pin_kind(&r, &single, &child_of_v1).await.expect("single"),
            PinKind::Unrelated
        );
        assert_eq!(
            c.platform_child(&r, &single, &amd64)
                .await
                .expect("single amd64"),
            Some(single.clone())
        );
        assert_eq!(
            c.platform_child(&r, &single, &arm64)
                .await
                .expect("single arm64"),
            None
        );

        let e = c
            .pin_kind(&r, &old, "sha256:nothex")
            .await
            .expect_err("bad pin");
        assert!(matches!(e, RegistryError::InvalidReference { .. }), "{e:?}");
    });
}
