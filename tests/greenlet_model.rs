//! Randomised model test for `Greenlet` (shared/API.md §1).
//!
//! Random sequences of create / switch / throw / kill / drop-handle /
//! set_parent over up to 16 greenlets are run for real and, side by side,
//! on a plain Rust model of what API.md says must happen. After every
//! operation the value (or panic) that reached main, and every greenlet's
//! state and parent, are compared with the model; destructors are counted
//! throughout, and at the end every greenlet's destructors must have run
//! exactly once (no leak, no double drop).
//!
//! All operations are issued from main. A greenlet's body is a small
//! interpreter: every value it receives is a `Msg`; a `Msg::Cmd` is
//! executed (yield a value to main, return, panic, or switch to another
//! greenlet carrying a further command), anything else (a child's result
//! arriving through the parent chain) is forwarded to main wrapped in
//! `Msg::Forwarded`. Half of the greenlets catch panics at their pending
//! switch: a `Boom` is reported to main as `Msg::Caught` and the greenlet
//! goes on; a `GreenletExit` makes it return `Msg::ExitCaught` (so `kill`
//! still finds it dead).
//!
//! The sequence count defaults to 1000 x 200 operations; set
//! `GREENLET_MODEL_ITERS` (number of sequences) and `GREENLET_MODEL_OPS`
//! (operations per sequence) to run longer, and `GREENLET_MODEL_SEED` to
//! start from another seed. A failure prints the seed and the operations
//! that led to it.

use std::any::Any;
use std::cell::RefCell;
use std::fmt;
use std::panic::{self, AssertUnwindSafe, catch_unwind, panic_any, resume_unwind};
use std::rc::Rc;
use std::sync::Once;

use greenlet::{Greenlet, GreenletExit, ParentError};

// ---------------------------------------------------------------------------
// Random numbers: xorshift64*, seeded.
// ---------------------------------------------------------------------------

struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        // Mix the seed so that small seeds give unrelated streams.
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Rng((z ^ (z >> 31)) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (n > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

// ---------------------------------------------------------------------------
// Messages, real and model
// ---------------------------------------------------------------------------

/// Greenlet ids: 0 is main, 1.. are the greenlets of one sequence in order
/// of creation (never reused).
type Id = usize;
const MAIN: Id = 0;

/// A command, generic over the handle carried by `SwitchTo`: `Greenlet` in
/// the real run, `()` in the model.
#[derive(Clone, PartialEq, Debug)]
enum Cmd<H> {
    /// Switch to main with `Msg::Yielded`.
    Yield(u32),
    /// Return `Msg::Returned` from the body.
    Return(u32),
    /// `panic_any(Boom(n))` from the body itself.
    Panic(u32),
    /// Switch to the greenlet `Id` (handle `H`) sending it the command.
    SwitchTo(Id, H, Box<Cmd<H>>),
}

#[derive(Clone, PartialEq, Debug)]
enum Msg<H> {
    Cmd(Cmd<H>),
    Yielded { id: Id, v: u32 },
    Returned { id: Id, v: u32 },
    Forwarded { by: Id, inner: Box<Msg<H>> },
    Caught { by: Id, boom: u32 },
    ExitCaught { id: Id },
}

type RealMsg = Msg<Greenlet>;
type ModelMsg = Msg<()>;

fn strip_cmd(c: Cmd<Greenlet>) -> Cmd<()> {
    match c {
        Cmd::Yield(v) => Cmd::Yield(v),
        Cmd::Return(v) => Cmd::Return(v),
        Cmd::Panic(v) => Cmd::Panic(v),
        Cmd::SwitchTo(id, _, inner) => Cmd::SwitchTo(id, (), Box::new(strip_cmd(*inner))),
    }
}

fn strip(m: RealMsg) -> ModelMsg {
    match m {
        Msg::Cmd(c) => Msg::Cmd(strip_cmd(c)),
        Msg::Yielded { id, v } => Msg::Yielded { id, v },
        Msg::Returned { id, v } => Msg::Returned { id, v },
        Msg::Forwarded { by, inner } => Msg::Forwarded {
            by,
            inner: Box::new(strip(*inner)),
        },
        Msg::Caught { by, boom } => Msg::Caught { by, boom },
        Msg::ExitCaught { id } => Msg::ExitCaught { id },
    }
}

/// The panic payload of `Cmd::Panic` and `throw`.
#[derive(Debug, PartialEq)]
struct Boom(u32);

// ---------------------------------------------------------------------------
// Destructor accounting
// ---------------------------------------------------------------------------

/// Per greenlet id: [captured made, captured dropped, frame made, frame
/// dropped]. The captured token lives in the closure (dropped when the
/// body ends, or when the closure is freed unstarted); the frame token is
/// made on the greenlet's own stack when the body starts.
#[derive(Default)]
struct Counts(RefCell<Vec<[u32; 4]>>);

impl Counts {
    fn bump(&self, id: Id, which: usize) {
        let mut v = self.0.borrow_mut();
        if v.len() <= id {
            v.resize(id + 1, [0; 4]);
        }
        v[id][which] += 1;
    }

    fn get(&self, id: Id) -> [u32; 4] {
        self.0.borrow().get(id).copied().unwrap_or([0; 4])
    }
}

const CAP_MADE: usize = 0;
const CAP_DROPPED: usize = 1;
const FRAME_MADE: usize = 2;
const FRAME_DROPPED: usize = 3;

struct Token {
    counts: Rc<Counts>,
    id: Id,
    dropped_slot: usize,
}

impl Token {
    fn new(counts: &Rc<Counts>, id: Id, made_slot: usize) -> Token {
        counts.bump(id, made_slot);
        Token {
            counts: counts.clone(),
            id,
            dropped_slot: made_slot + 1,
        }
    }
}

impl Drop for Token {
    fn drop(&mut self) {
        self.counts.bump(self.id, self.dropped_slot);
    }
}

// ---------------------------------------------------------------------------
// The greenlet body
// ---------------------------------------------------------------------------

/// What a body does next with a message it received.
enum Step {
    Switch(Greenlet, RealMsg),
    Return(RealMsg),
    Panic(u32),
}

fn plan(me: Id, main: &Greenlet, m: RealMsg) -> Step {
    match m {
        Msg::Cmd(Cmd::Yield(v)) => Step::Switch(main.clone(), Msg::Yielded { id: me, v }),
        Msg::Cmd(Cmd::Return(v)) => Step::Return(Msg::Returned { id: me, v }),
        Msg::Cmd(Cmd::Panic(n)) => Step::Panic(n),
        Msg::Cmd(Cmd::SwitchTo(_, target, inner)) => Step::Switch(target, Msg::Cmd(*inner)),
        other => Step::Switch(
            main.clone(),
            Msg::Forwarded {
                by: me,
                inner: Box::new(other),
            },
        ),
    }
}

fn body(me: Id, catches: bool, counts: &Rc<Counts>) -> impl FnOnce(RealMsg) -> RealMsg + 'static {
    let captured = Token::new(counts, me, CAP_MADE);
    let counts = counts.clone();
    move |first: RealMsg| {
        let _captured = captured;
        let _frame = Token::new(&counts, me, FRAME_MADE);
        let main = Greenlet::main();
        let mut step = plan(me, &main, first);
        loop {
            let (target, value) = match step {
                Step::Switch(target, value) => (target, value),
                Step::Return(value) => return value,
                Step::Panic(n) => panic_any(Boom(n)),
            };
            let received = if catches {
                catch_unwind(AssertUnwindSafe(move || {
                    target.switch::<RealMsg, RealMsg>(value)
                }))
            } else {
                Ok(target.switch::<RealMsg, RealMsg>(value))
            };
            step = match received {
                Ok(m) => plan(me, &main, m),
                Err(payload) => match payload.downcast::<Boom>() {
                    Ok(boom) => Step::Switch(
                        main.clone(),
                        Msg::Caught {
                            by: me,
                            boom: boom.0,
                        },
                    ),
                    Err(payload) if payload.is::<GreenletExit>() => {
                        Step::Return(Msg::ExitCaught { id: me })
                    }
                    Err(payload) => resume_unwind(payload),
                },
            };
        }
    }
}

// ---------------------------------------------------------------------------
// The model
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Debug)]
enum Status {
    Unstarted,
    Suspended,
    Dead,
}

#[derive(Clone, Debug)]
struct Node {
    status: Status,
    /// The body ran (so its frame token exists).
    ran: bool,
    parent: Id,
    catches: bool,
    /// The handle its stack holds while suspended in `SwitchTo`'s switch.
    holds: Option<Id>,
    /// Main still has a handle (the greenlet exists).
    present: bool,
}

/// What travels to a greenlet.
#[derive(Clone, Debug)]
enum Delivery {
    Value(ModelMsg),
    /// A `Boom` panic.
    Panic(u32),
    /// `GreenletExit` thrown (by kill or drop).
    ExitPanic,
    /// `GreenletExit` as a value (a greenlet died of it).
    ExitValue,
}

/// What reaches main at the end of an operation.
#[derive(Clone, PartialEq, Debug)]
enum Outcome {
    Value(ModelMsg),
    Panic(u32),
    ExitValue,
}

/// Names of the model's interesting transitions, counted in
/// `Model::stats` so that the test can show it exercises each of them.
const STAT_NAMES: [&str; 10] = [
    "value skips a dead greenlet",
    "value starts an unstarted greenlet",
    "child's value starts an unstarted parent",
    "panic kills an unstarted greenlet",
    "panic unwinds a suspended greenlet",
    "panic caught at a pending switch",
    "GreenletExit caught",
    "switch to the current greenlet",
    "greenlet switches to another",
    "child's result forwarded",
];

#[derive(Default)]
struct Model {
    /// Index = id; index 0 (main) is a placeholder.
    nodes: Vec<Node>,
    stats: [usize; STAT_NAMES.len()],
}

impl Model {
    fn node(&mut self, id: Id) -> &mut Node {
        assert_ne!(id, MAIN);
        &mut self.nodes[id]
    }

    /// The chain of ancestors of `id` (not including `id`), ending at main.
    fn ancestors(&self, id: Id) -> Vec<Id> {
        let mut chain = Vec::new();
        let mut cur = id;
        while cur != MAIN {
            cur = self.nodes[cur].parent;
            chain.push(cur);
        }
        chain
    }

    fn present(&self) -> impl Iterator<Item = Id> + '_ {
        (1..self.nodes.len()).filter(|&i| self.nodes[i].present)
    }

    /// Main may drop its handle to `id` and expect it freed right away:
    /// no other greenlet refers to it as parent or holds it on its stack.
    fn droppable(&self, id: Id) -> bool {
        self.present()
            .all(|j| self.nodes[j].parent != id && self.nodes[j].holds != Some(id))
    }

    /// Runs a delivery from `from` (the current greenlet) to `to` until
    /// control is back in main; returns what main receives.
    fn run(&mut self, from: Id, to: Id, d: Delivery) -> Outcome {
        let mut cur = from;
        let mut to = to;
        let mut d = d;
        loop {
            if to == MAIN || to == cur {
                // Back in main, or a switch to the current greenlet, which
                // returns immediately.
                if to == MAIN {
                    return match d {
                        Delivery::Value(m) => Outcome::Value(m),
                        Delivery::Panic(n) => Outcome::Panic(n),
                        // GreenletExit thrown at a dead greenlet (kill of a
                        // dead one) comes back as a value.
                        Delivery::ExitPanic | Delivery::ExitValue => Outcome::ExitValue,
                    };
                }
                let Delivery::Value(m) = d else {
                    unreachable!("only values are switched to oneself");
                };
                self.stats[7] += 1;
                self.node(cur).holds = None;
                (to, d) = self.exec(cur, m);
                continue;
            }
            let n = self.nodes[to].clone();
            match (n.status, d) {
                (Status::Dead, dd) => {
                    // Nearest live ancestor.
                    self.stats[0] += 1;
                    d = dd;
                    to = n.parent;
                }
                (Status::Unstarted, Delivery::Value(m)) => {
                    self.stats[1] += 1;
                    if matches!(m, Msg::Returned { .. }) {
                        self.stats[2] += 1;
                    }
                    let node = self.node(to);
                    node.status = Status::Suspended;
                    node.ran = true;
                    cur = to;
                    (to, d) = self.exec(cur, m);
                }
                (Status::Unstarted, Delivery::Panic(b)) => {
                    self.stats[3] += 1;
                    self.node(to).status = Status::Dead;
                    d = Delivery::Panic(b);
                    cur = to;
                    to = n.parent;
                }
                (Status::Unstarted, Delivery::ExitPanic) => {
                    self.node(to).status = Status::Dead;
                    d = Delivery::ExitValue;
                    cur = to;
                    to = n.parent;
                }
                (Status::Suspended, dd) => {
                    cur = to;
                    self.node(cur).holds = None;
                    match dd {
                        Delivery::Value(m) => (to, d) = self.exec(cur, m),
                        Delivery::Panic(b) if n.catches => {
                            self.stats[5] += 1;
                            to = MAIN;
                            d = Delivery::Value(Msg::Caught { by: cur, boom: b });
                        }
                        Delivery::Panic(b) => {
                            self.stats[4] += 1;
                            self.node(cur).status = Status::Dead;
                            to = n.parent;
                            d = Delivery::Panic(b);
                        }
                        Delivery::ExitPanic if n.catches => {
                            self.stats[6] += 1;
                            self.node(cur).status = Status::Dead;
                            to = n.parent;
                            d = Delivery::Value(Msg::ExitCaught { id: cur });
                        }
                        Delivery::ExitPanic => {
                            self.node(cur).status = Status::Dead;
                            to = n.parent;
                            d = Delivery::ExitValue;
                        }
                        Delivery::ExitValue => {
                            unreachable!("the model never sends GreenletExit to a greenlet body")
                        }
                    }
                }
                (Status::Unstarted, Delivery::ExitValue) => {
                    unreachable!("the model never sends GreenletExit to a greenlet body")
                }
            }
        }
    }

    /// Greenlet `g` is running and has received `m`: where does control go?
    fn exec(&mut self, g: Id, m: ModelMsg) -> (Id, Delivery) {
        match m {
            Msg::Cmd(Cmd::Yield(v)) => (MAIN, Delivery::Value(Msg::Yielded { id: g, v })),
            Msg::Cmd(Cmd::Return(v)) => {
                self.node(g).status = Status::Dead;
                let p = self.nodes[g].parent;
                (p, Delivery::Value(Msg::Returned { id: g, v }))
            }
            Msg::Cmd(Cmd::Panic(n)) => {
                self.node(g).status = Status::Dead;
                let p = self.nodes[g].parent;
                (p, Delivery::Panic(n))
            }
            Msg::Cmd(Cmd::SwitchTo(k, (), inner)) => {
                self.stats[8] += 1;
                if k != g {
                    self.node(g).holds = Some(k);
                }
                (k, Delivery::Value(Msg::Cmd(*inner)))
            }
            other => {
                self.stats[9] += 1;
                (
                    MAIN,
                    Delivery::Value(Msg::Forwarded {
                        by: g,
                        inner: Box::new(other),
                    }),
                )
            }
        }
    }

    fn is_ancestor_or_self(&self, candidate: Id, of: Id) -> bool {
        candidate == of || self.ancestors(of).contains(&candidate)
    }
}

// ---------------------------------------------------------------------------
// One sequence
// ---------------------------------------------------------------------------

#[derive(Debug)]
enum Op {
    Create { parent: Id, catches: bool },
    Switch { to: Id, cmd: Cmd<()> },
    Throw { to: Id, boom: u32 },
    Kill { id: Id },
    DropHandle { id: Id },
    SetParent { id: Id, parent: Id },
    SetMainParent { parent: Id },
}

struct Run {
    seed: u64,
    model: Model,
    handles: Vec<Option<Greenlet>>,
    counts: Rc<Counts>,
    log: Vec<String>,
    next_boom: u32,
}

impl Run {
    fn fail(&self, what: fmt::Arguments<'_>) -> ! {
        let tail: Vec<&String> = self.log.iter().rev().take(40).rev().collect();
        let mut text = String::new();
        for line in tail {
            text.push_str("\n    ");
            text.push_str(line);
        }
        panic!(
            "model mismatch, seed {} after {} ops: {what}\n  last operations:{text}",
            self.seed,
            self.log.len()
        );
    }

    fn handle(&self, id: Id) -> Greenlet {
        if id == MAIN {
            Greenlet::main()
        } else {
            self.handles[id]
                .clone()
                .expect("the model only names greenlets main still holds")
        }
    }

    fn real_cmd(&self, c: &Cmd<()>) -> Cmd<Greenlet> {
        match c {
            Cmd::Yield(v) => Cmd::Yield(*v),
            Cmd::Return(v) => Cmd::Return(*v),
            Cmd::Panic(v) => Cmd::Panic(*v),
            Cmd::SwitchTo(k, (), inner) => {
                Cmd::SwitchTo(*k, self.handle(*k), Box::new(self.real_cmd(inner)))
            }
        }
    }

    fn random_cmd(&mut self, rng: &mut Rng, depth: u32) -> Cmd<()> {
        let roll = rng.below(100);
        let present: Vec<Id> = self.model.present().collect();
        if roll < 35 || depth >= 3 || present.is_empty() {
            Cmd::Yield(rng.below(1000) as u32)
        } else if roll < 55 {
            Cmd::Return(rng.below(1000) as u32)
        } else if roll < 65 {
            self.next_boom += 1;
            Cmd::Panic(self.next_boom)
        } else {
            let k = rng.pick(&present);
            Cmd::SwitchTo(k, (), Box::new(self.random_cmd(rng, depth + 1)))
        }
    }

    fn random_op(&mut self, rng: &mut Rng) -> Op {
        let present: Vec<Id> = self.model.present().collect();
        let with_main: Vec<Id> = std::iter::once(MAIN)
            .chain(present.iter().copied())
            .collect();
        loop {
            let roll = rng.below(100);
            if roll < 18 || present.is_empty() {
                if present.len() < 16 {
                    return Op::Create {
                        parent: rng.pick(&with_main),
                        catches: rng.chance(50),
                    };
                }
            } else if roll < 50 {
                let to = rng.pick(&present);
                let cmd = self.random_cmd(rng, 0);
                return Op::Switch { to, cmd };
            } else if roll < 60 {
                self.next_boom += 1;
                return Op::Throw {
                    to: rng.pick(&present),
                    boom: self.next_boom,
                };
            } else if roll < 66 {
                return Op::Kill {
                    id: rng.pick(&present),
                };
            } else if roll < 80 {
                let mut candidates: Vec<Id> = present
                    .iter()
                    .copied()
                    .filter(|&i| self.model.droppable(i))
                    .collect();
                // Mostly recycle dead greenlets, so that enough stay alive.
                let dead: Vec<Id> = candidates
                    .iter()
                    .copied()
                    .filter(|&i| self.model.nodes[i].status == Status::Dead)
                    .collect();
                if !dead.is_empty() && rng.chance(75) {
                    candidates = dead;
                }
                if !candidates.is_empty() {
                    return Op::DropHandle {
                        id: rng.pick(&candidates),
                    };
                }
            } else if roll < 97 {
                return Op::SetParent {
                    id: rng.pick(&present),
                    parent: rng.pick(&with_main),
                };
            } else {
                return Op::SetMainParent {
                    parent: rng.pick(&with_main),
                };
            }
        }
    }

    /// Runs `f` (an operation of main that returns a `RealMsg`) and checks
    /// what reached main against `expected`.
    fn check_outcome(
        &self,
        got: Result<RealMsg, Box<dyn Any + Send>>,
        expected: &Outcome,
        what: &str,
    ) {
        match (got, expected) {
            (Ok(m), Outcome::Value(e)) => {
                let m = strip(m);
                if &m != e {
                    self.fail(format_args!(
                        "{what}: main received {m:?}, model says {e:?}"
                    ));
                }
            }
            (Err(p), Outcome::Panic(n)) => match p.downcast::<Boom>() {
                Ok(b) if b.0 == *n => {}
                Ok(b) => self.fail(format_args!(
                    "{what}: main got Boom({}), model says Boom({n})",
                    b.0
                )),
                Err(p) => self.fail(format_args!(
                    "{what}: main got panic {}, model says Boom({n})",
                    describe(&*p)
                )),
            },
            (Ok(m), e) => self.fail(format_args!(
                "{what}: main received {:?}, model says {e:?}",
                strip(m)
            )),
            (Err(p), e) => self.fail(format_args!(
                "{what}: main got panic {}, model says {e:?}",
                describe(&*p)
            )),
        }
    }

    fn apply(&mut self, op: &Op) {
        match *op {
            Op::Create { parent, catches } => {
                let id = self.model.nodes.len();
                let p = self.handle(parent);
                let g = Greenlet::builder()
                    .parent(&p)
                    .name(format!("g{id}"))
                    .create(body(id, catches, &self.counts));
                self.handles.push(Some(g));
                self.model.nodes.push(Node {
                    status: Status::Unstarted,
                    ran: false,
                    parent,
                    catches,
                    holds: None,
                    present: true,
                });
            }
            Op::Switch { to, ref cmd } => {
                let expected = self
                    .model
                    .run(MAIN, to, Delivery::Value(Msg::Cmd(cmd.clone())));
                let real = Msg::Cmd(self.real_cmd(cmd));
                let g = self.handle(to);
                let got = catch_unwind(AssertUnwindSafe(|| g.switch::<RealMsg, RealMsg>(real)));
                drop(g);
                self.check_outcome(got, &expected, "switch");
            }
            Op::Throw { to, boom } => {
                let expected = self.model.run(MAIN, to, Delivery::Panic(boom));
                let g = self.handle(to);
                let got = catch_unwind(AssertUnwindSafe(|| g.throw::<Boom, RealMsg>(Boom(boom))));
                drop(g);
                self.check_outcome(got, &expected, "throw");
            }
            Op::Kill { id } => {
                let old = self.model.nodes[id].parent;
                self.model.node(id).parent = MAIN;
                let _ = self.model.run(MAIN, id, Delivery::ExitPanic);
                self.model.node(id).parent = old;
                let g = self.handle(id);
                let got = catch_unwind(AssertUnwindSafe(|| g.kill()));
                drop(g);
                if let Err(p) = got {
                    self.fail(format_args!("kill panicked: {}", describe(&*p)));
                }
            }
            Op::DropHandle { id } => {
                if self.model.nodes[id].status == Status::Suspended {
                    // Killed from main, as by kill().
                    let old = self.model.nodes[id].parent;
                    self.model.node(id).parent = MAIN;
                    let _ = self.model.run(MAIN, id, Delivery::ExitPanic);
                    self.model.node(id).parent = old;
                }
                let g = self.handles[id].take().expect("present");
                let got = catch_unwind(AssertUnwindSafe(move || drop(g)));
                if let Err(p) = got {
                    self.fail(format_args!("drop panicked: {}", describe(&*p)));
                }
                let node = self.model.node(id);
                node.present = false;
                node.status = Status::Dead;
                let c = self.counts.get(id);
                let frame = u32::from(self.model.nodes[id].ran);
                if c != [1, 1, frame, frame] {
                    self.fail(format_args!(
                        "after dropping the last handle of g{id}: tokens \
                         [captured made, dropped, frame made, dropped] = {c:?}, \
                         expected [1, 1, {frame}, {frame}]"
                    ));
                }
            }
            Op::SetParent { id, parent } => {
                let cycle = self.model.is_ancestor_or_self(id, parent);
                let (g, p) = (self.handle(id), self.handle(parent));
                let got = g.set_parent(&p);
                match (got, cycle) {
                    (Ok(()), false) => self.model.node(id).parent = parent,
                    (Err(ParentError::Cycle), true) => {}
                    (Ok(()), true) => self.fail(format_args!(
                        "set_parent(g{id}, {parent}) made a cycle but returned Ok"
                    )),
                    (Err(e), _) => self.fail(format_args!(
                        "set_parent(g{id}, {parent}) returned Err({e:?}), cycle expected: {cycle}"
                    )),
                }
            }
            Op::SetMainParent { parent } => {
                let main = Greenlet::main();
                let p = self.handle(parent);
                if !matches!(main.set_parent(&p), Err(ParentError::MainGreenlet)) {
                    self.fail(format_args!("main.set_parent must fail with MainGreenlet"));
                }
            }
        }
    }

    /// Compares every present greenlet's state with the model.
    fn check_states(&self) {
        let main = Greenlet::main();
        if Greenlet::current() != main {
            self.fail(format_args!("main is not current after an operation"));
        }
        if main.parent().is_some() || !main.is_main() || main.is_dead() {
            self.fail(format_args!("main greenlet state is wrong: {main:?}"));
        }
        for id in self.model.present() {
            let n = &self.model.nodes[id];
            let g = self.handles[id].as_ref().expect("present");
            let (dead, active) = match n.status {
                Status::Unstarted => (false, false),
                Status::Suspended => (false, true),
                Status::Dead => (true, false),
            };
            let started_ok = match n.status {
                Status::Unstarted => !g.is_started(),
                Status::Suspended => g.is_started(),
                // A greenlet killed before it ran: either answer is fine.
                Status::Dead => !n.ran || g.is_started(),
            };
            if g.is_dead() != dead || g.is_active() != active || !started_ok || g.is_main() {
                self.fail(format_args!(
                    "g{id} is {g:?} (started {}, dead {}, active {}), model says {:?} (ran {})",
                    g.is_started(),
                    g.is_dead(),
                    g.is_active(),
                    n.status,
                    n.ran
                ));
            }
            let want_parent = self.handle(n.parent);
            if g.parent().as_ref() != Some(&want_parent) {
                self.fail(format_args!(
                    "g{id}'s parent is {:?}, model says {want_parent:?}",
                    g.parent()
                ));
            }
            let c = self.counts.get(id);
            let frame = u32::from(n.ran);
            let ok = match n.status {
                Status::Unstarted => c == [1, 0, 0, 0],
                Status::Suspended => c == [1, 0, 1, 0],
                Status::Dead if n.ran => c == [1, 1, 1, 1],
                // Never ran: its closure may be freed now or with the handle.
                Status::Dead => {
                    c[CAP_MADE] == 1
                        && c[CAP_DROPPED] <= 1
                        && c[FRAME_MADE] == 0
                        && c[FRAME_DROPPED] == 0
                }
            };
            if !ok {
                self.fail(format_args!(
                    "g{id} ({:?}, ran {}) has tokens {c:?} \
                     [captured made, dropped, frame made, dropped]; frame expected {frame}",
                    n.status, n.ran
                ));
            }
        }
    }

    /// Ends the sequence: drops every handle (killing what is suspended),
    /// then checks that every destructor ran exactly once.
    fn finish(&mut self) {
        loop {
            let present: Vec<Id> = self.model.present().collect();
            if present.is_empty() {
                break;
            }
            if let Some(&id) = present.iter().find(|&&i| self.model.droppable(i)) {
                let op = Op::DropHandle { id };
                self.log.push(format!("(end) {op:?}"));
                self.apply(&op);
            } else {
                // Only reference cycles (a parent suspended in a switch to
                // its child) are left: kill one of them.
                let id = *present
                    .iter()
                    .find(|&&i| self.model.nodes[i].status == Status::Suspended)
                    .expect("a cycle of references needs a suspended greenlet");
                let op = Op::Kill { id };
                self.log.push(format!("(end) {op:?}"));
                self.apply(&op);
            }
            self.check_states();
        }
        for id in 1..self.model.nodes.len() {
            let c = self.counts.get(id);
            let frame = u32::from(self.model.nodes[id].ran);
            if c != [1, 1, frame, frame] {
                self.fail(format_args!(
                    "at the end g{id} has tokens {c:?}, expected [1, 1, {frame}, {frame}]"
                ));
            }
        }
    }
}

fn describe(p: &(dyn Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<String>() {
        format!("{s:?}")
    } else if let Some(s) = p.downcast_ref::<&str>() {
        format!("{s:?}")
    } else if let Some(b) = p.downcast_ref::<Boom>() {
        format!("Boom({})", b.0)
    } else if p.is::<GreenletExit>() {
        "GreenletExit".to_string()
    } else {
        "<unknown payload>".to_string()
    }
}

struct Summary {
    greenlets: usize,
    kinds: [usize; 7],
    stats: [usize; STAT_NAMES.len()],
}

fn run_sequence(seed: u64, ops: usize) -> Summary {
    let mut rng = Rng::new(seed);
    let mut run = Run {
        seed,
        model: Model {
            stats: Default::default(),
            nodes: vec![Node {
                status: Status::Suspended,
                ran: true,
                parent: MAIN,
                catches: false,
                holds: None,
                present: false,
            }],
        },
        handles: vec![None],
        counts: Rc::new(Counts::default()),
        log: Vec::new(),
        next_boom: 0,
    };
    let mut kinds = [0usize; 7];
    for _ in 0..ops {
        let op = run.random_op(&mut rng);
        kinds[match op {
            Op::Create { .. } => 0,
            Op::Switch { .. } => 1,
            Op::Throw { .. } => 2,
            Op::Kill { .. } => 3,
            Op::DropHandle { .. } => 4,
            Op::SetParent { .. } => 5,
            Op::SetMainParent { .. } => 6,
        }] += 1;
        run.log.push(format!("{op:?}"));
        run.apply(&op);
        run.check_states();
    }
    run.finish();
    Summary {
        greenlets: run.model.nodes.len() - 1,
        kinds,
        stats: run.model.stats,
    }
}

fn env_number(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
        Err(_) => default,
    }
}

fn quiet_expected_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            let payload = info.payload();
            if payload.is::<Boom>() || payload.is::<GreenletExit>() {
                return;
            }
            previous(info);
        }));
    });
}

#[test]
fn model_random_sequences_match_the_model() {
    quiet_expected_panics();
    let sequences = env_number("GREENLET_MODEL_ITERS", 1000);
    let ops = env_number("GREENLET_MODEL_OPS", 200) as usize;
    let first = env_number("GREENLET_MODEL_SEED", 1);
    let mut greenlets = 0;
    let mut kinds = [0usize; 7];
    let mut stats = [0usize; STAT_NAMES.len()];
    for seed in first..first + sequences {
        let summary = run_sequence(seed, ops);
        greenlets += summary.greenlets;
        for (total, n) in kinds.iter_mut().zip(summary.kinds) {
            *total += n;
        }
        for (total, n) in stats.iter_mut().zip(summary.stats) {
            *total += n;
        }
    }
    eprintln!(
        "model: {sequences} sequences x {ops} ops from seed {first}: {greenlets} greenlets; \
         create {}, switch {}, throw {}, kill {}, drop {}, set_parent {}, main.set_parent {}",
        kinds[0], kinds[1], kinds[2], kinds[3], kinds[4], kinds[5], kinds[6]
    );
    for (name, n) in STAT_NAMES.iter().zip(stats) {
        eprintln!("model: {n:>8} x {name}");
    }
    // The generator must actually exercise every operation and every rule.
    assert!(kinds.iter().all(|&n| n > 0), "{kinds:?}");
    if sequences * ops as u64 >= 10_000 {
        for (name, n) in STAT_NAMES.iter().zip(stats) {
            assert!(n > 0, "the random sequences never hit: {name}");
        }
    }
}

/// The model itself, checked on hand-written cases, so that a model bug
/// cannot hide an implementation bug (or invent one).
#[test]
fn model_self_check_on_known_cases() {
    quiet_expected_panics();
    let mut m = Model {
        stats: Default::default(),
        nodes: vec![Node {
            status: Status::Suspended,
            ran: true,
            parent: MAIN,
            catches: false,
            holds: None,
            present: false,
        }],
    };
    let new = |parent, catches| Node {
        status: Status::Unstarted,
        ran: false,
        parent,
        catches,
        holds: None,
        present: true,
    };
    m.nodes.push(new(MAIN, false)); // 1
    m.nodes.push(new(1, true)); // 2, child of 1
    // Start 1 with a yield.
    assert_eq!(
        m.run(MAIN, 1, Delivery::Value(Msg::Cmd(Cmd::Yield(5)))),
        Outcome::Value(Msg::Yielded { id: 1, v: 5 })
    );
    // 2 returns: the value goes to 1 (suspended), which forwards it.
    assert_eq!(
        m.run(MAIN, 2, Delivery::Value(Msg::Cmd(Cmd::Return(7)))),
        Outcome::Value(Msg::Forwarded {
            by: 1,
            inner: Box::new(Msg::Returned { id: 2, v: 7 })
        })
    );
    assert_eq!(m.nodes[2].status, Status::Dead);
    // Switching to dead 2 goes to 1, which executes the command.
    assert_eq!(
        m.run(MAIN, 2, Delivery::Value(Msg::Cmd(Cmd::Panic(3)))),
        Outcome::Panic(3)
    );
    assert_eq!(m.nodes[1].status, Status::Dead);
    // Both dead: to main.
    assert_eq!(
        m.run(MAIN, 2, Delivery::Value(Msg::Cmd(Cmd::Yield(1)))),
        Outcome::Value(Msg::Cmd(Cmd::Yield(1)))
    );
    // A catching greenlet switched to another, which panics: caught.
    m.nodes.push(new(MAIN, true)); // 3
    m.nodes.push(new(3, false)); // 4, child of 3
    assert_eq!(
        m.run(
            MAIN,
            3,
            Delivery::Value(Msg::Cmd(Cmd::SwitchTo(4, (), Box::new(Cmd::Panic(9)))))
        ),
        Outcome::Value(Msg::Caught { by: 3, boom: 9 })
    );
    assert_eq!(m.nodes[4].status, Status::Dead);
    assert_eq!(m.nodes[3].status, Status::Suspended);
    // Kill of a catching greenlet: ExitCaught reaches its (temporary) parent.
    m.nodes[3].parent = MAIN;
    assert_eq!(
        m.run(MAIN, 3, Delivery::ExitPanic),
        Outcome::Value(Msg::ExitCaught { id: 3 })
    );
    // Throw into unstarted: it dies, the panic continues in its parent.
    m.nodes.push(new(MAIN, false)); // 5
    assert_eq!(m.run(MAIN, 5, Delivery::Panic(4)), Outcome::Panic(4));
    assert!(!m.nodes[5].ran);
    // Switch to self from inside: returns immediately.
    m.nodes.push(new(MAIN, false)); // 6
    assert_eq!(
        m.run(
            MAIN,
            6,
            Delivery::Value(Msg::Cmd(Cmd::SwitchTo(6, (), Box::new(Cmd::Return(2)))))
        ),
        Outcome::Value(Msg::Returned { id: 6, v: 2 })
    );
    assert!(m.nodes[6].holds.is_none());

    // And the real thing agrees on a fixed sequence using the same ops.
    let summary = run_sequence(0xDEAD_BEEF, 300);
    assert!(summary.greenlets > 0);
}
