//! Noticing that Terraform is gone, so the provider does not outlive it.
//!
//! go-plugin's client stops a plugin by calling `Shutdown` and, two seconds later, killing it;
//! a Terraform that is itself killed (SIGKILL from a CI timeout, an OOM kill) does neither, and
//! the provider would be reparented to init and serve an empty port forever. Two signs say
//! Terraform is gone, checked every [`POLL_INTERVAL`]:
//!
//! - the parent process changed (we were reparented: the process that started us exited);
//! - the read end of our stdout or stderr pipe closed (go-plugin reads both for the plugin's
//!   whole life, so nobody reads them any more).
//!
//! Polling `getppid` is used instead of `PR_SET_PDEATHSIG`: the death signal fires when the
//! parent *thread* that forked us exits, and Go's runtime may retire that thread while Terraform
//! lives on. Neither check runs in `--debug` mode, where the developer owns the process.
//!
//! When Terraform is gone, the host cancels [`Lifecycle::terraform_gone`]; the provider service
//! stops starting new AWS calls and waits no more, the work already running finishes (an HTTP
//! request in flight completes rather than being cut), and the process exits once the tracked
//! work has ended or after [`GONE_GRACE`], whichever comes first (see `server.rs`).

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// How often the watcher looks at the parent and the stdio pipes.
pub(crate) const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// How long in-flight work gets to end after Terraform is gone, before the process exits anyway.
/// New AWS calls are refused at once, so this only bounds a call already on the wire.
pub(crate) const GONE_GRACE: Duration = Duration::from_secs(20);

/// Work in progress: each operation that changes real objects (an apply) holds a read guard of
/// this lock while it runs; the host takes the write side to wait until none is left.
pub type WorkLock = Arc<tokio::sync::RwLock<()>>;

/// What the host shares with the provider service about the life of the process.
#[derive(Debug, Clone, Default)]
pub struct Lifecycle {
    /// Cancelled when Terraform is gone (its process exited, or it closed our stdio). A provider
    /// stops its work on it as it would on `StopProvider`.
    pub terraform_gone: CancellationToken,
    /// Held (read) by every apply in progress, so the host can let it end before the process
    /// exits instead of dropping it at an arbitrary point.
    pub work: WorkLock,
}

/// Why the process concluded that Terraform is gone, or `None` while all looks well.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Watch {
    /// The parent at start; `None` when it was already init (nothing to compare against).
    parent: Option<u32>,
}

impl Watch {
    /// Records the current parent.
    pub(crate) fn start() -> Watch {
        let parent = parent_pid();
        Watch {
            parent: parent.filter(|&p| p > 1),
        }
    }

    /// The reason Terraform is gone, if it is.
    pub(crate) fn check(&self) -> Option<String> {
        if let (Some(was), Some(now)) = (self.parent, parent_pid()) {
            if was != now {
                return Some(format!(
                    "the parent process {was} exited (the provider now belongs to process {now})"
                ));
            }
        }
        for (fd, name) in [(1, "stdout"), (2, "stderr")] {
            if pipe_reader_closed(fd) {
                return Some(format!("nothing reads the provider's {name} any more"));
            }
        }
        None
    }
}

/// Watches until Terraform is gone, then cancels `gone` (returns early if `gone` is cancelled
/// by someone else).
pub(crate) async fn watch(gone: CancellationToken) {
    let watch = Watch::start();
    let mut tick = tokio::time::interval(POLL_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = gone.cancelled() => return,
            _ = tick.tick() => {}
        }
        if let Some(why) = watch.check() {
            tracing::warn!(reason = %why, "Terraform is gone; stopping in-flight work and exiting");
            gone.cancel();
            return;
        }
    }
}

/// After `gone`: let tracked work end (at most `grace`), then return so the server shuts down.
pub(crate) async fn wind_down(life: &Lifecycle, grace: Duration) {
    life.terraform_gone.cancelled().await;
    // A waiting writer also keeps new work from starting (tokio's lock is fair).
    match tokio::time::timeout(grace, life.work.write()).await {
        Ok(_all_done) => tracing::info!("in-flight work ended; exiting"),
        Err(_) => tracing::warn!(
            grace_s = grace.as_secs(),
            "in-flight work still running after the grace period; exiting without it"
        ),
    }
}

#[cfg(unix)]
fn parent_pid() -> Option<u32> {
    Some(std::os::unix::process::parent_id())
}

#[cfg(not(unix))]
fn parent_pid() -> Option<u32> {
    None
}

/// Whether `fd` is a pipe or socket whose other end is closed: `poll` reports `POLLERR` on the
/// write end of a pipe without readers, `POLLHUP` on a socket shut down by its peer. A file or a
/// terminal never counts (a terminal's hang-up is the shell's business).
#[cfg(unix)]
fn pipe_reader_closed(fd: i32) -> bool {
    // SAFETY: fstat and poll only read the descriptor's status into the structs we own.
    unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        if libc::fstat(fd, &mut st) != 0 {
            return false;
        }
        let kind = st.st_mode & libc::S_IFMT;
        if kind != libc::S_IFIFO && kind != libc::S_IFSOCK {
            return false;
        }
        let mut p = libc::pollfd {
            fd,
            events: 0,
            revents: 0,
        };
        libc::poll(&mut p, 1, 0) == 1 && p.revents & (libc::POLLERR | libc::POLLHUP) != 0
    }
}

#[cfg(not(unix))]
fn pipe_reader_closed(_fd: i32) -> bool {
    false
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd as _;

    fn pipe() -> (std::fs::File, std::fs::File) {
        let mut fds = [0; 2];
        // SAFETY: pipe fills two descriptors that we take ownership of at once.
        unsafe {
            assert_eq!(libc::pipe(fds.as_mut_ptr()), 0);
            use std::os::fd::FromRawFd as _;
            (
                std::fs::File::from_raw_fd(fds[0]),
                std::fs::File::from_raw_fd(fds[1]),
            )
        }
    }

    #[test]
    fn a_pipe_without_readers_is_noticed() {
        let (reader, writer) = pipe();
        assert!(!pipe_reader_closed(writer.as_raw_fd()));
        drop(reader);
        assert!(pipe_reader_closed(writer.as_raw_fd()));
    }

    #[test]
    fn files_never_count_as_closed() {
        let f = std::fs::File::open("/dev/null").unwrap();
        assert!(!pipe_reader_closed(f.as_raw_fd()));
        assert!(!pipe_reader_closed(-1));
    }

    #[test]
    fn the_same_parent_is_not_gone() {
        let w = Watch::start();
        assert_eq!(w.parent, parent_pid().filter(|&p| p > 1));
        // The test runner is still our parent (its stdio is its own business).
        assert!(w.check().is_none_or(|why| !why.contains("parent")));
    }

    #[tokio::test]
    async fn wind_down_waits_for_tracked_work() {
        let life = Lifecycle::default();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let guard = life.work.clone().read_owned().await;
        let task = tokio::spawn(async move {
            let _guard = guard;
            let _ = rx.await;
        });
        let gone = life.terraform_gone.clone();
        let waiter = tokio::spawn({
            let life = life.clone();
            async move { wind_down(&life, Duration::from_secs(30)).await }
        });
        gone.cancel();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiter.is_finished(), "must wait for the running work");
        tx.send(()).unwrap();
        task.await.unwrap();
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("wind_down ends once the work ended")
            .unwrap();
    }

    #[tokio::test]
    async fn wind_down_gives_up_after_the_grace() {
        let life = Lifecycle::default();
        let _stuck = life.work.clone().read_owned().await;
        life.terraform_gone.cancel();
        tokio::time::timeout(
            Duration::from_secs(5),
            wind_down(&life, Duration::from_millis(100)),
        )
        .await
        .expect("the grace bounds the wait");
    }
}
