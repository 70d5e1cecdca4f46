//! The hub (API.md §3): spawn order, sleeping, joining, timeouts, killing,
//! deadlock detection, IO waits and thread exit. Each test runs on its own
//! thread, so each has its own hub.

#[path = "common/counted.rs"]
mod counted;
#[path = "common/panic_text.rs"]
mod panic_text;

use counted::Counted;
use greenlet::hub::{self, Elapsed, Task};
use greenlet::{Greenlet, GreenletExit};
use panic_text::panic_text;
use std::cell::{Cell, RefCell};
#[cfg(unix)]
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;
use std::time::{Duration, Instant};

const ZERO: Duration = Duration::ZERO;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn log() -> Rc<RefCell<Vec<String>>> {
    Rc::new(RefCell::new(Vec::new()))
}

fn push(l: &Rc<RefCell<Vec<String>>>, s: impl Into<String>) {
    l.borrow_mut().push(s.into());
}

/// One end of [`pipe`]'s pair.
#[cfg(unix)]
type End = OwnedFd;
/// One end of [`pipe`]'s pair: Windows' poller takes sockets only.
#[cfg(windows)]
type End = std::net::TcpStream;

/// A non-blocking pipe (`std::io::pipe` makes it close-on-exec).
#[cfg(unix)]
fn pipe() -> (End, End) {
    let (r, w) = std::io::pipe().expect("pipe");
    let (r, w) = (OwnedFd::from(r), OwnedFd::from(w));
    for fd in [&r, &w] {
        use std::os::fd::AsRawFd;
        let fd = fd.as_raw_fd();
        // SAFETY: fcntl on a descriptor this function owns; F_SETFL only
        // changes its status flags.
        let rc = unsafe {
            libc::fcntl(
                fd,
                libc::F_SETFL,
                libc::fcntl(fd, libc::F_GETFL) | libc::O_NONBLOCK,
            )
        };
        assert_eq!(rc, 0, "fcntl: {}", std::io::Error::last_os_error());
    }
    (r, w)
}

/// A connected pair of non-blocking loopback TCP sockets, standing in for
/// a pipe (read end, write end).
#[cfg(windows)]
fn pipe() -> (End, End) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let w = std::net::TcpStream::connect(l.local_addr().unwrap()).expect("connect");
    let (r, _) = l.accept().expect("accept");
    for s in [&r, &w] {
        s.set_nonblocking(true).expect("non-blocking");
    }
    (r, w)
}

#[cfg(unix)]
fn write_byte(fd: &End) {
    // SAFETY: writes one byte from a live local to an open descriptor.
    let n = unsafe { libc::write(fd.as_raw_fd(), b"x".as_ptr().cast(), 1) };
    assert_eq!(n, 1);
}

#[cfg(windows)]
fn write_byte(s: &End) {
    use std::io::Write;
    assert_eq!((&*s).write(b"x").expect("write"), 1);
}

/// Read one byte if there is one (non-blocking).
#[cfg(unix)]
fn read_byte(fd: &End) {
    let mut b = 0u8;
    // SAFETY: reads at most one byte into a live local.
    unsafe { libc::read(fd.as_raw_fd(), (&raw mut b).cast(), 1) };
}

/// Read one byte if there is one (non-blocking).
#[cfg(windows)]
fn read_byte(s: &End) {
    use std::io::Read;
    let _ = (&*s).read(&mut [0u8]);
}

/// The number of `e` (its `SOCKET` handle on Windows).
fn raw(e: &End) -> i64 {
    #[cfg(unix)]
    return i64::from(e.as_raw_fd());
    #[cfg(windows)]
    return std::os::windows::io::AsRawSocket::as_raw_socket(e) as i64;
}

/// Every descriptor registered with any epoll instance of this process, as
/// `/proc/self/fdinfo` lists them ("tfd: N"). None where there is no
/// `/proc` (the callers then check only the deadlock detection).
fn epoll_registered() -> Vec<i64> {
    let mut out = Vec::new();
    if !cfg!(target_os = "linux") {
        return out;
    }
    for e in std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .flatten()
    {
        let is_epoll = std::fs::read_link(e.path())
            .map(|t| t.to_string_lossy().contains("eventpoll"))
            .unwrap_or(false);
        if !is_epoll {
            continue;
        }
        let info = std::fs::read_to_string(format!(
            "/proc/self/fdinfo/{}",
            e.file_name().to_string_lossy()
        ))
        .unwrap_or_default();
        for line in info.lines() {
            if let Some(rest) = line.strip_prefix("tfd:")
                && let Some(n) = rest.split_whitespace().next().and_then(|n| n.parse().ok())
            {
                out.push(n);
            }
        }
    }
    out
}

/// Whether /proc/self/fdinfo shows epoll registrations here at all (it may
/// not under qemu-user).
fn epoll_visible() -> bool {
    let (r, _w) = pipe();
    let t = Instant::now();
    let seen = Rc::new(Cell::new(false));
    let s = seen.clone();
    let fd = raw(&r);
    let probe = hub::spawn(move || s.set(epoll_registered().contains(&fd)));
    // Main waits on the pipe (registering it) while the probe looks.
    let _ = hub::wait_readable(&r, Some(ms(20)));
    probe.get().expect("probe");
    assert!(t.elapsed() < Duration::from_secs(5));
    seen.get()
}

/// Make main wait for a join that can never end; return how long the hub
/// took to say so (it panics with the deadlock message).
fn time_to_deadlock() -> Duration {
    let t = Instant::now();
    let slot: Rc<RefCell<Option<Rc<Task<()>>>>> = Rc::new(RefCell::new(None));
    let s = slot.clone();
    let a = Rc::new(hub::spawn(move || {
        let b = s.borrow().clone().expect("b set");
        b.join(None);
    }));
    let a2 = a.clone();
    let b = Rc::new(hub::spawn(move || {
        a2.join(None);
    }));
    *slot.borrow_mut() = Some(b.clone());
    let r = panic::catch_unwind(AssertUnwindSafe(|| a.join(None)));
    let err = r.expect_err("main's join must panic");
    assert!(
        panic_text(&*err).contains("deadlock"),
        "message: {}",
        panic_text(&*err)
    );
    // Break the cycle so the test ends cleanly.
    a.kill();
    b.kill();
    slot.borrow_mut().take();
    t.elapsed()
}

// ---------------------------------------------------------------------------
// Spawning.

#[test]
fn spawned_tasks_start_in_spawn_order_only_when_the_spawner_blocks() {
    let l = log();
    let tasks: Vec<Task<()>> = (0..5)
        .map(|i| {
            let l = l.clone();
            hub::spawn(move || push(&l, format!("t{i}")))
        })
        .collect();
    push(&l, "spawned");
    assert_eq!(*l.borrow(), ["spawned"], "nothing runs before main blocks");
    assert!(tasks.iter().all(|t| !t.is_ready()));
    hub::sleep(ZERO);
    assert_eq!(*l.borrow(), ["spawned", "t0", "t1", "t2", "t3", "t4"]);
    assert!(tasks.iter().all(Task::is_ready));
}

#[test]
fn sleep_zero_yields_to_every_ready_greenlet_round_robin() {
    let l = log();
    let mk = |name: &'static str| {
        let l = l.clone();
        hub::spawn(move || {
            for i in 0..3 {
                push(&l, format!("{name}{i}"));
                hub::sleep(ZERO);
            }
        })
    };
    let a = mk("a");
    let b = mk("b");
    assert_eq!(hub::join_all(&[a, b], None), 2);
    assert_eq!(*l.borrow(), ["a0", "b0", "a1", "b1", "a2", "b2"]);
}

#[test]
fn sleep_zero_alone_returns_at_once() {
    let t = Instant::now();
    for _ in 0..1000 {
        hub::sleep(ZERO);
    }
    assert!(t.elapsed() < Duration::from_secs(5));
}

#[test]
fn get_returns_the_value_and_join_reports_completion() {
    let t = hub::spawn(|| 6 * 7);
    assert!(!t.is_ready());
    assert!(t.join(None));
    assert!(t.is_ready());
    assert_eq!(t.get().expect("no panic"), 42);
    let slow = hub::spawn(|| hub::sleep(ms(200)));
    let t0 = Instant::now();
    assert!(!slow.join(Some(ms(20))), "not finished after 20 ms");
    assert!(t0.elapsed() >= ms(20), "a join timeout never ends early");
    assert!(slow.join(None));
}

#[test]
fn spawn_from_a_task_and_detached_tasks_keep_running() {
    let l = log();
    let l2 = l.clone();
    let outer = hub::spawn(move || {
        let l3 = l2.clone();
        drop(hub::spawn(move || {
            hub::sleep(ms(5));
            push(&l3, "detached ran");
        }));
        push(&l2, "outer done");
    });
    outer.get().unwrap();
    hub::sleep(ms(30));
    assert_eq!(*l.borrow(), ["outer done", "detached ran"]);
}

#[test]
fn spawn_with_names_the_task_and_a_stack_that_cannot_be_mapped_is_an_error() {
    let t = hub::spawn_with(Greenlet::builder().name("worker"), || {
        Greenlet::current().name().map(str::to_owned)
    });
    assert_eq!(t.get().unwrap().as_deref(), Some("worker"));
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    let e = hub::try_spawn_with(Greenlet::builder().stack_size(usize::MAX / 2), move || {
        r.set(true)
    })
    .expect_err("no such stack");
    assert!(!e.to_string().is_empty());
    hub::sleep(ZERO);
    assert!(!ran.get(), "nothing was spawned");
}

#[test]
fn a_panicking_task_does_not_stop_the_hub_and_get_returns_its_panic() {
    let bad = hub::spawn(|| -> i32 {
        hub::sleep(ms(1));
        panic!("task failed on purpose")
    });
    let good = hub::spawn(|| {
        hub::sleep(ms(5));
        "still running"
    });
    let err = bad.get().expect_err("it panicked");
    assert_eq!(panic_text(&*err), "task failed on purpose");
    assert_eq!(good.get().unwrap(), "still running");
}

#[test]
fn a_task_cannot_join_itself() {
    let me: Rc<RefCell<Option<Rc<Task<()>>>>> = Rc::new(RefCell::new(None));
    let m = me.clone();
    let t = Rc::new(hub::spawn(move || {
        let t = m.borrow().clone().unwrap();
        t.join(None);
    }));
    *me.borrow_mut() = Some(t.clone());
    t.join(None);
    me.borrow_mut().take();
    let t = Rc::try_unwrap(t).expect("only handle");
    let err = t.get().expect_err("join of itself panics");
    assert!(panic_text(&*err).contains("cannot join itself"));
}

// ---------------------------------------------------------------------------
// Sleeping.

#[test]
fn sleep_never_wakes_early() {
    for d in [1, 2, 5, 13] {
        let t = Instant::now();
        hub::sleep(ms(d));
        assert!(
            t.elapsed() >= ms(d),
            "sleep({d} ms) woke after {:?}",
            t.elapsed()
        );
    }
}

#[test]
fn ten_thousand_sleepers_wake_in_deadline_order() {
    let n = 10_000;
    // Deadlines are offsets from a base that main sets once every task is
    // spawned (tasks start only when main blocks). A task that starts after
    // its deadline has passed (slow emulators, Valgrind) wakes at once, and
    // may do so before sleepers with earlier deadlines have even gone to
    // sleep, so the order is checked among the tasks that went to sleep in
    // time: of two such sleepers, the later deadline cannot fire first,
    // since the earlier one was asleep by then and due too.
    let base: Rc<Cell<Option<Instant>>> = Rc::new(Cell::new(None));
    let woke: Rc<RefCell<Vec<(Duration, usize, bool)>>> =
        Rc::new(RefCell::new(Vec::with_capacity(n)));
    let early = Rc::new(Cell::new(0u32));
    let spawning = Instant::now();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let tasks: Vec<Task<()>> = (0..n)
        .map(|i| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let offset = Duration::from_micros(seed % 50_001);
            let (base, woke, early) = (base.clone(), woke.clone(), early.clone());
            // 64 KiB stacks: 10,000 default (1 MiB) ones would not fit a
            // 32-bit address space.
            hub::spawn_with(Greenlet::builder().stack_size(64 << 10), move || {
                let deadline = base.get().expect("base set before tasks start") + offset;
                let in_time = Instant::now() < deadline;
                hub::sleep_until(deadline);
                if Instant::now() < deadline {
                    early.set(early.get() + 1);
                }
                woke.borrow_mut().push((offset, i, in_time));
            })
        })
        .collect();
    // Starting the tasks costs about what spawning them did (slow under
    // Valgrind, ASan or qemu): leave that much, twice, before the first
    // deadline.
    let margin = ms(200) + 2 * spawning.elapsed();
    base.set(Some(Instant::now() + margin));
    assert_eq!(hub::join_all(&tasks, None), n);
    assert_eq!(early.get(), 0, "no sleeper wakes before its deadline");
    let woke = woke.borrow();
    assert_eq!(woke.len(), n);
    let in_time: Vec<(Duration, usize)> = woke
        .iter()
        .filter(|w| w.2)
        .map(|&(d, i, _)| (d, i))
        .collect();
    assert!(
        in_time.len() >= n / 10,
        "only {} of {n} tasks went to sleep before their deadline: nothing to check",
        in_time.len()
    );
    if in_time.len() < n {
        eprintln!(
            "note: {} of {n} tasks went to sleep in time (margin {margin:?})",
            in_time.len()
        );
    }
    let mut sorted = in_time.clone();
    sorted.sort(); // by deadline, then spawn order (each slept in spawn order)
    if let Some(k) = (0..sorted.len()).find(|&k| in_time[k] != sorted[k]) {
        panic!(
            "wake order is not deadline order: wake #{k} was {:?}, deadline order has {:?} \
             (deadline after base, spawn index)",
            in_time[k], sorted[k]
        );
    }
}

#[test]
fn sleepers_with_plain_sleep_wake_in_duration_order() {
    let l = log();
    let tasks: Vec<Task<()>> = [30u64, 10, 20]
        .into_iter()
        .map(|d| {
            let l = l.clone();
            hub::spawn(move || {
                hub::sleep(ms(d));
                push(&l, d.to_string());
            })
        })
        .collect();
    hub::join_all(&tasks, None);
    assert_eq!(*l.borrow(), ["10", "20", "30"]);
}

// ---------------------------------------------------------------------------
// Joining.

#[test]
fn join_all_counts_finished_tasks_and_honours_its_timeout() {
    let quick = hub::spawn(|| hub::sleep(ms(5)));
    let done = hub::spawn(|| ());
    let slow = hub::spawn(|| hub::sleep(Duration::from_secs(3600)));
    let t = Instant::now();
    let tasks = [quick, done, slow];
    assert_eq!(hub::join_all(&tasks, Some(ms(50))), 2);
    let waited = t.elapsed();
    assert!(waited >= ms(50), "returned early: {waited:?}");
    assert!(waited < Duration::from_secs(30), "took {waited:?}");
    tasks[2].kill();
    assert_eq!(hub::join_all(&tasks, Some(ZERO)), 3);
    assert_eq!(hub::join_all::<()>(&[], None), 0);
}

// ---------------------------------------------------------------------------
// Killing.

#[test]
fn kill_of_a_sleeping_task_runs_its_destructors_and_removes_its_timer() {
    let drops = Rc::new(Cell::new(0));
    let d = drops.clone();
    let after = Rc::new(Cell::new(false));
    let a = after.clone();
    let t = hub::spawn(move || {
        let _guard = Counted(d);
        hub::sleep(Duration::from_secs(3600));
        a.set(true);
    });
    hub::sleep(ZERO); // let it start and go to sleep
    assert_eq!(drops.get(), 0);
    t.kill();
    assert!(t.is_ready());
    assert_eq!(drops.get(), 1, "its destructor ran exactly once");
    assert!(!after.get());
    let err = t.get().expect_err("killed");
    assert!(err.is::<GreenletExit>());
    // Its one-hour timer is gone: the hub sees a deadlock at once.
    assert!(time_to_deadlock() < Duration::from_secs(5));
}

#[test]
fn kill_of_an_unstarted_task_never_runs_it() {
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    let t = hub::spawn(move || r.set(true));
    t.kill();
    hub::sleep(ZERO);
    assert!(!ran.get());
    assert!(t.get().expect_err("killed").is::<GreenletExit>());
}

#[test]
fn kill_of_a_finished_task_keeps_its_result() {
    let t = hub::spawn(|| 5);
    t.join(None);
    t.kill();
    assert_eq!(t.get().unwrap(), 5);
}

#[test]
fn kill_of_a_task_blocked_in_accept() {
    let listener = hub::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let drops = Rc::new(Cell::new(0));
    let d = drops.clone();
    let t = hub::spawn(move || {
        let _guard = Counted(d);
        let r = listener.accept();
        panic!("accept returned: {:?}", r.map(|(_, a)| a));
    });
    hub::sleep(ms(10));
    assert!(!t.is_ready());
    t.kill();
    assert_eq!(drops.get(), 1);
    assert!(t.get().expect_err("killed").is::<GreenletExit>());
    // The listener died with the task: nothing accepts any more.
    let r = hub::net::TcpStream::connect(addr);
    assert_eq!(
        r.map(|_| ()).unwrap_err().kind(),
        std::io::ErrorKind::ConnectionRefused
    );
    assert!(time_to_deadlock() < Duration::from_secs(5));
}

// ---------------------------------------------------------------------------
// Deadlock.

#[test]
fn deadlock_panics_in_main_with_a_message() {
    assert!(time_to_deadlock() < Duration::from_secs(5));
}

#[test]
fn deadlock_when_main_does_not_wait_panics_in_the_last_waiter() {
    // Main switches into a plain greenlet that joins a task; the task waits
    // for a second one, which waits for the first: main itself never waits.
    let slot: Rc<RefCell<Option<Rc<Task<()>>>>> = Rc::new(RefCell::new(None));
    let s = slot.clone();
    let first = Rc::new(hub::spawn(move || {
        let second = s.borrow().clone().unwrap();
        second.join(None);
    }));
    let f = first.clone();
    let second = Rc::new(hub::spawn(move || {
        f.join(None);
    }));
    *slot.borrow_mut() = Some(second.clone());
    let f = first.clone();
    let g = Greenlet::new(move |()| f.join(None));
    let finished: bool = g.switch(());
    assert!(finished, "the join ends once the deadlock has been broken");
    slot.borrow_mut().take();
    let second = Rc::try_unwrap(second).expect("one handle");
    let err = second.get().expect_err("the last waiter panicked");
    assert!(
        panic_text(&*err).contains("deadlock"),
        "{}",
        panic_text(&*err)
    );
}

// ---------------------------------------------------------------------------
// IO waits.

#[test]
fn wait_readable_wakes_when_data_arrives() {
    let (r, w) = pipe();
    let writer = hub::spawn(move || {
        hub::sleep(ms(10));
        write_byte(&w);
        w
    });
    let t = Instant::now();
    hub::wait_readable(&r, Some(Duration::from_secs(30))).expect("readable");
    assert!(t.elapsed() >= ms(10));
    drop(writer.get().unwrap());
}

#[test]
fn wait_writable_on_a_pipe_with_room_returns_at_once() {
    let (_r, w) = pipe();
    hub::wait_writable(&w, Some(Duration::from_secs(30))).expect("writable");
}

#[test]
fn a_timed_out_wait_returns_timed_out_and_leaves_nothing_registered() {
    let (r, _w) = pipe();
    let t = Instant::now();
    let e = hub::wait_readable(&r, Some(ms(20))).expect_err("times out");
    assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
    assert!(t.elapsed() >= ms(20));
    assert!(
        !epoll_registered().contains(&raw(&r)),
        "fd still registered"
    );
    assert!(time_to_deadlock() < Duration::from_secs(5));
    if !epoll_visible() {
        eprintln!(
            "note: /proc/self/fdinfo shows no epoll registrations here; only the deadlock check counted"
        );
    }
}

#[test]
fn two_greenlets_wait_on_one_descriptor() {
    let (r, w) = pipe();
    let fd = raw(&r);
    let r = Rc::new(r);
    let wait = |r: Rc<End>| {
        hub::spawn(move || hub::wait_readable(&*r, Some(Duration::from_secs(30))).is_ok())
    };
    let (a, b) = (wait(r.clone()), wait(r.clone()));
    hub::sleep(ms(5));
    write_byte(&w);
    assert!(a.get().unwrap());
    assert!(b.get().unwrap());
    assert!(!epoll_registered().contains(&fd));
}

#[test]
fn a_wait_after_the_data_was_consumed_waits_instead_of_returning_at_once() {
    // Two greenlets wait on one pipe; one byte arrives once. Both may wake
    // for it, one reads it; after that every wait must time out: a wait
    // that trusted the earlier event would return at once, again and again.
    let (r, w) = pipe();
    let r = Rc::new(r);
    let wakes = Rc::new(Cell::new(0u32));
    let timeouts = Rc::new(Cell::new(0u32));
    let waiter = || {
        let (wakes, timeouts, r) = (wakes.clone(), timeouts.clone(), r.clone());
        hub::spawn(move || {
            for _ in 0..5 {
                match hub::wait_readable(&*r, Some(ms(15))) {
                    Ok(()) => {
                        wakes.set(wakes.get() + 1);
                        read_byte(&r);
                    }
                    Err(e) => {
                        assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
                        timeouts.set(timeouts.get() + 1);
                    }
                }
            }
        })
    };
    let tasks = [waiter(), waiter()];
    hub::sleep(ms(5));
    write_byte(&w);
    assert_eq!(hub::join_all(&tasks, None), 2);
    assert!(wakes.get() <= 2, "{} wakes for one byte", wakes.get());
    assert_eq!(wakes.get() + timeouts.get(), 10);
    drop(r);
}

#[test]
// Unix: descriptor numbers and regular files (Windows' waits take sockets
// only, by type).
#[cfg(unix)]
fn bad_descriptors_are_errors_not_panics() {
    // A number that is no descriptor (far above any this process opens),
    // as a buggy C caller might hand over: the poller's EBADF comes back.
    // SAFETY: this breaks borrow_raw's contract (the number must be an
    // open descriptor) on purpose, for the error path; the wait only
    // hands the number to epoll_ctl, which refuses it without touching
    // anything.
    let bad = unsafe { BorrowedFd::borrow_raw(RawFd::MAX) };
    let e = hub::wait_readable(bad, Some(ms(10))).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EBADF), "{e}");
    let f = std::fs::File::open("/proc/self/exe").unwrap();
    hub::wait_readable(&f, None).expect("a regular file is always ready");
}

// ---------------------------------------------------------------------------
// with_timeout.

#[test]
fn with_timeout_returns_elapsed_when_time_runs_out() {
    let drops = Rc::new(Cell::new(0));
    let d = drops.clone();
    let t = Instant::now();
    let r = hub::with_timeout(ms(20), move || {
        let _g = Counted(d);
        hub::sleep(Duration::from_secs(3600));
        "slept"
    });
    assert_eq!(r, Err(Elapsed));
    assert!(t.elapsed() >= ms(20));
    assert_eq!(drops.get(), 1, "the interrupted code's destructors ran");
    assert_eq!(hub::with_timeout(Duration::from_secs(3600), || 7), Ok(7));
    // Neither the hour-long sleep nor the hour-long timeout stays armed.
    assert!(time_to_deadlock() < Duration::from_secs(5));
}

#[test]
fn nested_timeouts_each_catch_their_own() {
    let outer = hub::with_timeout(ms(20), || {
        hub::with_timeout(Duration::from_secs(3600), || {
            hub::sleep(Duration::from_secs(3600))
        })
    });
    assert_eq!(outer, Err(Elapsed), "the outer one expired first");
    let inner = hub::with_timeout(Duration::from_secs(3600), || {
        hub::with_timeout(ms(10), || hub::sleep(Duration::from_secs(3600)))
    });
    assert_eq!(inner, Ok(Err(Elapsed)), "the inner one expired first");
    assert!(time_to_deadlock() < Duration::from_secs(5));
}

#[test]
fn with_timeout_in_tasks_is_per_greenlet() {
    let a = hub::spawn(|| hub::with_timeout(ms(10), || hub::sleep(ms(500))));
    let b = hub::spawn(|| hub::with_timeout(ms(500), || hub::sleep(ms(10))));
    assert_eq!(a.get().unwrap(), Err(Elapsed));
    assert_eq!(b.get().unwrap(), Ok(()));
}

#[test]
fn thousands_of_timeouts_expiring_together_each_interrupt_their_own_task() {
    let n = 2000;
    let drops = Rc::new(Cell::new(0));
    let tasks: Vec<Task<Result<(), Elapsed>>> = (0..n)
        .map(|_| {
            let d = drops.clone();
            hub::spawn_with(Greenlet::builder().stack_size(64 << 10), move || {
                hub::with_timeout(ms(10), || {
                    let _g = Counted(d);
                    hub::sleep(Duration::from_secs(3600));
                })
            })
        })
        .collect();
    assert_eq!(hub::join_all(&tasks, None), n);
    for t in tasks {
        assert_eq!(t.get().unwrap(), Err(Elapsed));
    }
    assert_eq!(drops.get(), n as u32);
    assert!(
        time_to_deadlock() < Duration::from_secs(5),
        "nothing left armed"
    );
}

#[test]
fn a_timeout_that_expires_while_its_greenlet_is_ready_interrupts_the_next_wait() {
    let first = Rc::new(Cell::new(false));
    let second = Rc::new(Cell::new(false));
    let (f, s) = (first.clone(), second.clone());
    let r = hub::with_timeout(ms(1), move || {
        let until = Instant::now() + ms(5);
        while Instant::now() < until {} // compute past the deadline
        hub::sleep(ZERO); // queued as ready when the timeout expires
        f.set(true);
        hub::sleep(ZERO); // interrupted here
        s.set(true);
    });
    assert_eq!(r, Err(Elapsed));
    assert!(first.get(), "the wait it was ready from ends normally");
    assert!(!second.get(), "the next wait is interrupted");
}

#[test]
fn other_panics_pass_through_with_timeout() {
    let r = panic::catch_unwind(|| hub::with_timeout(ms(100), || panic!("mine")));
    assert_eq!(panic_text(&*r.unwrap_err()), "mine");
}

// ---------------------------------------------------------------------------
// Thread exit.

#[test]
fn thread_exit_kills_waiting_tasks_and_runs_their_destructors() {
    let t = Instant::now();
    let drops = std::thread::spawn(|| {
        let counter = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
        struct Shared(std::sync::Arc<std::sync::atomic::AtomicU32>);
        impl Drop for Shared {
            fn drop(&mut self) {
                self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        }
        let listener = hub::net::TcpListener::bind("127.0.0.1:0").unwrap();
        for i in 0..10 {
            let c = counter.clone();
            drop(hub::spawn(move || {
                let _s = Shared(c);
                hub::sleep(Duration::from_secs(3600 + i));
            }));
        }
        let c = counter.clone();
        drop(hub::spawn(move || {
            let _s = Shared(c);
            let _ = listener.accept();
        }));
        hub::sleep(ms(5));
        let s = Shared(counter.clone());
        drop(hub::spawn(move || {
            let _s = s; // never started: main does not block again
        }));
        counter
    })
    .join()
    .expect("thread");
    // Ten sleepers and the acceptor unwound; the unstarted task's closure
    // was dropped unrun.
    assert_eq!(drops.load(std::sync::atomic::Ordering::SeqCst), 12);
    assert!(t.elapsed() < Duration::from_secs(60));
}
