//! Link the freestanding binary at a fixed address (no PIE): nothing in it
//! would apply load-time relocations, and the GOT entries of its calls into
//! the assembly must then be filled in at link time.
fn main() {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("none") {
        println!("cargo::rustc-link-arg-bins=-no-pie");
    }
}
