//! The text of a panic payload, for assertions and messages in tests.

use greenlet::GreenletExit;
use std::any::Any;

/// The message of a `panic!` payload, or a description of the payload.
pub fn panic_text(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_string()
    } else if payload.is::<GreenletExit>() {
        "<GreenletExit payload>".to_string()
    } else {
        "<non-string payload>".to_string()
    }
}
