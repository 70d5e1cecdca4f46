//! Running the crate's examples from integration tests.

use std::path::PathBuf;
use std::process::Command;

/// The example binary built next to this test binary (a plain `cargo test`
/// builds the examples first; with `--test NAME`, run `cargo build
/// --examples` before).
pub fn example(name: &str) -> Command {
    let exe = std::env::current_exe().expect("current_exe");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    let path: PathBuf = dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "example {name} not built at {} (`cargo test` builds the examples; \
         with `--test NAME` run `cargo build --examples` first)",
        path.display()
    );
    Command::new(path)
}
