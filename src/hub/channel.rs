//! [`channel`]: values into a hub from any thread.

use super::remote::Remote;
use super::scheduler::{Park, Wake, hub};
use super::slab::Key;
use super::time::Elapsed;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// A channel into a hub from any thread: unbounded, first in first out.
///
/// * [`Sender`] is `Send + Sync + Clone` and never blocks: [`send`](Sender::send)
///   queues the value and, if the receiver waits, wakes its hub (through
///   the hub's poller, so a hub with nothing else to do sleeps until then).
///   It returns `Err(value)` once the [`Receiver`] is gone, which is also
///   what happens after the receiving thread exits (its receiver is dropped
///   with it): the value comes back, nothing leaks, nothing panics.
/// * [`Receiver`] is `Send`: it can be moved to another thread, and its
///   waits are cooperative on the hub of the thread that waits.
///   [`recv`](Receiver::recv) returns `None` once every sender is gone and
///   the queue is empty.
/// * Values from one sender arrive in the order they were sent.
/// * A receiver waiting while any sender lives is never reported as a
///   deadlock by the hub (a sender on another thread may send at any time),
///   even when that sender lives on the receiver's own thread.
///
/// # Examples
///
/// ```
/// use greenlet::hub;
///
/// let (tx, rx) = hub::channel();
/// let producers: Vec<_> = (0..4)
///     .map(|t| {
///         let tx = tx.clone();
///         std::thread::spawn(move || {
///             for i in 0..100 {
///                 tx.send((t, i)).unwrap();
///             }
///         })
///     })
///     .collect();
/// drop(tx);
/// let mut count = 0;
/// while let Some((_thread, _i)) = rx.recv() {
///     count += 1; // the hub runs other greenlets while this one waits
/// }
/// assert_eq!(count, 400);
/// for p in producers {
///     p.join().unwrap();
/// }
/// ```
pub fn channel<T: Send + 'static>() -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            queue: VecDeque::new(),
            receiver: true,
            waiting: None,
        }),
        senders: AtomicUsize::new(1),
    });
    (
        Sender {
            shared: Arc::clone(&shared),
        },
        Receiver {
            shared,
            taken: RefCell::new(VecDeque::new()),
        },
    )
}

struct Shared<T> {
    state: Mutex<State<T>>,
    /// Live [`Sender`]s.
    senders: AtomicUsize,
}

struct State<T> {
    queue: VecDeque<T>,
    /// The [`Receiver`] lives.
    receiver: bool,
    /// The receiver's wait in progress: its hub's inbox and its park.
    waiting: Option<(Arc<Remote>, Key)>,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // No user code runs under the lock (values are only moved), so a
        // poisoned lock still holds a consistent state.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wake the receiver's wait, if one is registered.
    fn wake_receiver(&self, st: MutexGuard<'_, State<T>>) {
        let mut st = st;
        let waiting = st.waiting.take();
        drop(st);
        if let Some((remote, key)) = waiting {
            remote.wake(key);
        }
    }
}

/// The sending half of a [`channel`]: `Send + Sync + Clone`, usable from
/// any thread, never blocks.
///
/// # Examples
///
/// ```
/// use greenlet::hub;
///
/// let (tx, rx) = hub::channel();
/// let tx2 = tx.clone(); // clones feed the same receiver
/// std::thread::spawn(move || tx2.send("from a thread").unwrap()).join().unwrap();
/// tx.send("from here").unwrap();
/// assert_eq!(rx.recv(), Some("from a thread"));
/// assert_eq!(rx.recv(), Some("from here"));
/// ```
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Sender<T> {
    /// Queue `v` for the receiver, waking it if it waits.
    ///
    /// # Errors
    /// `Err(v)`, with the value, once the [`Receiver`] is gone (dropped, or
    /// dropped with the thread that held it).
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub;
    ///
    /// let (tx, rx) = hub::channel();
    /// assert_eq!(tx.send(1), Ok(()));
    /// drop(rx);
    /// assert_eq!(tx.send(2), Err(2)); // no receiver: the value comes back
    /// ```
    pub fn send(&self, v: T) -> Result<(), T> {
        let mut st = self.shared.lock();
        if !st.receiver {
            return Err(v);
        }
        st.queue.push_back(v);
        if st.waiting.is_some() {
            self.shared.wake_receiver(st);
        }
        Ok(())
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.shared.senders.fetch_add(1, Ordering::Relaxed);
        Sender {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        if self.shared.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            // The last one: a waiting receiver must learn that nothing
            // more will come.
            let st = self.shared.lock();
            self.shared.wake_receiver(st);
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender").finish_non_exhaustive()
    }
}

/// The receiving half of a [`channel`]: `Send`, waits on the hub of the
/// thread that calls it.
///
/// # Examples
///
/// ```
/// use greenlet::hub;
///
/// let (tx, rx) = hub::channel::<u32>();
/// // The receiver moves to another thread and waits on that thread's hub.
/// let consumer = std::thread::spawn(move || {
///     let mut sum = 0;
///     while let Some(v) = rx.recv() {
///         sum += v;
///     }
///     sum
/// });
/// for v in 1..=10 {
///     tx.send(v).unwrap();
/// }
/// drop(tx); // the last sender: `recv` returns None once the queue is empty
/// assert_eq!(consumer.join().unwrap(), 55);
/// ```
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
    /// Values taken from the shared queue in one batch (one lock for many
    /// values), handed out first.
    taken: RefCell<VecDeque<T>>,
}

impl<T> Receiver<T> {
    /// The next value, waiting cooperatively for one; `None` once every
    /// [`Sender`] is gone and every value sent has been received (or while
    /// the thread's hub shuts down, at thread exit).
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub;
    /// use std::time::Duration;
    ///
    /// let (tx, rx) = hub::channel();
    /// let t = hub::spawn(move || {
    ///     hub::sleep(Duration::from_millis(5));
    ///     tx.send("late").unwrap();
    /// });
    /// assert_eq!(rx.recv(), Some("late")); // waits in the hub; the task runs
    /// assert_eq!(rx.recv(), None); // the task has ended, and its sender with it
    /// t.get().unwrap();
    /// ```
    pub fn recv(&self) -> Option<T> {
        match self.recv_until(None) {
            Ok(v) => v,
            Err(Elapsed) => unreachable!("no deadline"),
        }
    }

    /// The next value if one is queued now; never waits.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub;
    ///
    /// let (tx, rx) = hub::channel();
    /// assert_eq!(rx.try_recv(), None); // never waits
    /// tx.send(5).unwrap();
    /// assert_eq!(rx.try_recv(), Some(5));
    /// ```
    pub fn try_recv(&self) -> Option<T> {
        let mut taken = self.taken.borrow_mut();
        if let Some(v) = taken.pop_front() {
            return Some(v);
        }
        let mut st = self.shared.lock();
        std::mem::swap(&mut st.queue, &mut taken);
        drop(st);
        taken.pop_front()
    }

    /// [`recv`](Receiver::recv), giving up after `d`: `Err(Elapsed)` then.
    ///
    /// # Errors
    /// `Err(Elapsed)` if no value came and a sender still lives after `d`.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub::{self, Elapsed};
    /// use std::time::Duration;
    ///
    /// let (tx, rx) = hub::channel::<i32>();
    /// let d = Duration::from_millis(5);
    /// assert_eq!(rx.recv_timeout(d), Err(Elapsed));
    /// tx.send(1).unwrap();
    /// assert_eq!(rx.recv_timeout(d), Ok(Some(1)));
    /// drop(tx);
    /// assert_eq!(rx.recv_timeout(d), Ok(None)); // every sender is gone
    /// ```
    pub fn recv_timeout(&self, d: Duration) -> Result<Option<T>, Elapsed> {
        self.recv_until(Some(Instant::now() + d))
    }

    fn recv_until(&self, deadline: Option<Instant>) -> Result<Option<T>, Elapsed> {
        loop {
            if let Some(v) = self.try_recv() {
                return Ok(Some(v));
            }
            let hub = hub();
            let remote = hub.remote().unwrap_or_else(|e| panic!("{e}"));
            let park = Park::new(&hub, "Receiver::recv");
            {
                let mut st = self.shared.lock();
                if !st.queue.is_empty() {
                    continue; // sent since the look above
                }
                if self.shared.senders.load(Ordering::Acquire) == 0 {
                    return Ok(None);
                }
                st.waiting = Some((remote, park.key()));
            }
            // Unregisters the wait however it ends (a kill, a timeout).
            struct Unregister<'a, T>(&'a Shared<T>, Key);
            impl<T> Drop for Unregister<'_, T> {
                fn drop(&mut self) {
                    let mut st = self.0.lock();
                    if st.waiting.as_ref().is_some_and(|(_, k)| *k == self.1) {
                        st.waiting = None;
                    }
                }
            }
            let _unregister = Unregister(&self.shared, park.key());
            let _expect = hub.expect_remote_wake(false);
            if let Some(d) = deadline {
                park.deadline(d);
            }
            match park.wait() {
                Wake::Signal => {}
                Wake::Timer => return Err(Elapsed),
                Wake::Shutdown => return Ok(None),
                other => unreachable!("greenlet::hub: recv was resumed with {other:?}"),
            }
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let queued = {
            let mut st = self.shared.lock();
            st.receiver = false;
            st.waiting = None;
            std::mem::take(&mut st.queue)
        };
        // Dropped outside the lock: a value's destructor may send again.
        drop(queued);
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver").finish_non_exhaustive()
    }
}
