//! A broadcast chat server on one thread's hub: every line a client sends
//! goes to every other client, prefixed with the sender's number.
//!
//! Each client has a `hub::sync::Queue<Rc<str>>` of lines to send it and a
//! writer task that drains that queue into its socket; its reader task puts
//! each line it receives into the queues of all the others (one `Rc<str>`
//! shared by them all). So a client that does not read only stalls its own
//! writer: the server's queue for it grows, and the others go on.
//!
//! Usage: `chat_server [--addr HOST:PORT] [--clients N] [--millis N] [--sndbuf BYTES]`
//!
//! * `--addr`: where to listen (default `127.0.0.1:0`, a free port); the
//!   first line printed is `chat server on ADDRESS`.
//! * `--clients N`: exit once N clients have come and gone.
//! * `--millis N`: exit after N ms at the latest.
//! * `--sndbuf BYTES`: the kernel send buffer of each client's socket
//!   (`SO_SNDBUF`), small in tests so that a client that does not read
//!   blocks its writer sooner.
//!
//! A client first receives `welcome, you are client K`, then `J: LINE` for
//! each LINE sent by client J. The server prints who joins and leaves, how
//! many lines were still queued for a client when it left, and a summary.
//!
//! Try it with a few `nc 127.0.0.1 PORT` in other terminals.

use greenlet::hub::{
    self,
    net::{TcpListener, TcpStream},
    sync::{Event, Queue},
};
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::rc::Rc;
use std::time::Duration;

/// What the server shares between its tasks.
#[derive(Default)]
struct Room {
    /// Each connected client's outgoing queue, by number.
    clients: RefCell<BTreeMap<u64, Queue<Rc<str>>>>,
    /// Clients that have left.
    left: Cell<u64>,
    /// Lines received (each relayed to every other client).
    lines: Cell<u64>,
    /// The longest any client's queue has been, and whose it was.
    backlog: Cell<(usize, u64)>,
    /// Set when `--clients` clients have left.
    done: Event,
}

struct Options {
    addr: String,
    clients: Option<u64>,
    millis: Option<u64>,
    sndbuf: Option<usize>,
}

fn options() -> Options {
    let mut o = Options {
        addr: "127.0.0.1:0".to_string(),
        clients: None,
        millis: None,
        sndbuf: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let Some(v) = args.next() else {
            usage(&format!("{a} needs a value"))
        };
        let num = |v: &str| -> u64 {
            v.parse()
                .unwrap_or_else(|_| usage(&format!("{a} needs a number")))
        };
        match a.as_str() {
            "--addr" => o.addr = v,
            "--clients" => o.clients = Some(num(&v)),
            "--millis" => o.millis = Some(num(&v)),
            "--sndbuf" => o.sndbuf = Some(num(&v) as usize),
            _ => usage(&format!("unknown argument {a:?}")),
        }
    }
    o
}

fn usage(why: &str) -> ! {
    eprintln!("chat_server: {why}");
    eprintln!("usage: chat_server [--addr HOST:PORT] [--clients N] [--millis N] [--sndbuf BYTES]");
    std::process::exit(2);
}

fn main() {
    let o = options();
    let listener = TcpListener::bind(&o.addr).expect("bind");
    println!("chat server on {}", listener.local_addr().expect("address"));
    let room = Rc::new(Room::default());
    let expected = o.clients;
    let sndbuf = o.sndbuf;
    {
        let room = Rc::clone(&room);
        // Detached: it runs until main returns (the thread's exit kills it).
        drop(hub::spawn(move || {
            let mut next = 1;
            loop {
                let (stream, peer) = match listener.accept() {
                    Ok(c) => c,
                    Err(e) => {
                        eprintln!("chat_server: accept: {e}");
                        continue;
                    }
                };
                if let Some(bytes) = sndbuf {
                    set_sndbuf(&stream, bytes);
                }
                let id = next;
                next += 1;
                println!("client {id} joined from {peer}");
                join(&room, id, stream, expected);
            }
        }));
    }
    let finished = room.done.wait(o.millis.map(Duration::from_millis));
    let (backlog, whose) = room.backlog.get();
    let longest = if backlog == 0 {
        "no line ever waited in a queue".to_string()
    } else {
        format!("the longest queue was {backlog} lines (client {whose})")
    };
    println!(
        "{}: {} clients left, {} lines relayed; {longest}",
        if finished { "done" } else { "time is up" },
        room.left.get(),
        room.lines.get(),
    );
}

/// Start the writer and the reader of client `id`.
fn join(room: &Rc<Room>, id: u64, stream: TcpStream, expected: Option<u64>) {
    let stream = Rc::new(stream);
    let queue: Queue<Rc<str>> = Queue::new();
    queue
        .put(format!("welcome, you are client {id}\n").into())
        .expect("new queue");
    room.clients.borrow_mut().insert(id, queue.clone());

    // The writer: drains the queue into the socket. Blocking in write_all
    // stalls only this task.
    {
        let (stream, queue) = (Rc::clone(&stream), queue.clone());
        drop(hub::spawn(move || {
            for line in queue.iter() {
                if (&*stream).write_all(line.as_bytes()).is_err() {
                    break; // the client is gone; its reader will notice
                }
            }
            queue.close();
        }));
    }

    // The reader: every line to every other client.
    let room = Rc::clone(room);
    drop(hub::spawn(move || {
        let mut reader = BufReader::new(&*stream);
        let mut line = String::new();
        let mut sent = 0u64;
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            if !line.ends_with('\n') {
                line.push('\n');
            }
            sent += 1;
            room.lines.set(room.lines.get() + 1);
            let text: Rc<str> = format!("{id}: {line}").into();
            // Not borrowed across the puts: a put may let other tasks run.
            let others: Vec<(u64, Queue<Rc<str>>)> = room
                .clients
                .borrow()
                .iter()
                .filter(|&(&other, _)| other != id)
                .map(|(&other, q)| (other, q.clone()))
                .collect();
            for (other, q) in others {
                if q.put(Rc::clone(&text)).is_ok() {
                    let len = q.len();
                    if len > room.backlog.get().0 {
                        room.backlog.set((len, other));
                    }
                }
            }
        }
        let queue = room.clients.borrow_mut().remove(&id);
        let unsent = queue.as_ref().map_or(0, Queue::len);
        if let Some(q) = queue {
            q.close(); // the writer drains what is left, then ends
        }
        let left = room.left.get() + 1;
        room.left.set(left);
        println!("client {id} left: it sent {sent} lines; {unsent} lines were still queued for it");
        if expected == Some(left) {
            room.done.set();
        }
    }));
}

/// `SO_SNDBUF` of `stream` (best effort: a failure only makes a test slower).
#[cfg(unix)]
fn set_sndbuf(stream: &TcpStream, bytes: usize) {
    use std::os::fd::AsRawFd;
    let v = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    // SAFETY: the descriptor is the stream's open socket; setsockopt reads
    // one c_int from a local.
    let rc = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_SNDBUF,
            (&raw const v).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        eprintln!(
            "chat_server: SO_SNDBUF: {}",
            std::io::Error::last_os_error()
        );
    }
}

/// `SO_SNDBUF` of `stream` (best effort: a failure only makes a test slower).
#[cfg(windows)]
fn set_sndbuf(stream: &TcpStream, bytes: usize) {
    use std::os::windows::io::AsRawSocket;
    // Winsock's values (winsock2.h).
    const SOL_SOCKET: i32 = 0xffff;
    const SO_SNDBUF: i32 = 0x1001;
    #[link(name = "ws2_32")]
    unsafe extern "system" {
        fn setsockopt(s: usize, level: i32, name: i32, val: *const u8, len: i32) -> i32;
    }
    let v = i32::try_from(bytes).unwrap_or(i32::MAX);
    // SAFETY: the handle is the stream's open socket; setsockopt reads one
    // i32 from a local.
    let rc = unsafe {
        setsockopt(
            stream.as_raw_socket() as usize,
            SOL_SOCKET,
            SO_SNDBUF,
            (&raw const v).cast(),
            size_of::<i32>() as i32,
        )
    };
    if rc != 0 {
        eprintln!(
            "chat_server: SO_SNDBUF: {}",
            std::io::Error::last_os_error()
        );
    }
}
