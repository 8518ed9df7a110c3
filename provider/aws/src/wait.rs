//! Polling with exponential backoff and a deadline, cancellable by `StopProvider`.
//! Never a fixed sleep: against a local emulator the first poll usually succeeds.

use std::future::Future;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Terraform-style durations for `timeouts` blocks: `90s`, `30m`, `1h30m`.
pub fn duration(s: &str) -> Result<Duration, String> {
    let mut total = 0u64;
    let mut num = String::new();
    if s.is_empty() {
        return Err("is empty".into());
    }
    for c in s.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let n: u64 = num
            .parse()
            .map_err(|_| format!("{s:?} is not a duration like \"30m\" or \"1h30m\""))?;
        num.clear();
        total += match c {
            'h' => n * 3600,
            'm' => n * 60,
            's' => n,
            _ => return Err(format!("{s:?} has an unknown unit {c:?} (use h, m or s)")),
        };
    }
    if !num.is_empty() {
        return Err(format!("{s:?} needs a unit (h, m or s)"));
    }
    if total == 0 {
        return Err(format!("{s:?} must be longer than zero"));
    }
    Ok(Duration::from_secs(total))
}

#[derive(Debug, thiserror::Error)]
pub enum WaitError<E> {
    #[error("timed out after {0:?} waiting for {1}")]
    Timeout(Duration, String),
    #[error("cancelled while waiting for {0} (Terraform asked the provider to stop)")]
    Cancelled(String),
    #[error("{0}")]
    Failed(E),
}

/// Calls `poll` until it returns `Ok(Some(v))`, backing off from 200 ms up to 10 s.
pub async fn until<T, E, F, Fut>(
    what: &str,
    timeout: Duration,
    cancel: &CancellationToken,
    mut poll: F,
) -> Result<T, WaitError<E>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, E>>,
{
    let start = tokio::time::Instant::now();
    let mut delay = Duration::from_millis(200);
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        if let Some(v) = poll().await.map_err(WaitError::Failed)? {
            return Ok(v);
        }
        let elapsed = start.elapsed();
        if elapsed >= timeout {
            return Err(WaitError::Timeout(timeout, what.to_string()));
        }
        tracing::info!(target: "platform::wait", what, attempt, elapsed_s = elapsed.as_secs(), "still waiting");
        let nap = delay.min(timeout - elapsed);
        tokio::select! {
            _ = cancel.cancelled() => return Err(WaitError::Cancelled(what.to_string())),
            _ = tokio::time::sleep(nap) => {}
        }
        delay = (delay * 2).min(Duration::from_secs(10));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert!(duration("10").is_err());
        assert!(duration("30").is_err());
        assert!(duration("5d").is_err());
        assert!(duration("0s").is_err());
    }

    // Real time, kept short: tokio's paused clock needs the `test-util` feature, which would
    // rebuild tokio and the AWS SDK for tests.
    #[tokio::test]
    async fn returns_when_ready() {
        let token = CancellationToken::new();
        let mut n = 0;
        let r: Result<u32, WaitError<()>> = until("x", Duration::from_secs(60), &token, || {
            n += 1;
            let v = n;
            async move { Ok(if v >= 3 { Some(v) } else { None }) }
        })
        .await;
        assert_eq!(r.ok(), Some(3));
    }

    #[tokio::test]
    async fn times_out() {
        let token = CancellationToken::new();
        let r: Result<(), WaitError<()>> =
            until("thing", Duration::from_millis(300), &token, || async {
                Ok(None)
            })
            .await;
        assert!(matches!(r, Err(WaitError::Timeout(_, _))));
    }

    #[tokio::test]
    async fn cancellation_stops_waiting() {
        let token = CancellationToken::new();
        token.cancel();
        let r: Result<(), WaitError<()>> =
            until("thing", Duration::from_secs(600), &token, || async {
                Ok(None)
            })
            .await;
        assert!(matches!(r, Err(WaitError::Cancelled(_))));
    }
}
