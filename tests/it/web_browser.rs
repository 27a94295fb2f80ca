//! Issue 12: the web manager in a real headless Chromium, driven over WebDriver (chromedriver,
//! fantoccini). Needs Debian's `chromium` and `chromium-driver`; without them it says so and
//! skips. Screenshots go to `target/web-shots/` (test artifacts).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use upkeep::control::proto::{FaultDto, Request, Response, PROTOCOL_VERSION};

use crate::web::{free_port, have, skip, WebDaemon};

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

async fn browser(driver: &Driver, profile: &Path, width: u32, height: u32) -> Client {
    let caps = serde_json::json!({
        "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", &format!("--window-size={width},{height}"),
                &format!("--user-data-dir={}", profile.display())]
        }
    });
    let serde_json::Value::Object(caps) = caps else {
        panic!("capabilities are an object")
    };
    // fantoccini's hyper-rustls brings aws-lc-rs, the daemon's TLS ring: say which.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let url = format!("http://127.0.0.1:{}", driver.port);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut builder = ClientBuilder::rustls().expect("rustls client");
        match builder.capabilities(caps.clone()).connect(&url).await {
            Ok(c) => return c,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("cannot start a browser session: {e}"),
        }
    }
}

/// The text of `css` once `ok` holds for it (the page is never reloaded meanwhile).
async fn wait_text(c: &Client, css: &str, what: &str, ok: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut last = String::new();
    while Instant::now() < deadline {
        if let Ok(e) = c.find(Locator::Css(css)).await {
            if let Ok(t) = e.text().await {
                if ok(&t) {
                    return t;
                }
                last = t;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let shot = c.screenshot().await.unwrap_or_default();
    let _ = std::fs::write(shots().join("failure.png"), shot);
    panic!("timed out waiting for {what} at `{css}`; last text {last:?}");
}

async fn click(c: &Client, css: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match c.find(Locator::Css(css)).await {
            Ok(e) => match e.click().await {
                Ok(()) => return,
                Err(e) if Instant::now() > deadline => panic!("click {css}: {e}"),
                Err(_) => {}
            },
            Err(e) if Instant::now() > deadline => panic!("find {css}: {e}"),
            Err(_) => {}
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn sign_in(c: &Client, url: &str, name: &str, password: &str) {
    c.goto(url).await.expect("open the page");
    let field = c
        .find(Locator::Css("#login-name"))
        .await
        .expect("login form");
    field.send_keys(name).await.expect("type the name");
    c.find(Locator::Css("#login-password"))
        .await
        .expect("password field")
        .send_keys(password)
        .await
        .expect("type the password");
    click(c, "#login-submit").await;
    wait_text(c, "#whoami", "signed in", |t| t.contains(name)).await;
}

async fn save(c: &Client, name: &str) {
    let png = c.screenshot().await.expect("screenshot");
    std::fs::write(shots().join(name), png).expect("save screenshot");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_watches_and_operates_and_a_viewer_cannot() {
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

    // The operator signs in and sees the demo online.
    let c = browser(&driver, &home.path().join("chrome-op"), 1280, 900).await;
    sign_in(&c, &url, "alice", "alice-secret-1").await;
    let state = r#"[data-resource="demo-app"] .state"#;
    wait_text(&c, state, "online", |t| t == "online").await;
    wait_text(&c, "#live", "the live stream", |t| t == "live").await;
    save(&c, "1-overview.png").await;

    // Record every state the row shows, then kill the process from outside the page.
    c.execute(
        r#"window.seen = [];
           new MutationObserver(() => {
             const s = document.querySelector('[data-resource="demo-app"] .state');
             if (s) window.seen.push(s.textContent);
           }).observe(document.body, {subtree: true, childList: true, characterData: true});
           return true;"#,
        vec![],
    )
    .await
    .expect("install the observer");
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
            wait_text(&c, state, "backoff after the second kill", |t| {
                t != "online"
            })
            .await;
            save(&c, "2-restarting.png").await;
        }
        let count = r#"[data-resource="demo-app"] .restarts"#;
        wait_text(&c, count, "the restart count", |t| t == restarts).await;
        wait_text(&c, state, "back online", |t| t == "online").await;
    }
    let seen = c
        .execute("return window.seen;", vec![])
        .await
        .expect("seen");
    let seen: Vec<String> = serde_json::from_value(seen).unwrap_or_default();
    assert!(
        seen.iter().any(|s| s != "online"),
        "the page showed the resource leave `online` without a reload: {seen:?}"
    );
    // The alert of the kill is in the latest alerts.
    wait_text(&c, "#alerts", "the alert", |t| {
        t.contains("error") || t.contains("warning")
    })
    .await;
    save(&c, "3-after-kill.png").await;

    // Stop and start the group from the page, each confirmed, each with its result.
    click(&c, r#"button[data-op="group-stop"][data-name="demo"]"#).await;
    save(&c, "4-confirm-stop.png").await;
    click(&c, "#confirm-yes").await;
    wait_text(&c, "#result", "the result", |t| {
        t.contains("group `demo` stopped")
    })
    .await;
    wait_text(&c, r#"[data-group="demo"] .group-state"#, "offline", |t| {
        t == "offline"
    })
    .await;
    save(&c, "5-stopped.png").await;
    assert_eq!(
        web.daemon.status().expect("status").groups[0].state,
        "offline"
    );
    click(&c, r#"button[data-op="group-start"][data-name="demo"]"#).await;
    click(&c, "#confirm-yes").await;
    wait_text(&c, "#result", "the result", |t| {
        t.contains("group `demo` started")
    })
    .await;
    wait_text(&c, state, "online again", |t| t == "online").await;

    // The events page filters by level.
    click(&c, "#tab-events").await;
    wait_text(&c, "#events", "events", |t| t.contains("rc/")).await;
    save(&c, "6-events.png").await;

    // Cross-site: a page on another site (`localhost` is not `127.0.0.1`) posts to the
    // daemon; the SameSite=Strict cookie stays home and the daemon refuses.
    let other = url.replace("127.0.0.1", "localhost");
    c.goto(&other).await.expect("the other site");
    let answer = c
        .execute(
            &format!(
                r#"return fetch('{url}/api/v1/groups/demo/stop', {{method: 'POST', credentials: 'include', mode: 'no-cors'}}).then(() => 'sent', e => 'blocked: ' + e);"#
            ),
            vec![],
        )
        .await
        .expect("cross-site fetch");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        web.daemon.status().expect("status").groups[0].state,
        "online",
        "a cross-site POST ({answer}) stopped nothing"
    );
    c.close().await.expect("close");

    // The viewer: every operation button disabled, and a POST forged from the page refused.
    let v = browser(&driver, &home.path().join("chrome-viewer"), 412, 915).await;
    sign_in(&v, &url, "bob", "bob-secret-12").await;
    wait_text(&v, state, "online", |t| t == "online").await;
    let buttons = v
        .find_all(Locator::Css("button[data-op]"))
        .await
        .expect("buttons");
    assert!(
        buttons.len() >= 10,
        "operation buttons are shown: {}",
        buttons.len()
    );
    for b in buttons {
        assert_eq!(
            b.attr("disabled").await.expect("attr"),
            Some("true".into()),
            "a viewer sees no enabled operation"
        );
    }
    save(&v, "7-viewer-phone.png").await;
    let forged = v
        .execute(
            r#"return fetch('/api/v1/groups/demo/stop', {method: 'POST', headers: {'X-CSRF-Token': 'forged'}}).then(r => r.status);"#,
            vec![],
        )
        .await
        .expect("forged POST");
    assert_eq!(forged, serde_json::json!(403));
    assert_eq!(
        web.daemon.status().expect("status").groups[0].state,
        "online"
    );
    v.close().await.expect("close");
    web.daemon.terminate();
}
