//! mobile-service: answers `GET /healthz` and `GET /mobile` (the path prefix the platform routes to it).
//! Standard library only, so the image is one static binary on `scratch`.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};

/// Status line and body for a request line such as `GET /healthz HTTP/1.1`.
pub fn respond(request_line: &str, revision: &str) -> (&'static str, String) {
    let mut parts = request_line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    match (method, path) {
        ("GET", "/healthz") => ("200 OK", "ok\n".to_string()),
        ("GET", p) if p == "/mobile" || p.starts_with("/mobile/") => (
            "200 OK",
            format!("{{\"service\":\"mobile-service\",\"revision\":\"{revision}\"}}\n"),
        ),
        ("GET", _) => ("404 Not Found", "not found\n".to_string()),
        _ => ("405 Method Not Allowed", "method not allowed\n".to_string()),
    }
}

fn handle(stream: TcpStream, revision: &str) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let (status, body) = respond(line.trim_end(), revision);
    let mut out = stream;
    write!(
        out,
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

fn main() -> std::io::Result<()> {
    let addr = std::env::var("LISTEN").unwrap_or_else(|_| "0.0.0.0:8080".to_string());
    let revision = option_env!("GIT_SHA").unwrap_or("dev");
    let listener = TcpListener::bind(&addr)?;
    eprintln!("mobile-service {revision} listening on {addr}");
    for stream in listener.incoming() {
        if let Err(err) = stream.and_then(|s| handle(s, revision)) {
            eprintln!("request failed: {err}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::respond;

    #[test]
    fn health_and_routes() {
        assert_eq!(
            respond("GET /healthz HTTP/1.1", "abc"),
            ("200 OK", "ok\n".to_string())
        );
        let (status, body) = respond("GET /mobile/v1 HTTP/1.1", "abc");
        assert_eq!(status, "200 OK");
        assert!(body.contains("\"revision\":\"abc\""));
        assert_eq!(respond("GET /other HTTP/1.1", "abc").0, "404 Not Found");
        assert_eq!(
            respond("POST /mobile HTTP/1.1", "abc").0,
            "405 Method Not Allowed"
        );
    }
}
