//! Work that must not run on the async threads (database queries, sealing,
//! key derivation, scrypt) goes through [`run`], one helper for all.

/// The blocking thread pool is gone (the server is shutting down).
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the blocking thread pool is gone")]
pub struct Cancelled;

/// Runs `work` on the blocking thread pool and waits for it.
pub async fn run<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Cancelled> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| Cancelled)
}

/// Starts `work` on the blocking thread pool without waiting for it. If the
/// pool is shutting down, `work` is dropped without running.
pub fn spawn(work: impl FnOnce() + Send + 'static) {
    drop(tokio::task::spawn_blocking(work));
}
