//! `hub::channel` (API.md §3c): values into a hub from any thread. Nothing
//! is lost or reordered per sender, a waiting receiver is woken by the
//! send (the hub sleeps meanwhile instead of polling), senders learn when
//! the receiver is gone, and waits end cleanly on kill and timeout.
//!
//! Each test runs on its own thread, so each has its own hub.

#[path = "common/hub_deadlock.rs"]
#[allow(dead_code, reason = "this file uses on_own_thread only")]
mod hub_deadlock;
#[path = "common/panic_text.rs"]
#[allow(
    dead_code,
    reason = "used by hub_deadlock's helpers this file does not call"
)]
mod panic_text;

use greenlet::hub::{self, Elapsed};
use hub_deadlock::on_own_thread;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(120);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Four threads send 100,000 messages each into one hub: every message
/// arrives once, and each sender's in the order it sent them.
#[test]
fn four_threads_times_a_hundred_thousand_messages_all_arrive_in_order() {
    const PER_THREAD: u64 = 100_000;
    on_own_thread(LIMIT, || {
        let (tx, rx) = hub::channel::<(usize, u64)>();
        let senders: Vec<_> = (0..4)
            .map(|t| {
                let tx = tx.clone();
                thread::spawn(move || {
                    for i in 0..PER_THREAD {
                        tx.send((t, i)).unwrap();
                    }
                })
            })
            .collect();
        drop(tx);
        // Another task runs meanwhile: the receiver's waits are cooperative.
        let other = hub::spawn(|| {
            let mut n = 0u32;
            for _ in 0..10 {
                hub::sleep(ms(1));
                n += 1;
            }
            n
        });
        let mut next = [0u64; 4];
        while let Some((t, i)) = rx.recv() {
            assert_eq!(i, next[t], "sender {t}: out of order or lost");
            next[t] += 1;
        }
        assert_eq!(next, [PER_THREAD; 4]);
        for s in senders {
            s.join().unwrap();
        }
        assert_eq!(other.get().unwrap(), 10);
        assert_eq!(hub::parked_count(), 0);
    });
}

/// A receiver waits for a send 100 ms away, with nothing else to do: the
/// hub blocks in its poller until the sender's wake, so its loop turns a
/// handful of times, not once per poll of a busy wait.
#[test]
fn a_waiting_receiver_is_woken_by_the_send_without_polling() {
    on_own_thread(LIMIT, || {
        let (tx, rx) = hub::channel();
        let before = hub::loop_turns();
        let t = Instant::now();
        let sender = thread::spawn(move || {
            thread::sleep(ms(100));
            tx.send("late").unwrap();
        });
        assert_eq!(rx.recv(), Some("late"));
        let waited = t.elapsed();
        let turns = hub::loop_turns() - before;
        sender.join().unwrap();
        println!("waited {waited:?} in {turns} turns of the hub's loop");
        assert!(waited >= ms(100));
        assert!(
            turns <= 10,
            "{turns} turns of the loop in {waited:?}: it polls"
        );
    });
}

#[test]
fn recv_returns_none_once_every_sender_is_gone() {
    on_own_thread(LIMIT, || {
        let (tx, rx) = hub::channel();
        let tx2 = tx.clone();
        tx.send(1).unwrap();
        drop(tx);
        // The last sender is dropped on another thread while we wait.
        let t = thread::spawn(move || {
            thread::sleep(ms(30));
            tx2.send(2).unwrap();
            drop(tx2);
        });
        assert_eq!(rx.recv(), Some(1));
        assert_eq!(rx.recv(), Some(2));
        assert_eq!(rx.recv(), None);
        assert_eq!(rx.try_recv(), None);
        t.join().unwrap();
        assert_eq!(hub::parked_count(), 0);
    });
}

#[test]
fn recv_timeout_gives_up_and_the_channel_still_works() {
    on_own_thread(LIMIT, || {
        let (tx, rx) = hub::channel();
        let t = Instant::now();
        assert_eq!(rx.recv_timeout(ms(30)), Err(Elapsed));
        assert!(t.elapsed() >= ms(30));
        assert_eq!(hub::parked_count(), 0);
        let s = thread::spawn(move || tx.send(9).unwrap());
        assert_eq!(rx.recv_timeout(Duration::from_secs(30)), Ok(Some(9)));
        s.join().unwrap();
        // Every sender gone: `Ok(None)` at once, not a timeout.
        assert_eq!(rx.recv_timeout(Duration::from_secs(30)), Ok(None));
    });
}

/// A sender whose receiver lived on a thread that has exited gets its
/// value back: nothing panics, nothing stays queued.
#[test]
fn a_send_after_the_receiving_thread_exited_returns_the_value() {
    let (give, take) = mpsc::channel();
    thread::spawn(move || {
        let (tx, rx) = hub::channel::<String>();
        give.send(tx).unwrap();
        // The receiver waits in a task when the thread exits: the hub's
        // teardown kills the task, which drops it.
        let _waiting = hub::spawn(move || rx.recv());
        hub::sleep(ms(1));
    })
    .join()
    .unwrap();
    let tx = take.recv().unwrap();
    assert_eq!(tx.send("late".to_string()), Err("late".to_string()));
}

/// Counts drops, from any thread.
#[derive(Debug)]
struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn values_still_queued_when_the_receiver_is_dropped_are_dropped() {
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = hub::channel();
    for _ in 0..3 {
        tx.send(Counted(Arc::clone(&drops))).unwrap();
    }
    drop(rx);
    assert_eq!(drops.load(Ordering::SeqCst), 3);
    let back = tx.send(Counted(Arc::clone(&drops)));
    assert!(back.is_err());
    drop(back);
    assert_eq!(drops.load(Ordering::SeqCst), 4);
}

#[test]
fn a_killed_receiver_leaves_nothing_registered_and_the_next_recv_gets_the_value() {
    on_own_thread(LIMIT, || {
        let (tx, rx) = hub::channel();
        let rx = std::rc::Rc::new(rx);
        let waiter = {
            let rx = std::rc::Rc::clone(&rx);
            hub::spawn(move || rx.recv())
        };
        hub::sleep(ms(5));
        waiter.kill();
        assert_eq!(hub::parked_count(), 0);
        let s = thread::spawn(move || {
            thread::sleep(ms(10));
            tx.send(5).unwrap();
        });
        assert_eq!(rx.recv(), Some(5));
        s.join().unwrap();
    });
}

/// A receiver moved to another thread waits on that thread's hub.
#[test]
fn a_receiver_moved_to_another_thread_waits_there() {
    let (tx, rx) = hub::channel();
    let r = thread::spawn(move || {
        let ticker = hub::spawn(|| {
            hub::sleep(ms(1));
            "ticked"
        });
        let v = rx.recv();
        (v, ticker.get().unwrap())
    });
    thread::sleep(ms(20));
    tx.send(3).unwrap();
    assert_eq!(r.join().unwrap(), (Some(3), "ticked"));
}
