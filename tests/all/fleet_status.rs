//! `edgepipe fleet status` against a broker that speaks TLS and wants a
//! login (a real mosquitto with a CA made with openssl and a
//! mosquitto_passwd file): the CA, the user and the password (from a file
//! or an environment variable, never the command line) are `run`'s options;
//! without the CA or with a wrong password it is one clear line, exit 6.

use super::common::{self, ConfiguredMosquitto, MosquittoOptions, TempDir};

const USER: &str = "operator";
const PASSWORD: &str = "fleet-status-pw";

/// `fleet status` with `args` after the URL: (exit code, stdout, stderr).
fn fleet_status(url: &str, args: &[&str], env: Option<(&str, &str)>) -> (i32, String, String) {
    let mut c = common::command();
    c.args(["fleet", "status", "--mqtt-url", url]).args(args);
    if let Some((k, v)) = env {
        c.env(k, v);
    }
    let out = c.output().expect("edgepipe runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn fleet_status_reads_a_tls_broker_with_a_password_from_a_file_or_the_environment() {
    let dir = TempDir::new("fleet-status-tls");
    let (ca, cert, key) = common::make_ca_and_server_cert(dir.path(), "fs");
    let passwd = common::password_file(dir.path(), &[(USER, PASSWORD)]);
    let broker = ConfiguredMosquitto::start(&MosquittoOptions {
        tls: Some((ca.clone(), cert, key)),
        password_file: Some(passwd),
        ..Default::default()
    });
    let url = broker.url();
    assert!(url.starts_with("mqtts://"), "{url}");
    let pw_file = dir.path().join("mqtt-password");
    std::fs::write(&pw_file, format!("{PASSWORD}\n")).unwrap();
    let (ca, pw) = (ca.to_str().unwrap(), pw_file.to_str().unwrap());
    let login = ["--mqtt-ca", ca, "--mqtt-username", USER];

    // A box publishes its retained stage status over TLS with the login.
    let clip = common::clip();
    let mut run = vec![
        "run",
        "--name",
        "tls-box",
        "--input",
        clip.to_str().unwrap(),
    ];
    run.extend(["--max-frames", "3", "--fresh-state", "--mqtt-url", &url]);
    run.extend(login);
    run.extend(["--mqtt-password-file", pw, "--mqtt-required"]);
    let (code, _, stderr) = common::run_edgepipe(&run);
    assert_eq!(code, 0, "{stderr}\n{}", broker.log());

    let shows_the_box = |table: &str| {
        table
            .lines()
            .any(|l| l.starts_with("tls-box") && l.contains("people-counter"))
    };
    // The password from a file.
    let mut args = login.to_vec();
    args.extend(["--mqtt-password-file", pw]);
    let (code, table, err) = fleet_status(&url, &args, None);
    assert_eq!(code, 0, "{err}\n{}", broker.log());
    assert!(shows_the_box(&table), "{table}");
    // The password from an environment variable.
    let mut args = login.to_vec();
    args.extend(["--mqtt-password-env", "FLEET_TEST_MQTT_PW"]);
    let (code, table, err) = fleet_status(&url, &args, Some(("FLEET_TEST_MQTT_PW", PASSWORD)));
    assert_eq!(code, 0, "{err}");
    assert!(shows_the_box(&table), "{table}");

    // Without the CA the system's roots do not know the broker: one line.
    let (code, _, err) = fleet_status(
        &url,
        &["--mqtt-username", USER, "--mqtt-password-file", pw],
        None,
    );
    assert_eq!(code, 6, "{err}");
    let line = common::one_error_line(&err, "TLS");
    assert!(line.contains("--mqtt-ca"), "{line}");
    // A wrong password: refused, one line, nothing leaked.
    let wrong = dir.path().join("wrong");
    std::fs::write(&wrong, "not-the-password\n").unwrap();
    let mut args = login.to_vec();
    args.extend(["--mqtt-password-file", wrong.to_str().unwrap()]);
    let (code, _, err) = fleet_status(&url, &args, None);
    assert_eq!(code, 6, "{err}");
    let line = common::one_error_line(&err, "refused the connection");
    assert!(!err.contains("not-the-password"), "{err}");
    assert!(line.contains(&url), "{line}");
    // A password with no user, or a password file that is not there: exit 2.
    let (code, _, err) = fleet_status(&url, &["--mqtt-ca", ca, "--mqtt-password-file", pw], None);
    assert_eq!(code, 2, "{err}");
    common::one_error_line(&err, "no --mqtt-username");
    let mut args = login.to_vec();
    args.extend(["--mqtt-password-file", "/nonexistent/pw"]);
    let (code, _, err) = fleet_status(&url, &args, None);
    assert_eq!(code, 2, "{err}");
    common::one_error_line(&err, "/nonexistent/pw");
}
