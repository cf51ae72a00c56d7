//! Serving the routes: an acceptor hands each connection to one of several serving threads,
//! each a single-threaded runtime with a Redis connection of its own.
//!
//! A connection is read, answered, and its Redis commands sent and their replies read on the
//! thread it was given to, with no hand-off between threads: on a multi-threaded runtime the
//! hand-offs between a connection's task and the Redis connection's task cost about 15 % more
//! API CPU per list of 100 runs (`baton-api-bench`, back to back; see the benchmarks doc). The
//! acceptor gives each new connection to the thread serving the fewest, so kept-alive clients
//! spread evenly.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use warp::Filter;

use crate::server::routes;
use crate::state::AppState;

/// The stack of a serving thread: as a runtime worker's is, with room to spare for a debug
/// build's larger frames.
const SERVING_STACK_BYTES: usize = 8 * 1024 * 1024;

/// Routes a serving thread serves: a filter answering every request.
trait Routes:
    Filter<Extract = (warp::reply::Response,), Error = std::convert::Infallible>
    + Clone
    + Send
    + Sync
    + 'static
{
}

impl<F> Routes for F where
    F: Filter<Extract = (warp::reply::Response,), Error = std::convert::Infallible>
        + Clone
        + Send
        + Sync
        + 'static
{
}

/// A connection accepted, for a serving thread.
type Accepted = (std::net::TcpStream, SocketAddr);

/// One serving thread, as the acceptor sees it.
struct ServingThread {
    /// Where its connections are sent.
    connections: mpsc::UnboundedSender<Accepted>,
    /// How many it serves now.
    open: Arc<AtomicUsize>,
    /// The thread, joined at the end.
    handle: std::thread::JoinHandle<()>,
}

/// Serves the routes of `state` on `listener` until `shutdown` is cancelled, then lets open
/// connections finish. `threads` threads serve (0: one per core), each with a Redis
/// connection of its own (the process's when another cannot be made now: it reconnects by
/// itself).
///
/// Connections are served here rather than by `warp::serve` so that what a client gets wrong
/// (a malformed request line, a URI or headers over the limits, which the HTTP layer answers
/// 400, 414 or 431 itself, or a connection dropped mid-request) is logged at debug: a client
/// cannot fill the log with errors.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    threads: usize,
    shutdown: CancellationToken,
) {
    let routes_of_thread = move || {
        let state = state.clone();
        async move {
            match state.store.with_own_connection().await {
                Ok(store) => routes(state.with_store(store)),
                Err(error) => {
                    tracing::warn!(cause = %error, "no Redis connection of the serving thread's own: it shares the process's");
                    routes(state)
                }
            }
        }
    };
    serve_on_threads(listener, threads, routes_of_thread, shutdown).await;
}

/// [`serve`] for any routes, made on each serving thread by `routes_of_thread`.
async fn serve_on_threads<M, R, F>(
    listener: TcpListener,
    threads: usize,
    routes_of_thread: M,
    shutdown: CancellationToken,
) where
    M: Fn() -> R + Send + Clone + 'static,
    R: Future<Output = F>,
    F: Routes,
{
    let wanted = match threads {
        0 => std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
        threads => threads,
    };
    let mut serving = Vec::with_capacity(wanted);
    for index in 0..wanted {
        match start_thread(index, routes_of_thread.clone()) {
            Ok(thread) => serving.push(thread),
            Err(error) => {
                tracing::error!(cause = %error, thread = index, "cannot start a serving thread")
            }
        }
    }
    if serving.is_empty() {
        return;
    }
    tracing::debug!(threads = serving.len(), "serving");
    loop {
        let accepted = tokio::select! {
            accepted = accept(&listener) => accepted,
            () = shutdown.cancelled() => break,
        };
        let Some((stream, peer)) = accepted else {
            continue;
        };
        if !hand_over(&mut serving, (stream, peer)) {
            tracing::error!("no serving thread is left");
            break;
        }
    }
    drop(listener);
    // Closing the channels ends each thread's serving once its connections finish.
    let handles: Vec<_> = serving.into_iter().map(|thread| thread.handle).collect();
    let joined = tokio::task::spawn_blocking(move || {
        for handle in handles {
            let _ = handle.join();
        }
    });
    let _ = joined.await;
}

/// Gives `accepted` to the serving thread serving the fewest connections. A thread found gone
/// (its runtime failed; a panic in its runtime leaves its channel open, so its end is what
/// tells) is dropped from `serving` first, and so is one whose channel is closed, the next
/// one then taking the connection. False when none is left.
fn hand_over(serving: &mut Vec<ServingThread>, mut accepted: Accepted) -> bool {
    loop {
        serving.retain(|thread| {
            let gone = thread.handle.is_finished();
            if gone {
                tracing::error!(thread = ?thread.handle.thread().name(), "a serving thread is gone");
            }
            !gone
        });
        let Some(index) =
            (0..serving.len()).min_by_key(|&index| serving[index].open.load(Ordering::Relaxed))
        else {
            return false;
        };
        let thread = &serving[index];
        thread.open.fetch_add(1, Ordering::Relaxed);
        match thread.connections.send(accepted) {
            Ok(()) => return true,
            Err(mpsc::error::SendError(back)) => {
                tracing::error!(thread = ?thread.handle.thread().name(), "a serving thread is gone");
                drop(serving.swap_remove(index));
                accepted = back;
            }
        }
    }
}

/// The next connection of `listener`, in the form a serving thread takes it; `None` when
/// accepting failed (after a pause: out of file descriptors, most often, until some close).
async fn accept(listener: &TcpListener) -> Option<Accepted> {
    let failed = match listener.accept().await {
        Ok((stream, peer)) => match stream.into_std() {
            Ok(stream) => return Some((stream, peer)),
            Err(error) => error,
        },
        Err(error) => error,
    };
    tracing::warn!(cause = %failed, "cannot accept a connection");
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    None
}

/// Starts serving thread `index`, serving the routes `routes_of_thread` makes there.
fn start_thread<M, R, F>(index: usize, routes_of_thread: M) -> std::io::Result<ServingThread>
where
    M: Fn() -> R + Send + 'static,
    R: Future<Output = F>,
    F: Routes,
{
    let (connections, incoming) = mpsc::unbounded_channel();
    let open = Arc::new(AtomicUsize::new(0));
    let served = Arc::clone(&open);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let handle = std::thread::Builder::new()
        .name(format!("baton-api-{index}"))
        .stack_size(SERVING_STACK_BYTES)
        .spawn(move || {
            runtime.block_on(async move {
                serve_connections(incoming, routes_of_thread().await, served).await;
            })
        })?;
    Ok(ServingThread {
        connections,
        open,
        handle,
    })
}

/// Serves the connections `incoming` brings with `filter` until it closes, then tells those
/// still open to close once idle and waits for them; `open` counts those being served.
async fn serve_connections<F>(
    mut incoming: mpsc::UnboundedReceiver<Accepted>,
    filter: F,
    open: Arc<AtomicUsize>,
) where
    F: Routes,
{
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use hyper_util::server::conn::auto;
    use warp::http::Request;
    use warp::hyper::body::Incoming;

    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    while let Some((stream, peer)) = incoming.recv().await {
        let stream = match TcpStream::from_std(stream) {
            Ok(stream) => stream,
            Err(error) => {
                tracing::warn!(cause = %error, %peer, "cannot serve a connection");
                open.fetch_sub(1, Ordering::Relaxed);
                continue;
            }
        };
        let routes = warp::service(filter.clone());
        let service = warp::hyper::service::service_fn(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(ClientAddr(peer));
            let mut routes = routes.clone();
            tower_service::Service::call(&mut routes, request)
        });
        let connection = auto::Builder::new(TokioExecutor::new())
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        let open = Arc::clone(&open);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                log_connection_error(peer, error.as_ref());
            }
            open.fetch_sub(1, Ordering::Relaxed);
        });
    }
    graceful.shutdown().await;
}

/// The address a request's connection comes from, attached to every request by [`serve`].
#[derive(Debug, Clone, Copy)]
struct ClientAddr(SocketAddr);

/// The address the request's connection comes from (what `warp::addr::remote` gives under
/// `warp::serve`, which [`serve`] replaces).
pub fn client_addr()
-> impl Filter<Extract = (Option<SocketAddr>,), Error = std::convert::Infallible> + Clone {
    warp::ext::optional::<ClientAddr>()
        .map(|addr: Option<ClientAddr>| addr.map(|ClientAddr(addr)| addr))
}

/// Logs why a connection ended badly: at debug when the client caused it (what it sent, or
/// how it left), at warn otherwise.
fn log_connection_error(peer: SocketAddr, error: &(dyn std::error::Error + 'static)) {
    let client_caused = match error.downcast_ref::<warp::hyper::Error>() {
        Some(error) => {
            error.is_parse()
                || error.is_parse_too_large()
                || error.is_parse_status()
                || error.is_incomplete_message()
                || error.is_closed()
                || error.is_canceled()
                || error.is_timeout()
                || error.is_body_write_aborted()
                || error.is_user()
                || std::error::Error::source(error)
                    .and_then(|source| source.downcast_ref::<std::io::Error>())
                    .is_some()
        }
        None => error.downcast_ref::<std::io::Error>().is_some(),
    };
    if client_caused {
        tracing::debug!(%peer, cause = %error, "connection ended by a client error");
    } else {
        tracing::warn!(%peer, cause = %error, "connection failed");
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::sync::atomic::AtomicBool;

    use super::*;
    use warp::Reply;

    /// Sets its flag when dropped: at its thread's exit, as a thread-local value.
    struct SetOnExit(Arc<AtomicBool>);

    impl Drop for SetOnExit {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    thread_local! {
        static EXITED: std::cell::RefCell<Option<SetOnExit>> = const { std::cell::RefCell::new(None) };
    }

    /// Routes answering the serving thread's name and the client's address.
    async fn who_serves()
    -> impl Filter<Extract = (warp::reply::Response,), Error = std::convert::Infallible>
    + Clone
    + Send
    + Sync
    + 'static {
        client_addr().map(|addr: Option<SocketAddr>| {
            let thread = std::thread::current().name().unwrap_or("?").to_owned();
            let client = addr.map_or_else(|| "none".to_owned(), |addr| addr.ip().to_string());
            format!("{thread} {client}").into_response()
        })
    }

    #[tokio::test]
    async fn a_serving_thread_gone_leaves_its_connections_to_the_others() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        // The first thread's routes cannot be made: its runtime ends before it serves, and
        // `ended` is set when the thread has exited (its thread-local values are dropped).
        let made = Arc::new(AtomicUsize::new(0));
        let ended = Arc::new(AtomicBool::new(false));
        let ending = Arc::clone(&ended);
        let routes_of_thread = move || {
            let first = made.fetch_add(1, Ordering::SeqCst) == 0;
            if first {
                EXITED.with(|exited| *exited.borrow_mut() = Some(SetOnExit(Arc::clone(&ending))));
            }
            async move {
                assert!(!first, "the first thread's routes fail");
                who_serves().await
            }
        };
        let server = tokio::spawn(serve_on_threads(
            listener,
            2,
            routes_of_thread,
            shutdown.clone(),
        ));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !ended.load(Ordering::SeqCst) {
            assert!(
                std::time::Instant::now() < deadline,
                "the failing thread never ended"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        // Three kept-alive connections held open: the thread still serving has more open
        // than the one gone, which the second and third are offered to first.
        let mut clients = Vec::new();
        let mut threads = BTreeSet::new();
        for _ in 0..3 {
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .timeout(std::time::Duration::from_secs(10))
                .build()
                .unwrap();
            let answer = client
                .get(format!("http://{address}/"))
                .send()
                .await
                .unwrap();
            let text = answer.text().await.unwrap();
            threads.insert(text.split(' ').next().unwrap().to_owned());
            clients.push(client);
        }
        assert_eq!(threads.len(), 1, "{threads:?}");
        drop(clients);
        shutdown.cancel();
        tokio::time::timeout(std::time::Duration::from_secs(10), server)
            .await
            .expect("serving ends after the shutdown")
            .unwrap();
    }

    #[tokio::test]
    async fn connections_spread_over_the_serving_threads_and_know_their_address() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        let server = tokio::spawn(serve_on_threads(listener, 2, who_serves, shutdown.clone()));
        // Four clients with a kept-alive connection each, all open at once.
        let clients: Vec<reqwest::Client> = (0..4)
            .map(|_| {
                reqwest::Client::builder()
                    .pool_max_idle_per_host(1)
                    .build()
                    .unwrap()
            })
            .collect();
        let mut answers = Vec::new();
        for round in 0..2 {
            let sent = clients.iter().map(|client| {
                let url = format!("http://{address}/");
                async move { client.get(url).send().await.unwrap().text().await.unwrap() }
            });
            let got = futures::future::join_all(sent).await;
            if round == 1 {
                answers = got;
            }
        }
        let threads: BTreeSet<&str> = answers
            .iter()
            .map(|answer| answer.split(' ').next().unwrap())
            .collect();
        assert_eq!(threads, BTreeSet::from(["baton-api-0", "baton-api-1"]));
        assert!(
            answers.iter().all(|answer| answer.ends_with(" 127.0.0.1")),
            "{answers:?}"
        );
        shutdown.cancel();
        drop(clients);
        tokio::time::timeout(std::time::Duration::from_secs(10), server)
            .await
            .expect("serving ends after the shutdown")
            .unwrap();
    }
}
