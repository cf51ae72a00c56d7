//! A scripted HTTP service on 127.0.0.1, for tests of the calls Baton makes to other services:
//! each request is answered by a function of its method and path, and every request that
//! reached it is recorded.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Largest request head read, in bytes.
const MAX_HEAD: usize = 64 * 1024;

/// An answer of the service.
#[derive(Debug, Clone)]
pub struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    /// `status` with `body` as `text/plain`.
    pub fn text(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status,
            headers: vec![("Content-Type".into(), "text/plain".into())],
            body: body.into(),
        }
    }

    /// `status` with `body` as JSON.
    pub fn json(status: u16, body: &serde_json::Value) -> Self {
        Self {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.to_string().into_bytes(),
        }
    }

    /// A redirect (`status` 3xx) to `location`.
    pub fn redirect(status: u16, location: &str) -> Self {
        Self::text(status, "").header("Location", location)
    }

    /// The reply with one more header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// The running service; dropping it stops it.
#[derive(Debug)]
pub struct FakeService {
    port: u16,
    requests: Arc<Mutex<Vec<String>>>,
    accept: JoinHandle<()>,
}

type Answerer = dyn Fn(&str, &str) -> Reply + Send + Sync;

impl FakeService {
    /// Starts a service answering each request with `answer(method, path)`.
    pub async fn start(answer: impl Fn(&str, &str) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port for the fake service");
        let port = listener.local_addr().expect("its address").port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let answer: Arc<Answerer> = Arc::new(answer);
        let seen = Arc::clone(&requests);
        let accept = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(serve(socket, Arc::clone(&answer), Arc::clone(&seen)));
            }
        });
        Self {
            port,
            requests,
            accept,
        }
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Every request received so far, as `METHOD /path`.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().expect("the request log").clone()
    }
}

impl Drop for FakeService {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// Reads one request from `socket`, records it and answers it; the connection then closes.
async fn serve(mut socket: TcpStream, answer: Arc<Answerer>, seen: Arc<Mutex<Vec<String>>>) {
    let mut data = Vec::new();
    let mut buffer = [0u8; 4096];
    let head_end = loop {
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        match socket.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) if data.len() + n <= MAX_HEAD => data.extend_from_slice(&buffer[..n]),
            Ok(_) => return,
        }
    };
    let head = String::from_utf8_lossy(&data[..head_end]).into_owned();
    let mut request_line = head.lines().next().unwrap_or_default().split(' ');
    let method = request_line.next().unwrap_or_default().to_owned();
    let path = request_line.next().unwrap_or_default().to_owned();
    let length: usize = head
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse().ok())
        .unwrap_or(0);
    while data.len() < head_end + length {
        match socket.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => data.extend_from_slice(&buffer[..n]),
        }
    }
    seen.lock()
        .expect("the request log")
        .push(format!("{method} {path}"));
    let reply = answer(&method, &path);
    let reason = http::StatusCode::from_u16(reply.status)
        .ok()
        .and_then(|status| status.canonical_reason())
        .unwrap_or("Status");
    let mut response = format!("HTTP/1.1 {} {reason}\r\n", reply.status);
    for (name, value) in &reply.headers {
        response.push_str(&format!("{name}: {value}\r\n"));
    }
    response.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        reply.body.len()
    ));
    let mut bytes = response.into_bytes();
    bytes.extend_from_slice(&reply.body);
    let _ = socket.write_all(&bytes).await;
    let _ = socket.shutdown().await;
}
