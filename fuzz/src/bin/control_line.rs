//! Fuzz target `control_line`: any bytes as one line a control-socket client sends, through
//! `upkeep::control::proto::decode_request_line` — the function the daemon's control server
//! calls on every request line (src/control/server.rs) — then what the server does next with
//! the result: name it, decide whether it needs an operator, range-check its numbers
//! (`Request::check`, issue 8) and encode the reply line.
//!
//! Asserted besides "never panics": a decoded request survives its own encoding (what the
//! client sends is what the daemon reads), and every error reply encodes as one JSON line.

use upkeep::control::proto::{decode_request_line, Request, Response};

fn main() {
    afl::fuzz!(|data: &[u8]| check(data));
}

fn check(data: &[u8]) {
    match decode_request_line(data) {
        None => {}
        Some(Ok(request)) => {
            let _ = request.name();
            let _ = request.changes_state();
            if let Err(why) = request.check() {
                reply_line(&Response::failure(
                    upkeep::control::proto::ErrorKind::Invalid,
                    why,
                ));
            }
            let encoded = serde_json::to_vec(&request).expect("a request encodes");
            let again: Request = serde_json::from_slice(&encoded).expect("its encoding decodes");
            assert_eq!(again, request, "a request changed on the way through JSON");
        }
        Some(Err(reply)) => reply_line(&reply),
    }
}

/// The reply as the server writes it: one JSON object, no raw newline inside.
fn reply_line(reply: &Response) {
    let bytes = serde_json::to_vec(reply).expect("a reply encodes");
    assert!(!bytes.contains(&b'\n'), "a reply spans lines");
}
