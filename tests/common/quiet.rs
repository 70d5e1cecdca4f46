//! Keep a test binary's expected panics off stderr: the panic hook stays
//! silent for payloads `expected` accepts, and hands every other panic to
//! the hook that was there before. Installed once per binary.

use std::any::Any;
use std::panic;
use std::sync::Once;

pub fn quiet_panics(expected: fn(&(dyn Any + Send)) -> bool) {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !expected(info.payload()) {
                previous(info);
            }
        }));
    });
}
