//! Tenants: chains of their own on the shared camera and model, isolated by
//! the host and by a real mosquitto with password and ACL files; changed
//! while running; `tenants check`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use crate::common::{self, ConfiguredMosquitto, MosquittoOptions, Subscriber};

fn plugin(name: &str) -> String {
    common::plugin(name).display().to_string()
}

/// A chain file: people-counter -> course-topics (with the frame index in
/// every payload, so each frame's message can be counted), plus `extra`.
fn counting_tenant(extra: &str) -> String {
    format!(
        "[[stages]]\nname = \"people-counter\"\nkind = \"stats\"\npath = {:?}\n\n\
         [[stages]]\nname = \"course-topics\"\nkind = \"topics\"\npath = {:?}\nsettings = {{ include_frame = true }}\n{extra}",
        plugin("people-counter"),
        plugin("course-topics")
    )
}

/// The operator's pipeline: the same counting chain, tenants from `dir`.
fn pipeline(dir: &Path, tenants: &Path) -> PathBuf {
    let p = dir.join("pipeline.toml");
    let text = format!(
        "[tenants]\ndir = {:?}\nmax_frame_budget_ms = 200\nmax_message_bytes = 4096\nmax_messages_per_frame = 16\nmax_call_timeout_ms = 200\n\n{}",
        tenants,
        counting_tenant("")
    );
    std::fs::write(&p, text).unwrap();
    p
}

/// Frame indices of the messages on `topic`, by index -> how many times.
pub(crate) fn frames_on(messages: &[(String, String)], topic: &str) -> BTreeMap<u64, usize> {
    let mut out = BTreeMap::new();
    for (t, p) in messages.iter().filter(|(t, _)| t == topic) {
        let v: serde_json::Value =
            serde_json::from_str(p).unwrap_or_else(|e| panic!("{t}: {e}: {p}"));
        *out.entry(
            v["frame"]
                .as_u64()
                .unwrap_or_else(|| panic!("no frame in {p}")),
        )
        .or_default() += 1;
    }
    out
}

/// The `total` of each message on `topic`, in order.
pub(crate) fn totals_on(messages: &[(String, String)], topic: &str) -> Vec<u64> {
    messages
        .iter()
        .filter(|(t, _)| t == topic)
        .map(|(_, p)| {
            serde_json::from_str::<serde_json::Value>(p).unwrap()["total"]
                .as_u64()
                .unwrap_or_else(|| panic!("no total in {p}"))
        })
        .collect()
}

pub(crate) fn each_frame_once(messages: &[(String, String)], topic: &str, frames: u64) {
    let got = frames_on(messages, topic);
    let expected: BTreeMap<u64, usize> = (0..frames).map(|f| (f, 1)).collect();
    assert_eq!(got, expected, "{topic}: every frame's message exactly once");
}

#[test]
fn tenants_stay_inside_their_prefix_and_a_hostile_one_disturbs_nobody() {
    const FRAMES: u64 = 40;
    let dir = common::TempDir::new("tenants-acl");
    let users = [
        ("operator", "op-pw"),
        ("acme", "acme-pw"),
        ("globex", "globex-pw"),
        ("evil", "evil-pw"),
    ];
    let passwd = common::password_file(dir.path(), &users);
    let acl = dir.path().join("acl");
    std::fs::write(
        &acl,
        "user operator\ntopic readwrite #\n\npattern readwrite tenants/%u/#\n",
    )
    .unwrap();
    let broker = ConfiguredMosquitto::start(&MosquittoOptions {
        password_file: Some(passwd),
        acl_file: Some(acl),
        ..Default::default()
    });
    let mut sub = Subscriber::start_as(broker.port, &["#"], Some(("operator", "op-pw")));

    let tenants = dir.path().join("tenants");
    std::fs::create_dir_all(&tenants).unwrap();
    let login = |u: &str| {
        format!(
            "[mqtt]\nusername = \"{u}\"\npassword_env = \"PW_{}\"\n\n",
            u.to_uppercase()
        )
    };
    std::fs::write(
        tenants.join("acme.toml"),
        login("acme") + &counting_tenant(""),
    )
    .unwrap();
    std::fs::write(
        tenants.join("globex.toml"),
        login("globex")
            + &counting_tenant(&format!(
                "\n[[stages]]\nname = \"draw-boxes\"\nkind = \"draw\"\npath = {:?}\n",
                plugin("draw-boxes")
            )),
    )
    .unwrap();
    let noisy = common::guest("noisy-topics").display().to_string();
    let hostile = common::guest("hostile").display().to_string();
    let evil = format!(
        "{}[limits]\ncall_timeout_ms = 20\nmemory_mb = 16\nframe_budget_ms = 10\nmax_message_bytes = 1000\nmax_messages_per_frame = 8\n\n\
         [[stages]]\nname = \"loops\"\nkind = \"stats\"\npath = {hostile:?}\nsettings = {{ mode = \"loop\", at = 3 }}\n\n\
         [[stages]]\nname = \"hoards\"\nkind = \"stats\"\npath = {hostile:?}\nsettings = {{ mode = \"alloc\", at = 5 }}\n\n\
         [[stages]]\nname = \"escapes\"\nkind = \"topics\"\npath = {noisy:?}\n\
         settings = {{ topics = \"../acme/person|#|a/+/b|$SYS/x|/abs|x/../../acme/person|edgepipe/default/status|ok|nul\\u0000here\" }}\n\n\
         [[stages]]\nname = \"big\"\nkind = \"topics\"\npath = {noisy:?}\nsettings = {{ topics = \"big\", payload_bytes = 4194304 }}\n\n\
         [[stages]]\nname = \"floods\"\nkind = \"topics\"\npath = {noisy:?}\nsettings = {{ topics = \"flood\", repeat = 50 }}\n",
        login("evil")
    );
    std::fs::write(tenants.join("evil.toml"), evil).unwrap();
    let config = pipeline(dir.path(), &tenants);

    let out = common::command()
        .args(["run", "--config"])
        .arg(&config)
        .arg("--input")
        .arg(common::clip())
        .args([
            "--max-frames",
            &FRAMES.to_string(),
            "--mqtt-url",
            &broker.url(),
            "--mqtt-username",
            "operator",
            "--mqtt-password-env",
            "PW_OPERATOR",
        ])
        .envs(
            users
                .iter()
                .map(|(u, p)| (format!("PW_{}", u.to_uppercase()), p.to_string())),
        )
        .stdout(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(0),
        "a hostile tenant does not change the run's outcome:\n{stderr}"
    );
    assert!(
        stderr.contains("tenants loaded") && stderr.contains("ids=acme,evil,globex"),
        "{stderr}"
    );

    // Every chain's last frame delivered (waited for, not slept for).
    assert!(sub.wait_for(Duration::from_secs(60), |m| {
        ["person", "tenants/acme/person", "tenants/globex/person"]
            .iter()
            .all(|topic| m.iter().filter(|(t, _)| t == topic).count() >= FRAMES as usize)
    }));
    let m = sub.messages().to_vec();
    each_frame_once(&m, "person", FRAMES);
    each_frame_once(&m, "tenants/acme/person", FRAMES);
    each_frame_once(&m, "tenants/globex/person", FRAMES);
    for (t, _) in &m {
        assert!(
            t.starts_with("person")
                || t.starts_with("edgepipe/default/")
                || t.starts_with("tenants/acme/")
                || t.starts_with("tenants/globex/")
                || t.starts_with("tenants/evil/"),
            "nothing outside a prefix: {t}"
        );
    }
    assert!(
        m.iter()
            .filter(|(t, _)| t == "edgepipe/default/status")
            .all(|(_, p)| p == "online" || p == "offline"),
        "no spoofed status"
    );
    assert!(
        m.iter().any(|(t, _)| t == "tenants/evil/ok"),
        "the evil tenant's one valid topic is delivered, placed under its prefix"
    );
    assert!(
        !m.iter().any(|(t, _)| t == "tenants/evil/big"),
        "a payload over max_message_bytes is refused"
    );
    let floods = m.iter().filter(|(t, _)| t == "tenants/evil/flood").count() as u64;
    assert!(
        floods <= 8 * FRAMES,
        "at most max_messages_per_frame per frame: {floods}"
    );
    let events: Vec<&String> = m
        .iter()
        .filter(|(t, _)| t == "tenants/evil/$events")
        .map(|(_, p)| p)
        .collect();
    for kind in ["\"message-refused\"", "\"fault\"", "\"budget-overrun\""] {
        assert!(
            events.iter().any(|e| e.contains(kind)),
            "the evil tenant sees its own {kind} events: {events:?}"
        );
    }
    assert!(
        events.iter().any(|e| e.contains("deadline")),
        "the loop was cut by its deadline: {events:?}"
    );
    assert!(
        events.iter().any(|e| e.contains("memory limit")),
        "the allocation hit its cap: {events:?}"
    );
    let trouble: Vec<&(String, String)> = m
        .iter()
        .filter(|(t, p)| {
            (t == "tenants/acme/$events" || t == "tenants/globex/$events")
                && !p.contains("\"event\":\"loaded\"")
        })
        .collect();
    assert!(
        trouble.is_empty(),
        "the good tenants had no trouble: {trouble:?}"
    );
    // Nobody's connection dropped because of what evil did.
    assert!(stderr.contains("reconnects: 0"), "{stderr}");
    for id in ["acme", "evil", "globex"] {
        let line = stderr
            .lines()
            .find(|l| l.contains(&format!("summary: tenant {id}: ")))
            .unwrap_or_else(|| panic!("no summary for {id}:\n{stderr}"));
        assert!(line.contains("reconnects 0"), "{line}");
        assert!(line.contains(&format!("frames {FRAMES}")), "{line}");
    }
    let evil_line = stderr
        .lines()
        .find(|l| l.contains("summary: tenant evil: "))
        .unwrap();
    assert!(
        !evil_line.contains("refused 0,"),
        "refusals counted: {evil_line}"
    );
}

#[test]
fn tenants_come_change_and_go_while_running_with_no_gap_for_the_others() {
    const FRAMES: u64 = 500;
    let dir = common::TempDir::new("tenants-live");
    let tenants = dir.path().join("tenants");
    std::fs::create_dir_all(&tenants).unwrap();
    std::fs::write(tenants.join("acme.toml"), counting_tenant("")).unwrap();
    let config = pipeline(dir.path(), &tenants);
    let broker = common::Mosquitto::start();
    let mut sub = Subscriber::start(broker.port, &["#"]);
    let mut child = common::command()
        .args(["run", "--config"])
        .arg(&config)
        .arg("--input")
        .arg(common::clip())
        .args([
            "--max-frames",
            &FRAMES.to_string(),
            "--mqtt-url",
            &broker.url(),
            "--sessions",
            "1",
            "--threads",
            "1",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let err = common::stderr_of(&mut child);
    let count = |m: &[(String, String)], t: &str| m.iter().filter(|(x, _)| x == t).count();
    assert!(
        sub.wait_for(Duration::from_secs(60), |m| count(m, "tenants/acme/person")
            >= 20),
        "acme runs"
    );

    // Added mid-run.
    std::fs::write(tenants.join("globex.toml"), counting_tenant("")).unwrap();
    assert!(
        sub.wait_for(Duration::from_secs(20), |m| count(
            m,
            "tenants/globex/person"
        ) >= 10),
        "globex added while running"
    );

    // Edited: acme's topics move to v2/; its counter's state carries over.
    let edited = counting_tenant("").replace(
        "settings = { include_frame = true }",
        "settings = { include_frame = true, prefix = \"v2\" }",
    );
    std::fs::write(tenants.join("acme.toml"), edited).unwrap();
    assert!(
        sub.wait_for(Duration::from_secs(20), |m| count(
            m,
            "tenants/acme/v2/person"
        ) >= 10),
        "acme edited while running"
    );

    // A broken edit is refused; the running version stays.
    std::fs::write(tenants.join("acme.toml"), "[[stages]\nthis is not toml").unwrap();
    assert!(
        sub.wait_for(Duration::from_secs(20), |m| m.iter().any(|(t, p)| t
            == "tenants/acme/$events"
            && p.contains("\"refused\""))),
        "the refusal is told to the tenant"
    );
    let before = count(sub.messages(), "tenants/acme/v2/person");
    assert!(
        sub.wait_for(Duration::from_secs(20), |m| count(
            m,
            "tenants/acme/v2/person"
        ) >= before + 10),
        "the old version keeps running"
    );

    // Removed: its finish runs, then it is gone.
    std::fs::remove_file(tenants.join("globex.toml")).unwrap();
    assert!(
        sub.wait_for(Duration::from_secs(20), |m| m
            .iter()
            .any(|(t, _)| t == "tenants/globex/person/total")),
        "removal publishes the chain's finish"
    );
    let code = common::wait_exit(&mut child, Duration::from_secs(240));
    let stderr = err.join().unwrap();
    assert_eq!(code, 0, "{stderr}");
    assert!(sub.wait_for(Duration::from_secs(10), |m| m
        .iter()
        .any(|(t, _)| t == "person/total")));
    let m = sub.messages().to_vec();
    let globex_frames = frames_on(&m, "tenants/globex/person");
    assert!(
        globex_frames.keys().last().copied().unwrap_or(0) < FRAMES - 1,
        "globex stopped before the end"
    );

    // No gap, no duplicate for anyone else.
    each_frame_once(&m, "person", FRAMES);
    let mut acme = frames_on(&m, "tenants/acme/person");
    for (f, n) in frames_on(&m, "tenants/acme/v2/person") {
        *acme.entry(f).or_default() += n;
    }
    assert_eq!(
        acme,
        (0..FRAMES).map(|f| (f, 1)).collect::<BTreeMap<_, _>>(),
        "acme: every frame once, across its edit"
    );
    // The counter's total went on across the edit.
    let total = |t: &str| totals_on(&m, t);
    let (v1, v2) = (
        total("tenants/acme/person"),
        total("tenants/acme/v2/person"),
    );
    assert!(
        v2.first().copied().unwrap_or(0) >= v1.last().copied().unwrap_or(0),
        "state carried: v1 ended at {:?}, v2 began at {:?}",
        v1.last(),
        v2.first()
    );
    for e in ["\"added\"", "\"updated\"", "\"refused\"", "\"removed\""] {
        assert!(
            m.iter()
                .any(|(t, p)| t == "edgepipe/default/tenants" && p.contains(e)),
            "host event {e}"
        );
    }
}

#[test]
fn tenants_check_passes_good_folders_and_names_each_problem() {
    let (code, out, stderr) = {
        let o = common::command()
            .args(["tenants", "check"])
            .arg(common::root().join("examples/tenants/tenants"))
            .arg("--config")
            .arg(common::root().join("examples/tenants/pipeline.toml"))
            .env("GLOBEX_MQTT_PASSWORD", "x")
            .output()
            .unwrap();
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    assert_eq!(code, 0, "{out}{stderr}");
    assert!(
        out.contains("ok acme: 2 stage(s), topics under tenants/acme/"),
        "{out}"
    );
    assert!(
        out.contains("ok globex: 3 stage(s), topics under sites/globex/"),
        "{out}"
    );

    let dir = common::TempDir::new("tenants-bad");
    let d = dir.path();
    let good = counting_tenant("");
    std::fs::write(d.join("Bad_Name.toml"), &good).unwrap();
    std::fs::write(d.join("typo.toml"), format!("topic_prefx = \"x\"\n{good}")).unwrap();
    std::fs::write(
        d.join("missing.toml"),
        "[[stages]]\nname = \"no-such-plugin\"\nkind = \"stats\"\n",
    )
    .unwrap();
    std::fs::write(
        d.join("greedy.toml"),
        format!("[limits]\nmemory_mb = 100000\n{good}"),
    )
    .unwrap();
    std::fs::write(
        d.join("one.toml"),
        format!("topic_prefix = \"shared/x\"\n{good}"),
    )
    .unwrap();
    std::fs::write(
        d.join("two.toml"),
        format!("topic_prefix = \"shared/x/y\"\n{good}"),
    )
    .unwrap();
    let o = common::command()
        .args(["tenants", "check"])
        .arg(d)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(1), "{out}");
    let line = |needle: &str| {
        out.lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line for {needle}:\n{out}"))
            .to_string()
    };
    assert!(line("Bad_Name.toml").contains("not a tenant file name"));
    assert!(line("typo.toml").contains("topic_prefx"));
    assert!(line("missing.toml").contains("no-such-plugin"));
    assert!(line("greedy.toml").contains("limits.memory_mb"));
    assert!(line("two.toml").contains("overlaps tenant one"));
    assert!(out.contains("ok one:"), "{out}");
    assert_eq!(out.lines().count(), 6, "one line per tenant file:\n{out}");
}

#[test]
fn the_example_tenants_run() {
    let dir = common::TempDir::new("tenants-example");
    let passwd = common::password_file(dir.path(), &[("shop", "shop-pw"), ("globex", "globex-pw")]);
    let broker = ConfiguredMosquitto::start(&MosquittoOptions {
        password_file: Some(passwd),
        ..Default::default()
    });
    let mut sub = Subscriber::start_as(broker.port, &["#"], Some(("shop", "shop-pw")));
    let o = common::command()
        .args(["run", "--config"])
        .arg(common::root().join("examples/tenants/pipeline.toml"))
        .args([
            "--max-frames",
            "5",
            "--mqtt-url",
            &broker.url(),
            "--mqtt-username",
            "shop",
            "--mqtt-password-env",
            "SHOP_PW",
        ])
        .env("SHOP_PW", "shop-pw")
        .env("GLOBEX_MQTT_PASSWORD", "globex-pw")
        .stdout(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("ids=acme,globex"), "{stderr}");
    assert!(sub.wait_for(Duration::from_secs(10), |m| {
        m.iter().any(|(t, _)| t == "tenants/acme/person")
            && m.iter().any(|(t, _)| t == "sites/globex/person")
    }));
}

#[test]
fn bench_tenants_prints_the_cost_of_n_tenants() {
    let (code, out, stderr) = common::run_edgepipe(&["bench", "--tenants", "2", "--frames", "8"]);
    assert_eq!(code, 0, "{stderr}");
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.contains("fps with 2 tenants:") && text.contains("with / without: "),
        "{text}"
    );
    let ms: f64 = text
        .split("median ms per frame: ")
        .nth(1)
        .and_then(|r| r.split("-> ").nth(1))
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no tenants ms in:\n{text}"));
    assert!(ms > 0.0, "the tenants' chains were measured: {text}");
}

/// A tenant with its own MQTT login, edited twice while running (its stages,
/// then its user name, with the same client id), never has two connections
/// fighting over its client id: mosquitto (password and ACL files, every
/// log line on) logs no session takeover, and every frame's message of the
/// tenant arrives once. (Each edit connected the new version while the old
/// one still ran: mosquitto logged "already connected" takeovers.)
#[test]
fn editing_a_tenant_with_its_own_login_never_fights_over_its_client_id() {
    let dir = common::TempDir::new("tenants-takeover");
    let users = [
        ("operator", "op-pw"),
        ("acme", "acme-pw"),
        ("acme2", "acme2-pw"),
    ];
    let (broker, mut sub) = common::broker_with_logins(
        dir.path(),
        &users,
        "user operator\ntopic readwrite #\n\nuser acme\ntopic readwrite tenants/acme/#\n\nuser acme2\ntopic readwrite tenants/acme/#\n",
    );
    let tenants = dir.path().join("tenants");
    std::fs::create_dir_all(&tenants).unwrap();
    let login = |u: &str| {
        format!(
            "[mqtt]\nusername = \"{u}\"\npassword_env = \"PW_{}\"\n\n",
            u.to_uppercase()
        )
    };
    std::fs::write(
        tenants.join("acme.toml"),
        login("acme") + &counting_tenant(""),
    )
    .unwrap();
    let config = pipeline(dir.path(), &tenants);
    let mut child = common::command()
        .args(["run", "--config"])
        .arg(&config)
        .arg("--input")
        .arg(common::clip())
        .args([
            "--mqtt-url",
            &broker.url(),
            "--mqtt-username",
            "operator",
            "--mqtt-password-env",
            "PW_OPERATOR",
        ])
        .envs(
            users
                .iter()
                .map(|(u, p)| (format!("PW_{}", u.to_uppercase()), p.to_string())),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let err = common::stderr_of(&mut child);
    let count = |m: &[(String, String)], t: &str| m.iter().filter(|(x, _)| x == t).count();
    let updated = |m: &[(String, String)]| {
        m.iter()
            .filter(|(t, p)| t == "edgepipe/default/tenants" && p.contains("\"updated\""))
            .count()
    };
    fn wait(sub: &mut Subscriber, what: &str, f: impl Fn(&[(String, String)]) -> bool) {
        assert!(sub.wait_for(Duration::from_secs(120), f), "{what}");
    }
    wait(&mut sub, "acme runs", |m| {
        count(m, "tenants/acme/person") >= 10
    });
    // Edit 1: its stages (a new setting), the same login.
    let edited = counting_tenant("").replace(
        "settings = { include_frame = true }",
        "settings = { include_frame = true, prefix = \"v2\" }",
    );
    std::fs::write(tenants.join("acme.toml"), login("acme") + &edited).unwrap();
    wait(&mut sub, "edit 1 applied", |m| {
        updated(m) >= 1 && count(m, "tenants/acme/v2/person") >= 10
    });
    // Edit 2: another user name, the same client id.
    std::fs::write(tenants.join("acme.toml"), login("acme2") + &edited).unwrap();
    wait(&mut sub, "edit 2 applied", |m| updated(m) >= 2);
    let before = count(sub.messages(), "tenants/acme/v2/person");
    wait(&mut sub, "acme2 publishes", |m| {
        count(m, "tenants/acme/v2/person") >= before + 10
    });
    let ok = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let code = common::wait_exit(&mut child, Duration::from_secs(240));
    let stderr = err.join().unwrap();
    assert_eq!(code, 0, "{stderr}");
    let frames: u64 = stderr
        .split("edgepipe: summary: ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no summary: {stderr}"));
    wait(&mut sub, "the last frame's messages", |m| {
        frames_on(m, "tenants/acme/v2/person").contains_key(&(frames - 1))
    });
    let log = broker.log();
    let takeovers: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("already connected") || l.contains("session taken over"))
        .collect();
    assert!(
        takeovers.is_empty(),
        "client id fights: {takeovers:?}\n{log}"
    );
    let m = sub.messages().to_vec();
    let mut acme = frames_on(&m, "tenants/acme/person");
    for (f, n) in frames_on(&m, "tenants/acme/v2/person") {
        *acme.entry(f).or_default() += n;
    }
    assert_eq!(
        acme,
        (0..frames).map(|f| (f, 1)).collect::<BTreeMap<_, _>>(),
        "acme: every frame once, across both edits"
    );
}
