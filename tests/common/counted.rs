//! A value that counts its drops, for checking that destructors run once.

use std::cell::Cell;
use std::rc::Rc;

/// Adds one to its counter when dropped.
#[derive(Debug)]
pub struct Counted(pub Rc<Cell<u32>>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}
