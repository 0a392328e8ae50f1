//! The compiled-component cache: a restart with unchanged plugins loads them
//! instead of compiling; a damaged entry is compiled again and replaced.

use edgepipe::plugin::{ComponentCache, Limits, Origin, PluginHost, StageKind};

use crate::common;

#[test]
fn a_restart_loads_compiled_components_from_the_cache() {
    let dir = common::TempDir::new("cache");
    let cache = dir.path().join("components");
    let path = common::plugin("people-counter");
    let bytes = std::fs::read(&path).unwrap();

    let first = PluginHost::with_cache(Limits::default(), ComponentCache::new(Some(cache.clone())))
        .unwrap();
    let (_, origin) = first
        .prepare("people-counter", &path, StageKind::Stats, &bytes)
        .unwrap();
    assert_eq!(origin, Origin::Compiled);
    let entries: Vec<_> = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    let name = entries[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(
        name.starts_with(&edgepipe::plugin::cache::content_hash(&bytes))
            && name.ends_with(".cwasm"),
        "{name}"
    );

    // A new engine with the same settings: loaded, not compiled, and it runs.
    let second =
        PluginHost::with_cache(Limits::default(), ComponentCache::new(Some(cache.clone())))
            .unwrap();
    let (_, origin) = second
        .prepare("people-counter", &path, StageKind::Stats, &bytes)
        .unwrap();
    assert_eq!(origin, Origin::Cache);
    let mut stage = second
        .load("people-counter", &path, StageKind::Stats, Vec::new())
        .unwrap();
    let info = edgepipe::plugin::bindings::FrameInfo {
        index: 0,
        timestamp_ms: 0,
        width: 8,
        height: 8,
        camera: "default".into(),
    };
    assert!(!stage.update(&info, &[]).is_empty());

    // A damaged entry is not trusted blindly: it fails to load, is compiled again and replaced.
    std::fs::write(&entries[0], b"not a compiled component").unwrap();
    let third = PluginHost::with_cache(Limits::default(), ComponentCache::new(Some(cache.clone())))
        .unwrap();
    let (_, origin) = third
        .prepare("people-counter", &path, StageKind::Stats, &bytes)
        .unwrap();
    assert_eq!(origin, Origin::Compiled);
    let fourth =
        PluginHost::with_cache(Limits::default(), ComponentCache::new(Some(cache))).unwrap();
    assert_eq!(
        fourth
            .prepare("people-counter", &path, StageKind::Stats, &bytes)
            .unwrap()
            .1,
        Origin::Cache
    );
}
