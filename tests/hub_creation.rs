//! When the hub itself cannot be created, every `try_` path returns the
//! error instead of panicking (issue 16, item 6). The hub is created on
//! first use: here its poller cannot be made (no descriptor left under
//! `RLIMIT_NOFILE`), in a child process so that the limit touches no other
//! test.

#[path = "common/panic_text.rs"]
mod panic_text;

use greenlet::{Greenlet, hub};
use panic_text::panic_text;
#[cfg(unix)]
use std::process::Command;

#[cfg(unix)]
const CHILD_ENV: &str = "GREENLET_HUB_CREATION_CHILD";

// Unix: a process-wide descriptor limit makes the poller fail; Windows
// has no such limit to lower.
#[cfg(unix)]
fn child() {
    // No new descriptor can be opened from here on.
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the struct, which lives across the call.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    assert_eq!(rc, 0, "getrlimit: {}", std::io::Error::last_os_error());
    lim.rlim_cur = 0;
    // SAFETY: setrlimit reads the struct, which lives across the call.
    let rc = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) };
    assert_eq!(rc, 0, "setrlimit: {}", std::io::Error::last_os_error());
    let r = std::panic::catch_unwind(|| hub::try_spawn_with(Greenlet::builder(), || 1));
    match r {
        Ok(Err(e)) => println!("try_spawn_with returned Err: {e}"),
        Ok(Ok(_)) => println!("try_spawn_with spawned a task without a poller"),
        Err(_) => println!("try_spawn_with panicked"),
    }
    // `spawn` panics, with the same message.
    let r = std::panic::catch_unwind(|| hub::spawn(|| 1));
    match r {
        Err(p) => println!("spawn panicked: {}", panic_text(&*p)),
        Ok(_) => println!("spawn returned"),
    }
}

#[test]
#[cfg(unix)]
fn child_entry() {
    if std::env::var(CHILD_ENV).is_ok() {
        child();
    }
}

#[test]
#[cfg(unix)] // see child()
fn try_spawn_with_returns_the_error_when_the_hub_cannot_be_created() {
    let out = Command::new(std::env::current_exe().expect("the test binary"))
        .args(["--exact", "child_entry", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, "1")
        .output()
        .expect("spawn the child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout
            .contains("try_spawn_with returned Err: greenlet::hub: cannot create the hub's poller"),
        "the error, not a panic:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("spawn panicked: greenlet::hub: cannot create the hub's poller"),
        "{stdout}"
    );
}

/// A kill aimed at the hub's greenlet is refused with a clear panic in the
/// killer, and the hub goes on (issue 16, item 8).
#[test]
fn killing_the_hub_greenlet_is_refused_and_the_hub_goes_on() {
    std::thread::spawn(|| {
        let probe = hub::spawn(|| Greenlet::current().parent().expect("a task's parent"));
        let hub_greenlet = probe.get().expect("the probe returns");
        let sleeper = hub::spawn(|| {
            hub::sleep(std::time::Duration::from_millis(20));
            "slept"
        });
        for _ in 0..3 {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| hub_greenlet.kill()));
            let p = r.expect_err("the kill is refused with a panic");
            let text = panic_text(&*p);
            assert!(
                text.contains("the hub's greenlet cannot be killed"),
                "a clear message, got {text:?}"
            );
            assert!(!hub_greenlet.is_dead());
        }
        // From a task as well.
        let hg = hub_greenlet.clone();
        let killer = hub::spawn(move || {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| hg.kill())).is_err()
        });
        assert_eq!(killer.get().ok(), Some(true));
        // The hub still runs everything.
        assert_eq!(sleeper.get().ok(), Some("slept"));
        let t = hub::spawn(|| 5);
        assert_eq!(t.get().ok(), Some(5));
        assert_eq!(hub::parked_count(), 0);
    })
    .join()
    .expect("the scenario's thread");
}

/// A task resumed by a direct switch instead of the hub gets a message
/// that names no type internal to the crate.
#[test]
fn a_direct_switch_into_a_waiting_task_names_no_internal_type() {
    std::thread::spawn(|| {
        let slot: std::rc::Rc<std::cell::RefCell<Option<Greenlet>>> = Default::default();
        let publish = std::rc::Rc::clone(&slot);
        let waiting = hub::spawn(move || {
            *publish.borrow_mut() = Some(Greenlet::current());
            let r = std::panic::catch_unwind(|| hub::sleep(std::time::Duration::from_secs(5)));
            panic_text(&*r.expect_err("resumed by a stranger"))
        });
        hub::sleep(std::time::Duration::ZERO);
        let g = slot.borrow_mut().take().expect("the task published itself");
        // Misuse: main switches straight into the task's wait with an i32.
        // Main is not waiting in the hub then, so what comes back to it is
        // the hub's "ran out of work" panic, or the task's end.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            g.switch::<i32, ()>(7);
        }));
        let text = waiting.get().expect("it returns the message");
        assert!(text.contains("greenlet::hub"), "{text}");
        assert!(text.contains("direct switch"), "{text}");
        assert!(
            !text.contains("scheduler"),
            "no internal type named: {text}"
        );
    })
    .join()
    .expect("the scenario's thread");
}
