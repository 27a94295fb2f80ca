//! Issue 12: the `web:` section — loopback by default, the network only with TLS or an
//! acknowledged reverse proxy, and errors that point at the line.

use std::path::Path;
use std::time::Duration;

fn parse(web: &str) -> Result<upkeep_config::Config, String> {
    let text = format!("(\n    edition: \"SSS\",\n    web: {web},\n)\n");
    upkeep_config::parse(&text, Path::new("/etc/upkeep/upkeep.ron")).map_err(|e| e.to_string())
}

#[test]
fn an_empty_section_listens_on_loopback_with_metrics() {
    let c = parse("()").expect("parses");
    let web = c.web.expect("web on");
    assert_eq!(web.listen.to_string(), "127.0.0.1:9180");
    assert!(web.metrics && !web.behind_proxy && web.tls.is_none() && web.accounts.is_none());
    assert_eq!(web.idle_timeout, Duration::from_secs(1800));
    let off = upkeep_config::parse("(edition: \"SSS\")", Path::new("/x.ron")).expect("parses");
    assert!(off.web.is_none(), "no section, no web server");
}

#[test]
fn another_address_needs_tls_or_a_proxy() {
    let err = parse(r#"(listen: "0.0.0.0:9180")"#).expect_err("clear text on the network");
    assert!(
        err.contains("upkeep.ron:3:") && err.contains("web.listen") && err.contains("tls"),
        "{err}"
    );
    let tls = parse(r#"(listen: "0.0.0.0:9180", tls: (cert: "web.crt", key: "/k.pem"))"#)
        .expect("with TLS")
        .web
        .expect("web");
    let files = tls.tls.expect("tls");
    assert_eq!(
        files.cert,
        Path::new("/etc/upkeep/web.crt"),
        "relative to the file"
    );
    assert_eq!(files.key, Path::new("/k.pem"));
    parse(r#"(listen: "[::]:9180", behind_proxy: true)"#).expect("acknowledged proxy");
    parse(r#"(listen: "[::1]:9180")"#).expect("IPv6 loopback");
}

#[test]
fn bad_values_are_named_with_their_place() {
    let err = parse(r#"(listen: "localhost")"#).expect_err("not an address");
    assert!(
        err.contains("web.listen: must be an address and port"),
        "{err}"
    );
    let err = parse(r#"(idle_timeout: "2d")"#).expect_err("too long");
    assert!(
        err.contains("web.idle_timeout: must be at most 24h"),
        "{err}"
    );
    let err = parse(r#"(tls: (cert: "c.pem"))"#).expect_err("no key");
    assert!(err.contains("web.tls.key: missing field `key`"), "{err}");
    let err = parse(r#"(metrcs: true)"#).expect_err("misspelt");
    assert!(err.contains("metrics"), "did you mean: {err}");
}
