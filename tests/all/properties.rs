//! Property tests of the parsers that read what users and models hand in: the
//! pipeline file (and the settings resolved from it), broker URLs, and the
//! model's `names` metadata. Whatever the input: no panic, no unbounded
//! allocation, and an accepted value is one the program can use.

use std::path::Path;
use std::time::{Duration, Instant};

use edgepipe::config::{resolve, FileConfig, Overrides};
use edgepipe::detect::parse_names;
use edgepipe::mqtt::url::{redact, BrokerAddr};
use proptest::prelude::*;

fn parse(text: &str) -> Result<FileConfig, String> {
    FileConfig::parse(text, Path::new("p.toml")).map_err(|e| e.to_string())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Any text: a config or a one-line error naming the file.
    #[test]
    fn any_text_parses_or_is_a_one_line_error(text in "\\PC{0,200}") {
        if let Err(e) = parse(&text) {
            prop_assert!(e.starts_with("config file p.toml:"), "{}", e);
            prop_assert!(!e.contains('\n'), "{}", e);
        }
    }

    /// Any numbers in the numeric settings: either an error naming the key,
    /// or settings whose deadlines and sizes do not overflow where used.
    #[test]
    fn numeric_settings_never_overflow(
        ack in any::<i64>(), connect in any::<i64>(), call_ms in any::<i64>(), memory_mb in any::<i64>(),
        keepalive in any::<i64>(), threads in any::<i64>(), queue_bytes in any::<i64>(), max_message in any::<i64>(),
        small in any::<bool>(),
    ) {
        // Half the cases in the plausible range, so that accepted values are covered too.
        let v = |x: i64, cap: i64| if small { x.rem_euclid(cap) } else { x };
        let text = format!(
            "[mqtt]\nack_timeout_secs = {}\nconnect_timeout_secs = {}\nkeepalive_secs = {}\nqueue_bytes = {}\nmax_message_bytes = {}\n\
             [plugins]\ncall_timeout_ms = {}\nmemory_mb = {}\n[model]\nthreads = {}\n",
            v(ack, 100_000), v(connect, 100_000), v(keepalive, 70_000), v(queue_bytes, 1 << 30), v(max_message, 1 << 29),
            v(call_ms, 100_000), v(memory_mb, 5000), v(threads, 2000),
        );
        let file = match parse(&text) {
            Ok(f) => f,
            // Negative numbers do not fit the unsigned fields: a parse error.
            Err(e) => { prop_assert!(!e.contains('\n')); return Ok(()); }
        };
        match resolve(Some(file), &Overrides::default()) {
            Ok(s) => {
                let now = Instant::now();
                prop_assert!(now.checked_add(s.runtime.ack_timeout + Duration::from_secs(1)).is_some());
                prop_assert!(now.checked_add(s.runtime.connect_timeout + Duration::from_secs(1)).is_some());
                prop_assert!(now.checked_add(s.runtime.call_timeout).is_some());
                prop_assert_eq!(s.runtime.memory_limit as u128, (v(memory_mb, 5000) as u128) << 20, "no wrap");
                prop_assert!(s.runtime.memory_limit <= 4 << 30);
                prop_assert!(s.model.threads <= 1024);
            }
            Err(e) => {
                let e = e.to_string();
                prop_assert!(e.starts_with("setting `"), "{}", e);
                prop_assert!(!e.contains('\n'), "{}", e);
            }
        }
    }

    /// Any URL: an address with a host and a non-zero port, or a one-line
    /// error that never shows a password.
    #[test]
    fn any_url_parses_or_is_a_one_line_error(url in "\\PC{0,60}", password in "[a-z]{6,12}") {
        let with_secret = url.replacen("://", &format!("://user:{password}@"), 1);
        for u in [&url, &with_secret] {
            match BrokerAddr::parse(u) {
                Ok(a) => prop_assert!(!a.host.is_empty() && a.port != 0, "{:?}", a),
                Err(e) => prop_assert!(!e.to_string().contains('\n')),
            }
        }
        if with_secret != url {
            let secret = format!(":{password}@");
            let shown = BrokerAddr::parse(&with_secret).map(|a| a.host).unwrap_or_else(|e| e.to_string());
            prop_assert!(!shown.contains(&secret), "{}", shown);
            prop_assert!(!redact(&with_secret).contains(&secret), "{}", with_secret);
        }
    }

    /// Well-formed URLs give back what they say.
    #[test]
    fn well_formed_urls_round_trip(host in "[a-z][a-z0-9-]{0,20}(\\.[a-z0-9]{1,8}){0,3}", port in 1u16.., tls in any::<bool>()) {
        let scheme = if tls { "mqtts" } else { "mqtt" };
        let a = BrokerAddr::parse(&format!("{scheme}://{host}:{port}")).unwrap();
        prop_assert_eq!(a, BrokerAddr { host, port, tls });
    }

    /// Any metadata text: labels for at most `classes` ids, or none.
    #[test]
    fn any_names_text_is_bounded(text in "\\PC{0,120}", classes in 1usize..1000) {
        if let Some(names) = parse_names(&text, classes) {
            prop_assert!(!names.is_empty() && names.len() <= classes);
        }
    }

    /// Dicts with any ids, absurd ones included: the names by id when every
    /// id is a class of the model, else nothing (and no allocation by id).
    #[test]
    fn names_dicts_by_id(ids in prop::collection::vec(any::<u64>(), 1..8), small in any::<bool>(), classes in 1usize..200) {
        let ids: Vec<u64> = ids.into_iter().map(|i| if small { i % 256 } else { i }).collect();
        let text = format!("{{{}}}", ids.iter().map(|i| format!("{i}: 'n{i}'")).collect::<Vec<_>>().join(", "));
        let got = parse_names(&text, classes);
        if ids.iter().all(|&i| (i as u128) < classes as u128) {
            let names = got.unwrap();
            prop_assert_eq!(names.len() as u64, ids.iter().max().unwrap() + 1);
            for i in &ids {
                prop_assert_eq!(&names[*i as usize], &format!("n{i}"));
            }
        } else {
            prop_assert!(got.is_none());
        }
    }
}
