//! The worker threads behind [`spawn_blocking`](super::spawn_blocking): one
//! pool for the whole process, made on first use, knowing nothing of hubs
//! or greenlets. It runs jobs (`FnOnce() + Send`) first in, first out.
//!
//! * At most [`max_threads`] threads: [`DEFAULT_THREADS`], or the number
//!   in the environment variable `GREENLET_BLOCKING_THREADS` (read once,
//!   when the pool is made; 1 at the least).
//! * A thread is started when a job comes and no idle thread is left to
//!   take it, up to the bound; beyond it jobs wait in the queue for a
//!   thread to become free.
//! * A thread idle for [`IDLE_TIMEOUT`] exits; a process that stopped
//!   using `spawn_blocking` ends up with none.
//!
//! A job must not panic (the caller wraps the user's function in
//! `catch_unwind`); if one does, its thread dies and the pool starts
//! another for the next job.

use std::collections::VecDeque;
use std::io;
use std::sync::{Condvar, Mutex, OnceLock};
use std::thread;
use std::time::Duration;

/// A unit of work.
pub(crate) type Job = Box<dyn FnOnce() + Send + 'static>;

/// Threads at most, unless `GREENLET_BLOCKING_THREADS` says otherwise.
pub(crate) const DEFAULT_THREADS: usize = 64;

/// How long an idle thread waits for a job before it exits.
pub(crate) const IDLE_TIMEOUT: Duration = Duration::from_secs(10);

struct Pool {
    state: Mutex<State>,
    /// Idle threads wait here for a job.
    work: Condvar,
    max: usize,
}

struct State {
    queue: VecDeque<Job>,
    /// Threads running (busy or idle).
    threads: usize,
    /// Threads waiting for a job.
    idle: usize,
}

static POOL: OnceLock<Pool> = OnceLock::new();

fn pool() -> &'static Pool {
    POOL.get_or_init(|| Pool {
        state: Mutex::new(State {
            queue: VecDeque::new(),
            threads: 0,
            idle: 0,
        }),
        work: Condvar::new(),
        max: threads_from_env(std::env::var("GREENLET_BLOCKING_THREADS").ok().as_deref()),
    })
}

/// The bound the environment variable's value (if set) gives.
fn threads_from_env(value: Option<&str>) -> usize {
    match value.map(str::trim).map(str::parse::<usize>) {
        Some(Ok(n)) => n.max(1),
        _ => DEFAULT_THREADS,
    }
}

/// The most threads the pool runs at once.
pub(crate) fn max_threads() -> usize {
    pool().max
}

/// Threads running now, busy or idle (for tests).
pub(crate) fn threads() -> usize {
    lock(&pool().state).threads
}

fn lock(m: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    // Jobs run outside the lock, so a poisoned lock means a bug here, not
    // a user's panic; the state is still consistent between two steps.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Queue `job` to run on a worker thread.
///
/// # Errors
/// If a thread was needed and none could be started while the pool has
/// none at all (the job would never run): the job is dropped and the error
/// returned. With threads running, a failed start only leaves the job
/// queued for one of them.
pub(crate) fn submit(job: Job) -> io::Result<()> {
    let pool = pool();
    let start = {
        let mut st = lock(&pool.state);
        st.queue.push_back(job);
        let start = st.queue.len() > st.idle && st.threads < pool.max;
        if start {
            st.threads += 1;
        }
        if st.idle > 0 {
            pool.work.notify_one();
        }
        start
    };
    if start
        && let Err(e) = thread::Builder::new()
            .name("greenlet-blocking".into())
            .spawn(move || work(pool))
    {
        let mut st = lock(&pool.state);
        st.threads -= 1;
        if st.threads == 0 {
            // Nobody would ever run it: give it back (dropped here) and
            // say why.
            st.queue.pop_back();
            return Err(io::Error::new(
                e.kind(),
                format!("greenlet::hub::spawn_blocking: cannot start a worker thread: {e}"),
            ));
        }
    }
    Ok(())
}

/// A worker thread's life: take jobs until idle for [`IDLE_TIMEOUT`].
fn work(pool: &'static Pool) {
    // Gives the thread back to the count however it ends (a job that
    // panics kills the thread).
    struct Leave(&'static Pool);
    impl Drop for Leave {
        fn drop(&mut self) {
            lock(&self.0.state).threads -= 1;
        }
    }
    let _leave = Leave(pool);
    let mut st = lock(&pool.state);
    loop {
        if let Some(job) = st.queue.pop_front() {
            drop(st);
            job();
            st = lock(&pool.state);
            continue;
        }
        st.idle += 1;
        let (guard, waited) = pool
            .work
            .wait_timeout(st, IDLE_TIMEOUT)
            .unwrap_or_else(|e| e.into_inner());
        st = guard;
        st.idle -= 1;
        if waited.timed_out() && st.queue.is_empty() {
            return; // `_leave` counts it out (the lock is dropped first)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bound_comes_from_the_environment_value() {
        assert_eq!(threads_from_env(None), DEFAULT_THREADS);
        assert_eq!(threads_from_env(Some("8")), 8);
        assert_eq!(threads_from_env(Some(" 3 ")), 3);
        assert_eq!(threads_from_env(Some("0")), 1);
        assert_eq!(threads_from_env(Some("many")), DEFAULT_THREADS);
    }
}
