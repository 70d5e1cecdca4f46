//! The public value types of the greenlet layer that are not greenlets:
//! [`GreenletExit`], [`SwitchError`], [`ParentError`], the trace [`Event`],
//! and the text of a panic payload for messages.

use std::any::Any;
use std::fmt;

/// The panic payload that [`Greenlet::kill`](crate::Greenlet::kill) and
/// dropping a suspended greenlet raise inside it. A greenlet that dies from
/// it delivers it to its parent as a *value*, not as a panic.
///
/// # Examples
///
/// ```
/// use greenlet::{Greenlet, GreenletExit};
///
/// let g = Greenlet::new(|()| {
///     let () = Greenlet::main().switch(());
/// });
/// let () = g.switch(());
/// // It unwinds g, which dies of it; main receives it as a value, not a panic.
/// let back: GreenletExit = g.throw(GreenletExit);
/// assert_eq!(back, GreenletExit);
/// assert!(g.is_dead());
/// // Thrown at a dead greenlet, it comes straight back (as in Python).
/// assert_eq!(g.throw::<_, GreenletExit>(GreenletExit), GreenletExit);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct GreenletExit;

impl fmt::Display for GreenletExit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("GreenletExit")
    }
}

/// A value arrived whose type is not the one the receiver asked for.
///
/// # Examples
///
/// ```
/// use greenlet::{Greenlet, SwitchError};
///
/// let g = Greenlet::new(|()| 1u8); // returns a u8
/// let err = g.try_switch::<(), i64>(()).unwrap_err(); // the u8 is dropped
/// assert_eq!(err, SwitchError::TypeMismatch { expected: "i64", found: "u8" });
/// assert!(err.to_string().contains("expected a value of type `i64`"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SwitchError {
    /// `expected` is the receiver's type, `found` the sender's; both are
    /// `std::any::type_name`s.
    TypeMismatch {
        /// The type the receiving `switch` asked for.
        expected: &'static str,
        /// The type of the value that was sent.
        found: &'static str,
    },
}

impl fmt::Display for SwitchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SwitchError::TypeMismatch { expected, found } => write!(
                f,
                "greenlet: switch expected a value of type `{expected}` but was sent a `{found}` \
                 (the value was dropped)"
            ),
        }
    }
}

impl std::error::Error for SwitchError {}

/// Why [`Greenlet::set_parent`](crate::Greenlet::set_parent) refused.
///
/// # Examples
///
/// ```
/// use greenlet::{Greenlet, ParentError};
///
/// let g = Greenlet::new(|()| ());
/// assert_eq!(g.set_parent(&g), Err(ParentError::Cycle));
/// let err = Greenlet::main().set_parent(&g).unwrap_err();
/// assert_eq!(err, ParentError::MainGreenlet);
/// assert_eq!(err.to_string(), "greenlet: the main greenlet cannot have a parent");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParentError {
    /// The new parent is the greenlet itself or one of its descendants.
    Cycle,
    /// The main greenlet has no parent and cannot be given one.
    MainGreenlet,
}

impl fmt::Display for ParentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ParentError::Cycle => "greenlet: set_parent would make a cycle of parents",
            ParentError::MainGreenlet => "greenlet: the main greenlet cannot have a parent",
        })
    }
}

impl std::error::Error for ParentError {}

/// What a trace callback is told about a switch.
///
/// # Examples
///
/// ```
/// use greenlet::{Event, Greenlet};
/// use std::cell::RefCell;
/// use std::rc::Rc;
///
/// let seen = Rc::new(RefCell::new(Vec::new()));
/// let log = Rc::clone(&seen);
/// let old = greenlet::settrace(Some(Box::new(move |e, _, _| log.borrow_mut().push(e))));
/// let g = Greenlet::new(|()| {
///     let () = Greenlet::main().switch(());
/// });
/// let () = g.switch(()); // main -> g, g -> main
/// g.kill(); // main -> g carrying GreenletExit, g (dead of it) -> main
/// greenlet::settrace(old);
/// assert_eq!(*seen.borrow(), [Event::Switch, Event::Switch, Event::Throw, Event::Switch]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Event {
    /// An ordinary switch (including a greenlet's death with a value, and a
    /// death by `GreenletExit`).
    Switch,
    /// A switch that carries a panic: `throw`, `kill`, or death by a panic.
    Throw,
}

/// The text of a panic payload, for messages: a `panic!` message,
/// `GreenletExit`, or "a non-string payload".
pub(crate) fn payload_text(p: &(dyn Any + Send)) -> &str {
    if let Some(s) = p.downcast_ref::<&str>() {
        s
    } else if let Some(s) = p.downcast_ref::<String>() {
        s
    } else if p.is::<GreenletExit>() {
        "GreenletExit"
    } else {
        "a non-string payload"
    }
}
