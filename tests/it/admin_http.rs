//! The admin HTTP server on a real socket, against hostile and careless
//! clients: half-open requests are closed after the header timeout while
//! probes are still answered, the connection cap holds, per-lead data needs
//! the bearer token, slow handlers and large bodies are cut off. No broker:
//! the server reads the pipeline only through `Status`, which the tests
//! drive themselves.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use leadpulse::config::Settings;
use leadpulse::service::admin;
use leadpulse::service::status::Status;
use metrics_exporter_prometheus::PrometheusBuilder;

/// How long a test waits for something that must happen, at most. A guard
/// against a hang, not a performance assertion.
const PATIENCE: Duration = Duration::from_secs(60);

const TOKEN: &str = "test-token-0123456789abcdef";

/// An admin server on a free loopback port with `env` overrides, its
/// pipeline status owning the only partition and restored (ready).
fn serve(env: &[(&str, &str)]) -> (SocketAddr, Arc<Status>) {
    let mut vars = vec![(
        "LEADPULSE_ADMIN__LISTEN".to_owned(),
        "127.0.0.1:0".to_owned(),
    )];
    vars.extend(env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    let settings = Settings::load(None, vars).expect("settings");
    let status = Arc::new(Status::default());
    status.set_partitions(1);
    status.restore_started(&[0]);
    status.restore_finished(&[0], true, 0);
    let prometheus = PrometheusBuilder::new().build_recorder().handle();
    let addr = admin::spawn(&settings, status.clone(), prometheus).expect("admin server");
    (addr, status)
}

/// Answers lead queries as a pipeline without that lead would, until the
/// returned flag is cleared.
fn answer_queries(status: Arc<Status>) -> Arc<AtomicBool> {
    let running = Arc::new(AtomicBool::new(true));
    let flag = running.clone();
    std::thread::spawn(move || {
        while flag.load(Ordering::Relaxed) {
            status.answer(|_, _| None);
            std::thread::sleep(Duration::from_millis(5));
        }
    });
    running
}

/// A connection that sent part of a request line and headers, and stops.
fn half_open(addr: SocketAddr) -> TcpStream {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: leadpulse\r\nX-Never-Ends: ")
        .expect("send a partial request");
    s
}

/// A whole response: (status, headers, body). `None` if the server closed
/// or reset the connection without an answer.
fn exchange(addr: SocketAddr, request: &str) -> Option<(u16, String, String)> {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    // The server may have closed already (a refused connection).
    let _ = s.write_all(request.as_bytes());
    let mut raw = Vec::new();
    let mut buf = [0; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::TimedOut => {
                panic!("no answer to {request:?} within {PATIENCE:?}")
            }
            Err(_) => break, // reset
        }
    }
    parse(&String::from_utf8_lossy(&raw))
}

fn parse(raw: &str) -> Option<(u16, String, String)> {
    let (head, body) = raw.split_once("\r\n\r\n")?;
    let code = head.split(' ').nth(1)?.parse().ok()?;
    Some((code, head.to_ascii_lowercase(), body.to_owned()))
}

fn get(addr: SocketAddr, path: &str, headers: &str) -> (u16, String, String) {
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: leadpulse\r\nConnection: close\r\n{headers}\r\n");
    exchange(addr, &request).unwrap_or_else(|| panic!("GET {path}: closed without an answer"))
}

/// Whether the server has closed `s` (EOF or reset), reading and dropping
/// whatever it sent before.
fn closed_by_server(s: &mut TcpStream) -> bool {
    s.set_nonblocking(true).unwrap();
    let mut buf = [0; 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return false,
            Err(_) => return true,
        }
    }
}

/// Polls until every connection is closed by the server, or fails after
/// [`PATIENCE`] naming how many are still open.
fn wait_until_all_closed(mut open: Vec<TcpStream>, what: &str) {
    let total = open.len();
    let started = Instant::now();
    loop {
        open.retain_mut(|s| !closed_by_server(s));
        if open.is_empty() {
            return;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "{} of {total} {what} still open after {PATIENCE:?}",
            open.len()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn half_open_requests_are_closed_after_the_header_timeout_and_probes_still_answer() {
    let (addr, _status) = serve(&[
        ("LEADPULSE_ADMIN__HEADER_READ_TIMEOUT_MS", "500"),
        ("LEADPULSE_ADMIN__MAX_CONNECTIONS", "300"),
    ]);
    let held: Vec<TcpStream> = (0..200).map(|_| half_open(addr)).collect();
    // Under the cap, probes are answered while the half-open ones wait.
    let (code, _, body) = get(addr, "/healthz", "");
    assert_eq!(code, 200, "{body}");
    let (code, _, body) = get(addr, "/readyz", "");
    assert_eq!(code, 200, "{body}");

    wait_until_all_closed(held, "half-open connections");
    let (code, _, _) = get(addr, "/healthz", "");
    assert_eq!(code, 200);
}

#[test]
fn a_kept_alive_connection_waiting_for_its_next_request_is_closed() {
    let (addr, _status) = serve(&[("LEADPULSE_ADMIN__HEADER_READ_TIMEOUT_MS", "500")]);
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: leadpulse\r\n\r\n")
        .unwrap();
    let mut raw = Vec::new();
    let mut buf = [0; 1024];
    while !String::from_utf8_lossy(&raw).contains("\"ok\"") {
        let n = s.read(&mut buf).expect("an answer");
        assert!(n > 0, "closed before answering");
        raw.extend_from_slice(&buf[..n]);
    }
    let (code, head, _) = parse(&String::from_utf8_lossy(&raw)).unwrap();
    assert_eq!(code, 200);
    assert!(!head.contains("connection: close"), "{head}");
    wait_until_all_closed(vec![s], "idle kept-alive connections");
}

#[test]
fn the_connection_cap_holds_and_frees_up_as_connections_close() {
    // A header timeout far beyond the test: only the cap is at work.
    let (addr, _status) = serve(&[
        ("LEADPULSE_ADMIN__MAX_CONNECTIONS", "20"),
        ("LEADPULSE_ADMIN__HEADER_READ_TIMEOUT_MS", "600000"),
    ]);
    let held: Vec<TcpStream> = (0..20).map(|_| half_open(addr)).collect();
    // Connections are accepted in order, so the 20 hold every slot when
    // these arrive: each is refused, never served.
    // A refused client may see its connection reset before the 503.
    let mut answered_503 = 0;
    for _ in 0..10 {
        let answer = exchange(
            addr,
            "GET /healthz HTTP/1.1\r\nHost: leadpulse\r\nConnection: close\r\n\r\n",
        );
        if let Some((code, _, body)) = answer {
            assert_eq!(code, 503, "over the cap: {body}");
            assert!(body.contains("too many open connections"), "{body}");
            answered_503 += 1;
        }
    }
    assert!(answered_503 > 0, "no refused connection was told why");
    drop(held);
    let started = Instant::now();
    loop {
        let answer = exchange(
            addr,
            "GET /healthz HTTP/1.1\r\nHost: leadpulse\r\nConnection: close\r\n\r\n",
        );
        if answer.as_ref().is_some_and(|a| a.0 == 200) {
            break;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "still refused {PATIENCE:?} after the held connections closed: {answer:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn per_lead_data_needs_the_token_and_the_probes_do_not() {
    let (addr, status) = serve(&[("LEADPULSE_ADMIN__TOKEN", TOKEN)]);
    let answering = answer_queries(status);

    let (code, head, body) = get(addr, "/leads/L-1", "");
    assert_eq!(code, 401, "{body}");
    assert!(head.contains("www-authenticate: bearer"), "{head}");
    assert!(!body.contains(TOKEN));
    let (code, _, _) = get(
        addr,
        "/leads/L-1",
        "Authorization: Bearer wrong-token-0123456789\r\n",
    );
    assert_eq!(code, 401);
    let (code, _, _) = get(
        addr,
        "/leads/L-1",
        &format!("Authorization: Basic {TOKEN}\r\n"),
    );
    assert_eq!(code, 401);

    let (code, _, body) = get(
        addr,
        "/leads/L-1",
        &format!("Authorization: Bearer {TOKEN}\r\n"),
    );
    assert_eq!(code, 404, "{body}");
    assert!(body.contains("no committed state"), "{body}");

    for path in ["/healthz", "/readyz", "/metrics"] {
        let (code, _, body) = get(addr, path, "");
        assert_eq!(code, 200, "{path}: {body}");
    }
    answering.store(false, Ordering::Relaxed);
}

#[test]
fn without_a_token_loopback_clients_get_per_lead_data() {
    let (addr, status) = serve(&[]);
    let answering = answer_queries(status);
    let (code, _, body) = get(addr, "/leads/L-1", "");
    assert_eq!(code, 404, "{body}");
    answering.store(false, Ordering::Relaxed);
}

#[test]
fn a_slow_answer_is_cut_off_by_the_request_timeout() {
    // Nobody answers the lead query: the handler would wait 5 s.
    let (addr, _status) = serve(&[("LEADPULSE_ADMIN__REQUEST_TIMEOUT_MS", "300")]);
    let (code, _, body) = get(addr, "/leads/L-1", "");
    assert_eq!(code, 503);
    assert_eq!(body, "", "the timeout answers, not the handler");
}

#[test]
fn a_request_body_over_the_limit_is_refused() {
    let (addr, _status) = serve(&[("LEADPULSE_ADMIN__MAX_BODY_BYTES", "1024")]);
    let (code, _, _) = get(addr, "/healthz", "Content-Length: 100000\r\n");
    assert_eq!(code, 413);
    let small = "GET /healthz HTTP/1.1\r\nHost: leadpulse\r\nConnection: close\r\n\
                 Content-Length: 10\r\n\r\n0123456789";
    let (code, _, _) = exchange(addr, small).expect("an answer");
    assert_eq!(code, 200);
}

#[test]
fn bad_limits_and_tokens_are_refused_naming_the_setting_and_never_the_token() {
    let load = |env: &[(&str, &str)]| {
        Settings::load(
            None,
            env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        )
        .err()
        .map(|e| e.to_string())
    };
    for (key, value, setting) in [
        (
            "LEADPULSE_ADMIN__MAX_CONNECTIONS",
            "0",
            "admin.max_connections",
        ),
        (
            "LEADPULSE_ADMIN__HEADER_READ_TIMEOUT_MS",
            "0",
            "admin.header_read_timeout_ms",
        ),
        (
            "LEADPULSE_ADMIN__IDLE_TIMEOUT_MS",
            "200",
            "admin.idle_timeout_ms",
        ),
        (
            "LEADPULSE_ADMIN__MAX_BODY_BYTES",
            "99999999",
            "admin.max_body_bytes",
        ),
        ("LEADPULSE_ADMIN__TOKEN", "short-secret", "admin.token"),
    ] {
        let err = load(&[(key, value)]).unwrap_or_else(|| panic!("{key}={value} accepted"));
        assert!(err.contains(setting), "{key}={value}: {err}");
        if key.ends_with("TOKEN") {
            assert!(!err.contains(value), "the token is in the error: {err}");
        }
    }
    assert_eq!(load(&[("LEADPULSE_ADMIN__TOKEN", TOKEN)]), None);
    // Environment values are read as the setting's type: digits are a token.
    assert_eq!(
        load(&[("LEADPULSE_ADMIN__TOKEN", "1234567890123456")]),
        None
    );
}

/// `GET /accounts/{key}`: an account's committed score, breadth and most
/// engaged people, as `account-scores` would carry it, behind the token.
#[test]
fn an_account_is_looked_up_by_its_key_with_the_token() {
    use leadpulse::core::{AccountKey, AccountReason, AccountScore, Contact, PersonShare};
    let (addr, status) = serve(&[("LEADPULSE_ADMIN__TOKEN", TOKEN)]);
    let running = Arc::new(AtomicBool::new(true));
    let flag = running.clone();
    std::thread::spawn(move || {
        let initech = AccountKey::Domain("initech.com".into());
        while flag.load(Ordering::Relaxed) {
            status.answer_accounts(|partition, key| {
                assert_eq!(partition, 0);
                (key == &initech).then(|| AccountScore {
                    account: initech.clone(),
                    score: 112.5,
                    fit: 20.0,
                    engagement: 92.5,
                    breadth: 5,
                    threshold: Some(110.0),
                    breadth_threshold: None,
                    qualified: true,
                    alerted: true,
                    fit_reasons: Vec::new(),
                    people: vec![PersonShare {
                        lead_id: "L-1".into(),
                        contact: Contact {
                            name: Some("Ana Lima".into()),
                            title: Some("CTO".into()),
                            company: None,
                        },
                        engagement: 25.0,
                        engaged_at: Some(1_764_670_000_000),
                        in_breadth: true,
                        reasons: vec![AccountReason {
                            rule_id: "webinar".into(),
                            label: "Attended a webinar".into(),
                            points: 15.0,
                            last_seen: 1_764_670_000_000,
                        }],
                    }],
                    updated_at: 1_764_670_000_000,
                    model_version: "v1".into(),
                })
            });
            std::thread::sleep(Duration::from_millis(5));
        }
    });
    let auth = format!("Authorization: Bearer {TOKEN}\r\n");

    let (code, head, body) = get(addr, "/accounts/domain:initech.com", "");
    assert_eq!(code, 401, "{body}");
    assert!(head.contains("www-authenticate: bearer"), "{head}");

    let (code, _, body) = get(addr, "/accounts/domain:initech.com", &auth);
    assert_eq!(code, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["account_key"], "domain:initech.com");
    assert_eq!(v["score"], 112.5);
    assert_eq!(v["breadth"], 5);
    assert_eq!(v["alerted"], true);
    assert_eq!(v["people"][0]["lead_id"], "L-1");
    assert_eq!(v["people"][0]["lead_name"], "Ana Lima");
    assert_eq!(v["people"][0]["reasons"][0]["label"], "Attended a webinar");
    assert_eq!(v["partition"], 0);

    let (code, _, body) = get(addr, "/accounts/domain:globex.com", &auth);
    assert_eq!(code, 404, "{body}");
    assert!(body.contains("no committed state"), "{body}");
    let (code, _, body) = get(addr, "/accounts/initech.com", &auth);
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("domain:<domain>"), "{body}");
    running.store(false, Ordering::Relaxed);
}
