use greenlet::hub;
use std::time::{Duration, Instant};
fn run(tasks: usize, yields: usize) -> Duration {
    let t = Instant::now();
    let ts: Vec<_> = (0..tasks)
        .map(|_| {
            hub::spawn(move || {
                for _ in 0..yields {
                    hub::sleep(Duration::ZERO)
                }
            })
        })
        .collect();
    hub::join_all(&ts, None);
    t.elapsed()
}
fn main() {
    let n: usize = std::env::args().nth(1).unwrap().parse().unwrap();
    for _ in 0..3 {
        let d = run(n, 0);
        println!(
            "{n}: {:?} = {:.0} ns/task",
            d,
            d.as_nanos() as f64 / n as f64
        );
    }
}
