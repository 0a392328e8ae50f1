//! The Wasm OCI artifact layout (CNCF TAG Runtime; what wkg, wasmCloud and
//! Spin read and write): the config edgepipe pushes (the fields of
//! `oci-wasm`'s `WasmConfig`) and the checks of a pulled manifest before its
//! layer is downloaded. (`oci-wasm` itself is not used: its release pins
//! `oci-client` 0.17, whose TLS features need aws-lc or OpenSSL.)

use oci_client::manifest::{OciDescriptor, OciImageManifest, OCI_IMAGE_MEDIA_TYPE};
use oci_client::Reference;
use wasmparser::{Parser, Payload};

use super::{OciError, WASM_CONFIG_MEDIA_TYPE, WASM_LAYER_MEDIA_TYPE};
use crate::plugin::cache::content_hash;

/// The top-level import and export names of a component.
fn world(bytes: &[u8]) -> Result<(Vec<String>, Vec<String>), wasmparser::BinaryReaderError> {
    let (mut imports, mut exports) = (Vec::new(), Vec::new());
    let mut depth = 0u32;
    for payload in Parser::new(0).parse_all(bytes) {
        match payload? {
            Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => depth += 1,
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentImportSection(r) if depth == 0 => {
                for i in r {
                    imports.push(i?.name.name.to_string());
                }
            }
            Payload::ComponentExportSection(r) if depth == 0 => {
                for e in r {
                    exports.push(e?.name.name.to_string());
                }
            }
            _ => {}
        }
    }
    Ok((imports, exports))
}

/// `secs` since the Unix epoch as RFC 3339 (UTC), for the config's `created`.
fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The config blob of a component's artifact: created time, `wasm`/`wasip2`,
/// the layer's digest and the component's imports and exports.
pub fn config(bytes: &[u8]) -> Result<oci_client::client::Config, OciError> {
    let (imports, exports) = world(bytes).map_err(|e| OciError::NotWasm {
        reference: "the file".into(),
        reason: e.to_string(),
    })?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let json = serde_json::json!({
        "created": rfc3339(now),
        "architecture": "wasm",
        "os": "wasip2",
        "layerDigests": [format!("sha256:{}", content_hash(bytes))],
        "component": {"imports": imports, "exports": exports},
    });
    Ok(oci_client::client::Config::new(
        json.to_string().into_bytes(),
        WASM_CONFIG_MEDIA_TYPE.to_string(),
        None,
    ))
}

/// The manifest edgepipe pushes for `layer` and `config`.
pub fn manifest(
    layer: &oci_client::client::ImageLayer,
    config: &oci_client::client::Config,
) -> OciImageManifest {
    let mut m = OciImageManifest::build(std::slice::from_ref(layer), config, None);
    m.media_type = Some(OCI_IMAGE_MEDIA_TYPE.to_string());
    m
}

/// The one `application/wasm` layer of the manifest `raw`, checked: an OCI
/// image manifest with the Wasm config media type, exactly one layer, of
/// the Wasm media type, no larger than `max` bytes.
pub fn wasm_layer(r: &Reference, raw: &[u8], max: u64) -> Result<OciDescriptor, OciError> {
    let not_wasm = |reason: String| OciError::NotWasm {
        reference: r.to_string(),
        reason,
    };
    let m: OciImageManifest = serde_json::from_slice(raw)
        .map_err(|e| not_wasm(format!("the manifest is not an OCI image manifest: {e}")))?;
    if let Some(t) = m
        .media_type
        .as_deref()
        .filter(|t| *t != OCI_IMAGE_MEDIA_TYPE)
    {
        return Err(not_wasm(format!(
            "manifest media type {t}, expected {OCI_IMAGE_MEDIA_TYPE}"
        )));
    }
    if m.config.media_type != WASM_CONFIG_MEDIA_TYPE {
        return Err(not_wasm(format!(
            "config media type {}, expected {WASM_CONFIG_MEDIA_TYPE}",
            m.config.media_type
        )));
    }
    let [layer] = m.layers.as_slice() else {
        return Err(not_wasm(format!(
            "{} layers, expected one {WASM_LAYER_MEDIA_TYPE} layer",
            m.layers.len()
        )));
    };
    if layer.media_type != WASM_LAYER_MEDIA_TYPE {
        return Err(not_wasm(format!(
            "layer media type {}, expected {WASM_LAYER_MEDIA_TYPE}",
            layer.media_type
        )));
    }
    let size = u64::try_from(layer.size).unwrap_or(u64::MAX);
    if size > max {
        return Err(OciError::TooLarge {
            reference: r.to_string(),
            size,
            max,
        });
    }
    Ok(layer.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest_json(config_type: &str, layers: &[(&str, u64)]) -> Vec<u8> {
        let layers: Vec<serde_json::Value> = layers
            .iter()
            .map(|(t, size)| serde_json::json!({"mediaType": t, "digest": format!("sha256:{}", "b".repeat(64)), "size": size}))
            .collect();
        serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": OCI_IMAGE_MEDIA_TYPE,
            "config": {"mediaType": config_type, "digest": format!("sha256:{}", "c".repeat(64)), "size": 2},
            "layers": layers,
        }))
        .unwrap()
    }

    #[test]
    fn created_is_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_796_428_799), "2026-12-04T23:59:59Z");
    }

    #[test]
    fn only_the_wasm_layout_within_the_cap_passes() {
        let r: Reference = "127.0.0.1:5000/p/x:1".parse().unwrap();
        let ok = manifest_json(WASM_CONFIG_MEDIA_TYPE, &[(WASM_LAYER_MEDIA_TYPE, 10)]);
        assert_eq!(wasm_layer(&r, &ok, 10).unwrap().size, 10);
        let e = wasm_layer(&r, &ok, 9).unwrap_err().to_string();
        assert!(e.contains("over the limit"), "{e}");
        let image = manifest_json(
            "application/vnd.oci.image.config.v1+json",
            &[(WASM_LAYER_MEDIA_TYPE, 10)],
        );
        let e = wasm_layer(&r, &image, 10).unwrap_err().to_string();
        assert!(
            e.contains("config media type application/vnd.oci.image.config.v1+json"),
            "{e}"
        );
        let tar = manifest_json(
            WASM_CONFIG_MEDIA_TYPE,
            &[("application/vnd.oci.image.layer.v1.tar", 1)],
        );
        assert!(wasm_layer(&r, &tar, 10)
            .unwrap_err()
            .to_string()
            .contains("layer media type"));
        let two = manifest_json(
            WASM_CONFIG_MEDIA_TYPE,
            &[(WASM_LAYER_MEDIA_TYPE, 1), (WASM_LAYER_MEDIA_TYPE, 1)],
        );
        assert!(wasm_layer(&r, &two, 10)
            .unwrap_err()
            .to_string()
            .contains("2 layers"));
        assert!(wasm_layer(&r, b"{}", 10)
            .unwrap_err()
            .to_string()
            .contains("not an OCI image manifest"));
    }
}
