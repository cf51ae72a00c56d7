//! Polling helpers: wait for an eventually-true condition with a deadline, instead of
//! sleeping for a fixed time.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

/// How often the predicates are polled.
pub const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// Polls the async predicate `f` every 20 ms until it returns `true`.
///
/// Panics with `what` (the awaited condition, e.g. `"the run to succeed"`) when `timeout`
/// passes first; a call of `f` that hangs is cut off at the deadline too.
///
/// ```no_run
/// # async fn demo(redis: &baton_tests::RedisServer) {
/// # use std::time::Duration;
/// let client = redis.client();
/// baton_tests::wait_until(Duration::from_secs(5), "key `done` to exist", || async {
///     let mut con = client.get_multiplexed_async_connection().await.unwrap();
///     redis::cmd("EXISTS").arg("done").query_async::<bool>(&mut con).await.unwrap()
/// })
/// .await;
/// # }
/// ```
pub async fn wait_until<F, Fut>(timeout: Duration, what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    wait_for(timeout, what, || {
        let fut = f();
        async move { fut.await.then_some(()) }
    })
    .await
}

/// Polls the async function `f` every 20 ms until it returns `Some(value)`, and returns
/// the value.
///
/// Panics with `what` when `timeout` passes first; a call of `f` that hangs is cut off at
/// the deadline too.
pub async fn wait_for<T, F, Fut>(timeout: Duration, what: &str, f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    match poll_for(timeout, f).await {
        Some(value) => value,
        None => panic!("timed out after {timeout:?} waiting for {what}"),
    }
}

/// Polls the async function `f` every 20 ms until it returns `Some(value)`; `None` when
/// `timeout` passes first. The non-panicking form of [`wait_for`], for conditions that
/// must *not* become true.
pub async fn poll_for<T, F, Fut>(timeout: Duration, mut f: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        match tokio::time::timeout_at(deadline, f()).await {
            Ok(Some(value)) => return Some(value),
            Ok(None) => {}
            Err(_elapsed) => return None,
        }
        let now = Instant::now();
        if now >= deadline {
            return None;
        }
        tokio::time::sleep_until((now + POLL_INTERVAL).min(deadline)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn wait_until_returns_once_the_predicate_holds() {
        let calls = AtomicUsize::new(0);
        wait_until(Duration::from_secs(5), "three calls", || async {
            calls.fetch_add(1, Ordering::SeqCst) >= 2
        })
        .await;
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    #[should_panic(expected = "waiting for the impossible")]
    async fn wait_until_panics_with_the_description() {
        wait_until(Duration::from_millis(100), "the impossible", || async {
            false
        })
        .await;
    }

    #[tokio::test]
    async fn wait_for_returns_the_value() {
        let calls = AtomicUsize::new(0);
        let value = wait_for(Duration::from_secs(5), "a value", || async {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            (n == 1).then_some("found")
        })
        .await;
        assert_eq!(value, "found");
    }

    #[tokio::test]
    async fn poll_for_cuts_off_a_hanging_call() {
        let started = Instant::now();
        let result: Option<()> = poll_for(Duration::from_millis(100), std::future::pending).await;
        assert_eq!(result, None);
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}
