//! Issue 12: the web manager in a real headless Chromium, driven over WebDriver (chromedriver,
//! a small client of our own). Needs Debian's `chromium` and `chromium-driver`; without them it says so and
//! skips. Screenshots go to `target/web-shots/` (test artifacts).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use upkeep::control::proto::{FaultDto, Request, Response, PROTOCOL_VERSION};

use crate::web::{free_port, have, http, skip, WebDaemon};

/// chromedriver of the test's own, stopped with SIGTERM when dropped.
struct Driver {
    child: Child,
    port: u16,
}

impl Drop for Driver {
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

fn shots() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/web-shots");
    std::fs::create_dir_all(&dir).expect("target/web-shots");
    dir
}

/// A small W3C WebDriver client over plain HTTP: the dozen commands these tests use. (A client
/// crate was tried: its dependency tree changed features of crates the daemon shares, and a
/// daemon test then hung; twenty lines of JSON over HTTP have no such reach.)
struct Browser {
    port: u16,
    session: String,
}

/// The W3C key of an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

impl Browser {
    fn open(driver: &Driver, profile: &Path, width: u32, height: u32) -> Browser {
        let caps = json!({"capabilities": {"alwaysMatch": {"goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", format!("--window-size={width},{height}"),
                format!("--user-data-dir={}", profile.display())]
        }}}});
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let reply = http(
                driver.port,
                "POST",
                "/session",
                &[("content-type", "application/json")],
                &caps.to_string(),
            );
            if let Ok(r) = reply {
                let v: Value = serde_json::from_str(&r.body).unwrap_or_default();
                if let Some(id) = v["value"]["sessionId"].as_str() {
                    return Browser {
                        port: driver.port,
                        session: id.to_string(),
                    };
                }
                assert!(Instant::now() < deadline, "no browser session: {}", r.body);
            }
            assert!(Instant::now() < deadline, "chromedriver does not answer");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// One command; `Err` carries WebDriver's error value.
    fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, Value> {
        let path = format!("/session/{}{path}", self.session);
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let r = http(
            self.port,
            method,
            &path,
            &[("content-type", "application/json")],
            &body,
        )
        .unwrap_or_else(|e| panic!("webdriver {path}: {e}"));
        let v: Value = serde_json::from_str(&r.body).unwrap_or_default();
        if r.status == 200 {
            Ok(v["value"].clone())
        } else {
            Err(v["value"].clone())
        }
    }

    fn goto(&self, url: &str) {
        self.cmd("POST", "/url", Some(json!({"url": url})))
            .unwrap_or_else(|e| panic!("open {url}: {e}"));
    }

    fn find(&self, css: &str) -> Option<String> {
        let v = self
            .cmd(
                "POST",
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .ok()?;
        v[ELEMENT].as_str().map(str::to_string)
    }

    fn find_all(&self, css: &str) -> Vec<String> {
        let v = self
            .cmd(
                "POST",
                "/elements",
                Some(json!({"using": "css selector", "value": css})),
            )
            .unwrap_or_default();
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e[ELEMENT].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn text(&self, element: &str) -> Option<String> {
        let v = self
            .cmd("GET", &format!("/element/{element}/text"), None)
            .ok()?;
        v.as_str().map(str::to_string)
    }

    fn attr(&self, element: &str, name: &str) -> Option<String> {
        let v = self
            .cmd("GET", &format!("/element/{element}/attribute/{name}"), None)
            .ok()?;
        v.as_str().map(str::to_string)
    }

    fn click(&self, css: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let clicked = self
                .find(css)
                .map(|e| self.cmd("POST", &format!("/element/{e}/click"), Some(json!({}))));
            match clicked {
                Some(Ok(_)) => return,
                other if Instant::now() > deadline => panic!("click {css}: {other:?}"),
                _ => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css).unwrap_or_else(|| panic!("no {css}"));
        self.cmd(
            "POST",
            &format!("/element/{e}/value"),
            Some(json!({"text": text})),
        )
        .unwrap_or_else(|e| panic!("type into {css}: {e}"));
    }

    /// Runs `script` in the page; a returned promise is awaited (W3C "execute script").
    fn execute(&self, script: &str) -> Value {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
        .unwrap_or_else(|e| panic!("script failed: {e}"))
    }

    fn screenshot(&self, name: &str) {
        let v = self.cmd("GET", "/screenshot", None).expect("screenshot");
        let png = base64_decode(v.as_str().unwrap_or_default());
        std::fs::write(shots().join(name), png).expect("save screenshot");
    }

    /// The text of `css` once `ok` holds for it (the page is never reloaded meanwhile).
    fn wait_text(&self, css: &str, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut last = String::new();
        while Instant::now() < deadline {
            if let Some(t) = self.find(css).and_then(|e| self.text(&e)) {
                if ok(&t) {
                    return t;
                }
                last = t;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.screenshot("failure.png");
        panic!("timed out waiting for {what} at `{css}`; last text {last:?}");
    }

    fn sign_in(&self, url: &str, name: &str, password: &str) {
        self.goto(url);
        self.wait_text("#login-submit", "the sign-in form", |t| !t.is_empty());
        self.type_into("#login-name", name);
        self.type_into("#login-password", password);
        self.click("#login-submit");
        self.wait_text("#whoami", "signed in", |t| t.contains(name));
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = http(
            self.port,
            "DELETE",
            &format!("/session/{}", self.session),
            &[],
            "",
        );
    }
}

fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for v in text.bytes().filter_map(value) {
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((acc >> bits) & 0xff).unwrap_or(0));
        }
    }
    out
}

#[test]
fn an_operator_watches_and_operates_and_a_viewer_cannot() {
    if !have("chromium") || !have("chromedriver") {
        return skip(
            "web_browser::an_operator_watches_and_operates_and_a_viewer_cannot",
            "no chromium / chromedriver (Debian packages `chromium`, `chromium-driver`)",
        );
    }
    let home = tempfile::tempdir().expect("tempdir");
    let mut web = WebDaemon::start(home.path());
    web.account("alice", "operator", "alice-secret-1");
    web.account("bob", "viewer", "bob-secret-12");
    let port = free_port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let driver = Driver { child, port };
    let url = web.url();

    // The operator signs in and sees the demo online, live.
    let c = Browser::open(&driver, &home.path().join("chrome-op"), 1280, 900);
    c.sign_in(&url, "alice", "alice-secret-1");
    let state = r#"[data-resource="demo-app"] .state"#;
    c.wait_text(state, "online", |t| t == "online");
    c.wait_text("#live", "the live stream", |t| t == "live");
    c.screenshot("1-overview.png");

    // Record every state the row shows, then kill the process from outside the page.
    c.execute(
        r#"window.seen = [];
           new MutationObserver(() => {
             const s = document.querySelector('[data-resource="demo-app"] .state');
             if (s) window.seen.push(s.textContent);
           }).observe(document.body, {subtree: true, childList: true, characterData: true});
           return true;"#,
    );
    // The first restart is immediate (too quick to see); a second kill within a minute waits
    // in `backoff` (upkeep's restart backoff, 1 s), which the page shows as it happens.
    for (kill, restarts) in [(1, "1"), (2, "2")] {
        let reply = web.daemon.request(&Request::Inject {
            version: PROTOCOL_VERSION,
            fault: FaultDto::ProcessKilled {
                resource: "demo-app".into(),
            },
        });
        assert!(
            matches!(reply, Some(Response::Done(_))),
            "kill {kill}: {reply:?}"
        );
        if kill == 2 {
            c.wait_text(state, "backoff after the second kill", |t| t != "online");
            c.screenshot("2-restarting.png");
        }
        let count = r#"[data-resource="demo-app"] .restarts"#;
        c.wait_text(count, "the restart count", |t| t == restarts);
        c.wait_text(state, "back online", |t| t == "online");
    }
    let seen: Vec<String> =
        serde_json::from_value(c.execute("return window.seen;")).unwrap_or_default();
    assert!(
        seen.iter().any(|s| s != "online"),
        "the page showed the resource leave `online` without a reload: {seen:?}"
    );
    // The alert of the kill is in the latest alerts.
    c.wait_text("#alerts", "the alert", |t| {
        t.contains("error") || t.contains("warning")
    });
    c.screenshot("3-after-kill.png");

    // Stop and start the group from the page, each confirmed, each with its result.
    c.click(r#"button[data-op="group-stop"][data-name="demo"]"#);
    c.screenshot("4-confirm-stop.png");
    c.click("#confirm-yes");
    c.wait_text("#result", "the result", |t| {
        t.contains("group `demo` stopped")
    });
    c.wait_text(r#"[data-group="demo"] .group-state"#, "offline", |t| {
        t == "offline"
    });
    c.screenshot("5-stopped.png");
    assert_eq!(
        web.daemon.status().expect("status").groups[0].state,
        "offline"
    );
    c.click(r#"button[data-op="group-start"][data-name="demo"]"#);
    c.click("#confirm-yes");
    c.wait_text("#result", "the result", |t| {
        t.contains("group `demo` started")
    });
    c.wait_text(state, "online again", |t| t == "online");

    // The events page shows the log, filtered.
    c.click("#tab-events");
    c.wait_text("#events", "events", |t| t.contains("rc/"));
    c.screenshot("6-events.png");

    // Cross-site: a page on another site (`localhost` is not `127.0.0.1`) posts to the
    // daemon; the SameSite=Strict cookie stays home and the daemon refuses.
    c.goto(&url.replace("127.0.0.1", "localhost"));
    let answer = c.execute(&format!(
        r#"return fetch('{url}/api/v1/groups/demo/stop', {{method: 'POST', credentials: 'include', mode: 'no-cors'}}).then(() => 'sent', e => 'blocked: ' + e);"#
    ));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        web.daemon.status().expect("status").groups[0].state,
        "online",
        "a cross-site POST ({answer}) stopped nothing"
    );
    drop(c);

    // The viewer, on a phone-sized window: every operation button disabled, and a POST forged
    // from the page refused.
    let v = Browser::open(&driver, &home.path().join("chrome-viewer"), 412, 915);
    v.sign_in(&url, "bob", "bob-secret-12");
    v.wait_text(state, "online", |t| t == "online");
    let buttons = v.find_all("button[data-op]");
    assert!(
        buttons.len() >= 10,
        "operation buttons are shown: {}",
        buttons.len()
    );
    for b in &buttons {
        assert_eq!(
            v.attr(b, "disabled").as_deref(),
            Some("true"),
            "a viewer sees no enabled operation"
        );
    }
    v.screenshot("7-viewer-phone.png");
    let forged = v.execute(
        r#"return fetch('/api/v1/groups/demo/stop', {method: 'POST', headers: {'X-CSRF-Token': 'forged'}}).then(r => r.status);"#,
    );
    assert_eq!(forged, json!(403));
    assert_eq!(
        web.daemon.status().expect("status").groups[0].state,
        "online"
    );
    drop(v);
    web.daemon.terminate();
}
