//! The little HTTP/1.1 the metrics endpoint speaks, as pure functions: find the end of a
//! request head, parse it into a [`Request`] (or say why it is malformed), route it, and
//! format a response. No sockets here; `server` does the IO.

/// Largest request head (request line and headers) accepted, in bytes.
pub const MAX_REQUEST_HEAD: usize = 8 * 1024;

/// The content type of the OpenMetrics text exposition.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The path metrics are served at.
pub const METRICS_PATH: &str = "/metrics";

/// A parsed request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// The path without its query string.
    pub path: String,
}

/// Why a request head is malformed (the text goes into the 400 response body).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadRequest {
    #[error("request head is not UTF-8")]
    NotUtf8,
    #[error("request line must be `METHOD /path HTTP/1.x`")]
    RequestLine,
    #[error("unsupported HTTP version {0:?}")]
    Version(String),
    #[error("header line without a colon")]
    Header,
}

/// Where the request head ends (the index just past its blank line), if `buffer` holds it.
pub fn head_end(buffer: &[u8]) -> Option<usize> {
    buffer
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .map(|at| at + 4)
}

/// A problem with the request line, as soon as the first line has arrived (so a client
/// that sends garbage gets its 400 without having to send a blank line too).
pub fn early_problem(buffer: &[u8]) -> Option<BadRequest> {
    let end = buffer.iter().position(|&b| b == b'\n')?;
    let line = buffer[..end].strip_suffix(b"\r").unwrap_or(&buffer[..end]);
    let mut head = line.to_vec();
    head.extend_from_slice(b"\r\n\r\n");
    parse_request(&head).err()
}

/// Parses a request head (everything up to and including the blank line).
pub fn parse_request(head: &[u8]) -> Result<Request, BadRequest> {
    let text = std::str::from_utf8(head).map_err(|_| BadRequest::NotUtf8)?;
    let mut lines = text.split("\r\n");
    let request_line = lines.next().ok_or(BadRequest::RequestLine)?;
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(BadRequest::RequestLine);
    };
    let method_ok = !method.is_empty() && method.bytes().all(|b| b.is_ascii_uppercase());
    if !method_ok || !target.starts_with('/') {
        return Err(BadRequest::RequestLine);
    }
    if version != "HTTP/1.1" && version != "HTTP/1.0" {
        return Err(BadRequest::Version(version.chars().take(16).collect()));
    }
    for line in lines.take_while(|line| !line.is_empty()) {
        match line.split_once(':') {
            Some((name, _)) if !name.is_empty() && !name.contains(' ') => {}
            _ => return Err(BadRequest::Header),
        }
    }
    let path = target.split(['?', '#']).next().unwrap_or(target);
    Ok(Request {
        method: method.to_owned(),
        path: path.to_owned(),
    })
}

/// An HTTP status this server answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    BadRequest,
    NotFound,
    MethodNotAllowed,
    RequestHeaderTooLarge,
}

impl Status {
    pub fn code(self) -> u16 {
        match self {
            Status::Ok => 200,
            Status::BadRequest => 400,
            Status::NotFound => 404,
            Status::MethodNotAllowed => 405,
            Status::RequestHeaderTooLarge => 431,
        }
    }

    fn reason(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::BadRequest => "Bad Request",
            Status::NotFound => "Not Found",
            Status::MethodNotAllowed => "Method Not Allowed",
            Status::RequestHeaderTooLarge => "Request Header Fields Too Large",
        }
    }
}

/// What to answer `request`: serve metrics (`body` is called only then) on `GET /metrics`
/// (and its head on `HEAD`), 405 for other methods there, 404 elsewhere.
pub fn respond(request: &Request, body: impl FnOnce() -> String) -> Vec<u8> {
    if request.path != METRICS_PATH {
        return response(
            Status::NotFound,
            "text/plain; charset=utf-8",
            "not found\n",
            true,
        );
    }
    match request.method.as_str() {
        "GET" => response(Status::Ok, OPENMETRICS_CONTENT_TYPE, &body(), true),
        "HEAD" => response(Status::Ok, OPENMETRICS_CONTENT_TYPE, &body(), false),
        _ => response(
            Status::MethodNotAllowed,
            "text/plain; charset=utf-8",
            "only GET and HEAD\n",
            true,
        ),
    }
}

/// A complete response that closes the connection. With `include_body` false (HEAD) the
/// headers still give the body's length.
pub fn response(status: Status, content_type: &str, body: &str, include_body: bool) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        status.code(),
        status.reason(),
        body.len(),
    )
    .into_bytes();
    if include_body {
        out.extend_from_slice(body.as_bytes());
    }
    out
}

/// The 400 answer to a malformed request.
pub fn bad_request(problem: &BadRequest) -> Vec<u8> {
    response(
        Status::BadRequest,
        "text/plain; charset=utf-8",
        &format!("{problem}\n"),
        true,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_scrape_request() {
        let head = b"GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n";
        assert_eq!(head_end(head), Some(head.len()));
        let request = parse_request(head).unwrap();
        assert_eq!(request.method, "GET");
        assert_eq!(request.path, "/metrics");
    }

    #[test]
    fn head_end_waits_for_the_blank_line() {
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nHost: a\r\n"), None);
        assert_eq!(head_end(b"GET / HTTP/1.1\r\n\r\nbody"), Some(18));
    }

    #[test]
    fn malformed_heads_are_named() {
        let cases: [(&[u8], BadRequest); 6] = [
            (b"hello\r\n\r\n", BadRequest::RequestLine),
            (b"GET /metrics\r\n\r\n", BadRequest::RequestLine),
            (b"get /metrics HTTP/1.1\r\n\r\n", BadRequest::RequestLine),
            (b"GET metrics HTTP/1.1\r\n\r\n", BadRequest::RequestLine),
            (
                b"GET /metrics HTTP/2.0\r\n\r\n",
                BadRequest::Version("HTTP/2.0".into()),
            ),
            (
                b"GET /metrics HTTP/1.1\r\nnocolon\r\n\r\n",
                BadRequest::Header,
            ),
        ];
        for (head, expected) in cases {
            assert_eq!(parse_request(head), Err(expected), "{head:?}");
        }
        assert_eq!(
            parse_request(b"GET /\xff HTTP/1.1\r\n\r\n"),
            Err(BadRequest::NotUtf8)
        );
    }

    #[test]
    fn garbage_is_refused_after_its_first_line() {
        assert_eq!(early_problem(b"GET /metr"), None);
        assert_eq!(early_problem(b"GET /metrics HTTP/1.1\r\nHost"), None);
        assert_eq!(early_problem(b"garbage\n"), Some(BadRequest::RequestLine));
        assert_eq!(
            early_problem(b"\x16\x03\x01\r\n"),
            Some(BadRequest::RequestLine)
        );
        assert_eq!(
            early_problem(b"GET /\xff HTTP/1.1\n"),
            Some(BadRequest::NotUtf8)
        );
    }

    #[test]
    fn routes_by_path_and_method() {
        let get = |method: &str, path: &str| {
            let request = Request {
                method: method.into(),
                path: path.into(),
            };
            String::from_utf8(respond(&request, || "m 1\n# EOF\n".into())).unwrap()
        };
        let ok = get("GET", "/metrics");
        assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
        assert!(ok.contains(OPENMETRICS_CONTENT_TYPE));
        assert!(ok.contains("Content-Length: 10\r\n"));
        assert!(ok.ends_with("\r\n\r\nm 1\n# EOF\n"));
        let head = get("HEAD", "/metrics");
        assert!(head.contains("Content-Length: 10\r\n") && head.ends_with("\r\n\r\n"));
        assert!(get("GET", "/").starts_with("HTTP/1.1 404 "));
        assert!(get("POST", "/metrics").starts_with("HTTP/1.1 405 "));
    }
}
