//! Issue 12: the web manager, HTTP API and `/metrics` of a real daemon on a free loopback port.
//!
//! `promtool` and `prometheus` come from Debian's `prometheus` package; without them the tests
//! that need them say so and skip (`.ci/run` installs it and lists skips).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use upkeep::control::proto::{FaultDto, Request, Response, StatusReply, PROTOCOL_VERSION};

use crate::real_daemon::{output, text, upkeep, Daemon};

/// A test that needs a program the machine lacks says so (on stderr and in a list `.ci/run`
/// prints) and returns.
pub(crate) use crate::servers::skip;

pub(crate) fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}

/// config/examples/web.ron on `port`, written into `home`.
/// config/examples/web.ron on `port`, changed by `edit`.
pub(crate) fn web_config_with(home: &Path, port: u16, edit: impl Fn(String) -> String) -> PathBuf {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/examples/web.ron");
    let text = std::fs::read_to_string(&example).expect("web.ron");
    assert!(
        text.contains("127.0.0.1:9180"),
        "web.ron listens on 127.0.0.1:9180"
    );
    let path = home.join("web.ron");
    std::fs::write(
        &path,
        edit(text.replace("127.0.0.1:9180", &format!("127.0.0.1:{port}"))),
    )
    .expect("write config");
    path
}

/// A daemon with the web manager on.
pub(crate) struct WebDaemon {
    pub daemon: Daemon,
    pub port: u16,
    pub home: PathBuf,
}

impl WebDaemon {
    pub(crate) fn start(home: &Path) -> WebDaemon {
        WebDaemon::start_with(home, |t| t)
    }

    /// With config/examples/web.ron changed by `edit`; `https` when it turns TLS on.
    pub(crate) fn start_with(home: &Path, edit: impl Fn(String) -> String) -> WebDaemon {
        let port = free_port();
        let config = web_config_with(home, port, edit);
        let mut daemon = Daemon::on(home, Some(&config), "web");
        daemon.wait_for("demo online", |s| {
            s.groups[0].resources[0].state == "online"
        });
        let web = WebDaemon {
            daemon,
            port,
            home: home.to_path_buf(),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", web.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "web never answered\n{}",
                web.daemon.output()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        web
    }

    pub(crate) fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub(crate) fn get(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        http(self.port, "GET", path, headers, "").unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    pub(crate) fn post(&self, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
        http(self.port, "POST", path, headers, body).unwrap_or_else(|e| panic!("POST {path}: {e}"))
    }

    /// `upkeep web passwd NAME --role ROLE` with the password on stdin.
    pub(crate) fn account(&self, name: &str, role: &str, password: &str) {
        let mut child = upkeep(&self.home)
            .args(["web", "passwd", name, "--role", role, "--state-dir"])
            .arg(self.home.join("st"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("upkeep web passwd");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(format!("{password}\n").as_bytes())
            .expect("write password");
        let out = child.wait_with_output().expect("wait");
        assert!(out.status.success(), "web passwd: {}", text(&out.stderr));
    }

    /// `upkeep web token NAME --role ROLE`: the token.
    pub(crate) fn token(&self, name: &str, role: &str) -> String {
        let out = output(
            upkeep(&self.home)
                .args(["web", "token", name, "--role", role, "--state-dir"])
                .arg(self.home.join("st")),
        );
        assert!(out.status.success(), "web token: {}", text(&out.stderr));
        text(&out.stdout)
            .lines()
            .next()
            .unwrap_or_default()
            .to_string()
    }

    /// Signs in: (cookie header value, CSRF token).
    pub(crate) fn login(&self, name: &str, password: &str) -> (String, String) {
        let r = self.post(
            "/login",
            &[("content-type", "application/json")],
            &format!(r#"{{"name":"{name}","password":"{password}"}}"#),
        );
        assert_eq!(r.status, 200, "login {name}: {}", r.body);
        let cookie = r.header("set-cookie").expect("a session cookie");
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
            "{cookie}"
        );
        let pair = cookie.split(';').next().unwrap_or_default().to_string();
        let csrf = r.json()["csrf"].as_str().unwrap_or_default().to_string();
        assert_eq!(csrf.len(), 64, "a CSRF token");
        (pair, csrf)
    }
}

#[derive(Debug)]
pub(crate) struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub(crate) fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    }

    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// A bare HTTP/1.1 request to 127.0.0.1:`port` (no client crate needed for a test).
pub(crate) fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> std::io::Result<Reply> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes())?;
    // Read until the message is complete: some servers (chromedriver) keep the connection
    // open whatever `Connection: close` says.
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        if message_complete(&raw) {
            break;
        }
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
    }
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, rest) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_string()
    };
    Ok(Reply {
        status,
        headers,
        body,
    })
}

/// Whether `raw` holds a whole response: headers and the body their length says.
fn message_complete(raw: &[u8]) -> bool {
    let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
    let body = &raw[end + 4..];
    if let Some(len) = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
    {
        return body.len() >= len;
    }
    if head.contains("transfer-encoding: chunked") {
        return body.ends_with(b"0\r\n\r\n");
    }
    false
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || tail.len() < n {
            break;
        }
        out.push_str(&tail[..n]);
        rest = tail[n..].trim_start_matches("\r\n");
    }
    out
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

fn sample(metrics: &str, name_and_labels: &str) -> Option<f64> {
    metrics
        .lines()
        .find(|l| l.starts_with(name_and_labels) && l[name_and_labels.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

fn kill_demo(web: &WebDaemon) {
    let reply = web.daemon.request(&Request::Inject {
        version: PROTOCOL_VERSION,
        fault: FaultDto::ProcessKilled {
            resource: "demo-app".into(),
        },
    });
    assert!(
        matches!(reply, Some(Response::Done(_))),
        "inject kill: {reply:?}"
    );
}

#[test]
fn metrics_agree_with_status_and_pass_promtool() {
    let home = tempdir();
    let mut web = WebDaemon::start(home.path());
    let r = web.get("/metrics", &[]);
    assert_eq!(r.status, 200);
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.contains("version=0.0.4")),
        "{:?}",
        r.headers
    );
    let status = web.daemon.status().expect("status");
    let pid_before = status.groups[0].resources[0].pid;
    let up = r#"upkeep_resource_up{group="demo",resource="demo-app"}"#;
    assert_eq!(sample(&r.body, up), Some(1.0), "{}", r.body);
    assert_eq!(
        sample(&r.body, r#"upkeep_build_info{version="0.1.0"}"#),
        Some(1.0)
    );
    assert_eq!(sample(&r.body, "upkeep_recovery_reboot_limit"), Some(3.0));
    assert!(sample(&r.body, r#"upkeep_events_total{level="info",module="rc"}"#).is_some());

    kill_demo(&web);
    let after: StatusReply = web.daemon.wait_for("a restart", |s| {
        let r = &s.groups[0].resources[0];
        r.restarts >= 1 && r.state == "online" && r.pid != pid_before
    });
    let r = web.get("/metrics", &[]);
    let restarts = r#"upkeep_resource_restarts_total{group="demo",resource="demo-app"}"#;
    assert_eq!(
        sample(&r.body, restarts),
        Some(f64::from(after.groups[0].resources[0].restarts)),
        "/metrics says what status says"
    );

    if !have("promtool") {
        return skip(
            "web::metrics_agree_with_status_and_pass_promtool (promtool part)",
            "no promtool (Debian package `prometheus`)",
        );
    }
    let mut check = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool");
    check
        .stdin
        .take()
        .expect("stdin")
        .write_all(r.body.as_bytes())
        .expect("feed promtool");
    let out = check.wait_with_output().expect("promtool");
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}\n{}",
        text(&out.stdout),
        text(&out.stderr),
        r.body
    );
}

#[test]
fn the_example_alerting_rules_pass_promtool() {
    if !have("promtool") {
        return skip(
            "web::the_example_alerting_rules_pass_promtool",
            "no promtool (Debian package `prometheus`)",
        );
    }
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/examples/upkeep-rules.yml");
    let out = output(
        Command::new("promtool")
            .arg("check")
            .arg("rules")
            .arg(&rules),
    );
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).contains("SUCCESS"),
        "{}",
        text(&out.stdout)
    );
}

/// A Prometheus server of the test's own, stopped with SIGTERM when dropped.
struct Prometheus {
    child: Child,
    port: u16,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).unwrap_or(i32::MAX));
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        while let Ok(None) = self.child.try_wait() {
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Prometheus {
    /// The value of the first series `query` returns, once there is one.
    fn wait_value(&self, query: &str, ok: impl Fn(f64) -> bool) -> f64 {
        let path = format!("/api/v1/query?query={}", urlencode(query));
        let deadline = Instant::now() + Duration::from_secs(45);
        let mut last = String::new();
        while Instant::now() < deadline {
            if let Ok(r) = http(self.port, "GET", &path, &[], "") {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&r.body) {
                    if let Some(x) = v["data"]["result"][0]["value"][1]
                        .as_str()
                        .and_then(|s| s.parse::<f64>().ok())
                    {
                        if ok(x) {
                            return x;
                        }
                    }
                }
                last = r.body;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        panic!("prometheus never answered {query:?} as wanted; last {last}");
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn a_real_prometheus_scrapes_the_daemon_and_sees_a_restart() {
    if !have("prometheus") {
        return skip(
            "web::a_real_prometheus_scrapes_the_daemon_and_sees_a_restart",
            "no prometheus server (Debian package `prometheus`)",
        );
    }
    let home = tempdir();
    let mut web = WebDaemon::start(home.path());
    let dir = home.path().join("prom");
    std::fs::create_dir_all(&dir).expect("prom dir");
    let config = dir.join("p.yml");
    std::fs::write(
        &config,
        format!(
            "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\nscrape_configs: [{{job_name: upkeep, static_configs: [{{targets: ['127.0.0.1:{}']}}]}}]\n",
            web.port
        ),
    )
    .expect("prometheus config");
    let port = free_port();
    let log = std::fs::File::create(dir.join("prometheus.log")).expect("log");
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("start prometheus");
    let prometheus = Prometheus { child, port };
    prometheus.wait_value(r#"up{job="upkeep"} == 1"#, |v| v == 1.0);
    let pid_before = web.daemon.status().expect("status").groups[0].resources[0].pid;
    kill_demo(&web);
    web.daemon.wait_for("a restart", |s| {
        let r = &s.groups[0].resources[0];
        r.restarts >= 1 && r.pid != pid_before
    });
    let restarts = prometheus.wait_value(
        r#"upkeep_resource_restarts_total{job="upkeep",resource="demo-app"}"#,
        |v| v >= 1.0,
    );
    assert!(restarts >= 1.0);
}

#[test]
fn the_api_answers_with_the_sockets_own_types() {
    let home = tempdir();
    let web = WebDaemon::start(home.path());
    let over_http: Response = serde_json::from_str(&web.get("/api/v1/status", &[]).body)
        .expect("the protocol's Response");
    let (Response::Status(mut http_status), Some(mut socket_status)) =
        (over_http, web.daemon.status())
    else {
        panic!("a status both ways");
    };
    http_status.server.uptime_s = 0;
    socket_status.server.uptime_s = 0;
    assert_eq!(http_status.groups, socket_status.groups);
    assert_eq!(http_status.server, socket_status.server);

    let explain = web.get("/api/v1/explain/demo-pid", &[]);
    assert_eq!(explain.status, 200);
    assert_eq!(explain.json()["type"], "Explain");
    let unknown = web.get("/api/v1/explain/nosuch", &[]);
    assert_eq!(
        (unknown.status, unknown.json()["kind"].as_str()),
        (404, Some("unknown"))
    );
    let tree = web.get("/api/v1/tree", &[]);
    assert_eq!(tree.json()["type"], "Tree");
    let events = web.get("/api/v1/events?module=rc&level=info", &[]);
    let list = events.json()["events"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        !list.is_empty() && list.iter().all(|e| e["module"] == "rc"),
        "{list:?}"
    );

    // With no account on loopback: view-only, operations off, said in JSON.
    let refused = web.post("/api/v1/groups/demo/stop", &[], "");
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert_eq!(refused.json()["kind"], "denied");
    assert!(refused.json()["message"]
        .as_str()
        .unwrap_or_default()
        .contains("upkeep web passwd"));
    assert_eq!(
        web.daemon.status().expect("status").groups[0].state,
        "online"
    );
    // What ends the process or reveals the configuration stays on the socket.
    let token = web.token("root-ci", "operator");
    let bearer = format!("Bearer {token}");
    let down = web.post(
        "/api/v1/request",
        &[("authorization", &bearer)],
        r#"{"type":"ConfigPull","version":1}"#,
    );
    assert_eq!(down.status, 403, "{}", down.body);
}

#[test]
fn viewers_and_forged_or_cross_site_posts_are_refused() {
    let home = tempdir();
    let web = WebDaemon::start(home.path());
    web.account("alice", "operator", "alice-secret-1");
    web.account("bob", "viewer", "bob-secret-12");
    // Accounts exist: nobody views anonymously any more.
    assert_eq!(web.get("/api/v1/status", &[]).status, 401);

    let (bob, bob_csrf) = web.login("bob", "bob-secret-12");
    assert_eq!(web.get("/api/v1/status", &[("cookie", &bob)]).status, 200);
    let forged = web.post(
        "/api/v1/groups/demo/stop",
        &[("cookie", &bob), ("x-csrf-token", &bob_csrf)],
        "",
    );
    assert_eq!(forged.status, 403, "a viewer's POST: {}", forged.body);
    assert!(forged.body.contains("viewer"), "{}", forged.body);

    let (alice, csrf) = web.login("alice", "alice-secret-1");
    let no_token = web.post("/api/v1/groups/demo/stop", &[("cookie", &alice)], "");
    assert_eq!(no_token.status, 403, "{}", no_token.body);
    assert!(no_token.body.contains("CSRF"), "{}", no_token.body);
    let cross_site = web.post(
        "/api/v1/groups/demo/stop",
        &[
            ("cookie", &alice),
            ("x-csrf-token", &csrf),
            ("sec-fetch-site", "cross-site"),
        ],
        "",
    );
    assert_eq!(cross_site.status, 403, "{}", cross_site.body);
    let foreign = web.post(
        "/api/v1/groups/demo/stop",
        &[
            ("cookie", &alice),
            ("x-csrf-token", &csrf),
            ("origin", "http://evil.example"),
        ],
        "",
    );
    assert_eq!(foreign.status, 403, "{}", foreign.body);
    assert_eq!(
        web.daemon.status().expect("status").groups[0].state,
        "online",
        "nothing stopped"
    );

    let ok = web.post(
        "/api/v1/groups/demo/stop",
        &[
            ("cookie", &alice),
            ("x-csrf-token", &csrf),
            ("origin", &web.url()),
            ("sec-fetch-site", "same-origin"),
        ],
        "",
    );
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.json()["type"], "Done");
    assert_eq!(
        web.daemon.status().expect("status").groups[0].state,
        "offline"
    );
    let again = web.post(
        "/api/v1/groups/demo/start",
        &[("cookie", &alice), ("x-csrf-token", &csrf)],
        "",
    );
    assert_eq!(again.status, 200, "{}", again.body);

    // Tokens: a viewer token reads, an operator token acts, a made-up one is nobody.
    let viewer = format!("Bearer {}", web.token("grafana", "viewer"));
    let operator = format!("Bearer {}", web.token("ci", "operator"));
    assert_eq!(
        web.get("/api/v1/status", &[("authorization", &viewer)])
            .status,
        200
    );
    let by_viewer = web.post("/api/v1/daemon/suspend", &[("authorization", &viewer)], "");
    assert_eq!(by_viewer.status, 403);
    let by_operator = web.post(
        "/api/v1/daemon/suspend",
        &[("authorization", &operator)],
        "",
    );
    assert_eq!(by_operator.status, 200, "{}", by_operator.body);
    assert!(web.daemon.status().expect("status").server.suspended);
    let guess = web.get("/api/v1/status", &[("authorization", "Bearer upkeep_0000")]);
    assert_eq!(guess.status, 401);
    // Asking for the state it is in is no error (issue 13), as on the CLI.
    let twice = web.post("/api/v1/daemon/start", &[("authorization", &operator)], "");
    assert_eq!(twice.status, 200, "{}", twice.body);
    assert!(twice.body.contains("already started"), "{}", twice.body);
    // A refused request (a group of a stopped daemon) maps to 409, like exit 1 on the CLI.
    let stop = web.post("/api/v1/daemon/stop", &[("authorization", &operator)], "");
    assert_eq!(stop.status, 200, "{}", stop.body);
    let group = web.daemon.status().expect("status").groups[0].name.clone();
    let refused = web.post(
        &format!("/api/v1/groups/{group}/start"),
        &[("authorization", &operator)],
        "",
    );
    assert_eq!(
        (refused.status, refused.json()["kind"].as_str()),
        (409, Some("refused"))
    );
}

#[test]
fn wrong_passwords_are_rate_limited() {
    let home = tempdir();
    let web = WebDaemon::start(home.path());
    web.account("alice", "operator", "alice-secret-1");
    let attempt = |password: &str| {
        web.post(
            "/login",
            &[("content-type", "application/json")],
            &format!(r#"{{"name":"alice","password":"{password}"}}"#),
        )
    };
    for i in 0..5 {
        assert_eq!(attempt(&format!("guess-{i}")).status, 401);
    }
    let limited = attempt("guess-5");
    assert_eq!(limited.status, 429, "{}", limited.body);
    assert!(limited.header("retry-after").is_some());
    // Even the right password waits: a guesser cannot tell it found it.
    assert_eq!(attempt("alice-secret-1").status, 429);
}

/// docs/API.md: every ```sh block runs, in order, against a test daemon with an operator token.
#[test]
fn api_doc_examples_run() {
    if !have("curl") {
        return skip("web::api_doc_examples_run", "no curl");
    }
    let home = tempdir();
    let web = WebDaemon::start(home.path());
    let token = web.token("docs", "operator");
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/API.md"))
        .expect("docs/API.md");
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in doc.lines() {
        match (&mut current, line.trim_start()) {
            (None, "```sh") => current = Some(String::new()),
            (Some(block), "```") => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            (Some(block), _) => {
                block.push_str(line);
                block.push('\n');
            }
            _ => {}
        }
    }
    assert!(blocks.len() >= 4, "API.md has its examples: {blocks:?}");
    for block in blocks {
        let out = output(
            Command::new("sh")
                .arg("-ec")
                .arg(&block)
                .env("UPKEEP_URL", web.url())
                .env("UPKEEP_TOKEN", &token),
        );
        assert!(
            out.status.success(),
            "docs/API.md block failed:\n{block}\n{}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        for line in text(&out.stdout)
            .split('}')
            .filter(|l| l.contains("\"type\""))
        {
            assert!(!line.contains("\"Error\""), "{block}: {line}");
        }
    }
}

#[test]
fn sessions_end_after_the_idle_timeout() {
    let home = tempdir();
    let web = WebDaemon::start_with(home.path(), |t| {
        t.replace(r#"idle_timeout: "30m""#, r#"idle_timeout: "2s""#)
    });
    web.account("alice", "operator", "alice-secret-1");
    let (cookie, _) = web.login("alice", "alice-secret-1");
    assert_eq!(
        web.get("/api/v1/status", &[("cookie", &cookie)]).status,
        200
    );
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(
        web.get("/api/v1/status", &[("cookie", &cookie)]).status,
        401,
        "an idle session is over"
    );
}

#[test]
fn tls_serves_https_with_secure_cookies() {
    if !have("openssl") || !have("curl") {
        return skip(
            "web::tls_serves_https_with_secure_cookies",
            "no openssl or curl",
        );
    }
    let home = tempdir();
    let (cert, key) = (home.path().join("web.crt"), home.path().join("web.key"));
    let made = output(
        Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
            ])
            .args(["-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"])
            .args(["-addext", "subjectAltName=IP:127.0.0.1", "-keyout"])
            .arg(&key)
            .arg("-out")
            .arg(&cert),
    );
    assert!(made.status.success(), "openssl: {}", text(&made.stderr));
    let tls = format!(
        r#"metrics: true, tls: (cert: "{}", key: "{}"),"#,
        cert.display(),
        key.display()
    );
    let web = WebDaemon::start_with(home.path(), |t| t.replace("metrics: true,", &tls));
    web.account("alice", "operator", "alice-secret-1");
    let url = format!("https://127.0.0.1:{}", web.port);
    let status = output(
        Command::new("curl")
            .args(["-sf", "--cacert"])
            .arg(&cert)
            .arg(format!("{url}/api/v1/session")),
    );
    assert!(status.status.success(), "https: {}", text(&status.stderr));
    let login = output(
        Command::new("curl")
            .args(["-si", "--cacert"])
            .arg(&cert)
            .args(["-H", "content-type: application/json", "-d"])
            .arg(r#"{"name":"alice","password":"alice-secret-1"}"#)
            .arg(format!("{url}/login")),
    );
    let head = text(&login.stdout);
    assert!(
        head.lines().next().is_some_and(|l| l.contains(" 200")),
        "{head}"
    );
    assert!(
        head.to_ascii_lowercase().contains("; secure"),
        "Secure cookie over TLS: {head}"
    );
    let plain = http(web.port, "GET", "/api/v1/session", &[], "");
    assert!(
        plain.map_or(true, |r| r.status != 200),
        "no clear-text answer on the TLS port"
    );
}

#[test]
fn a_network_address_without_tls_is_refused_at_start() {
    let home = tempdir();
    let config = web_config_with(home.path(), free_port(), |t| {
        t.replace(r#"listen: "127.0.0.1:"#, r#"listen: "0.0.0.0:"#)
    });
    let out = output(upkeep(home.path()).args(["config", "check"]).arg(&config));
    assert_eq!(out.status.code(), Some(78), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("web.listen") && err.contains("behind_proxy"),
        "{err}"
    );
}

#[test]
fn an_accounts_file_others_can_write_opens_no_door() {
    use std::os::unix::fs::PermissionsExt;
    let home = tempdir();
    let web = WebDaemon::start(home.path());
    web.account("alice", "operator", "alice-secret-1");
    let file = home.path().join("st/web-accounts");
    let mode = std::fs::metadata(&file)
        .expect("accounts file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "written private");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).expect("chmod");
    let r = web.post(
        "/login",
        &[("content-type", "application/json")],
        r#"{"name":"alice","password":"alice-secret-1"}"#,
    );
    assert_eq!(
        r.status, 401,
        "a planted account must not sign in: {}",
        r.body
    );
}
