//! How many processors this process may use, asked once, and work shared
//! with the spare ones in order ([`in_order`]): a scan shares its reads, its
//! verdicts and its JSON with another thread only when there is a processor
//! to spare.
//!
//! `std::thread::available_parallelism` reads the process's cgroup CPU
//! quota from `/proc` and `/sys` on every call (about 40 µs): one scan asks
//! four times.

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};
use std::thread;

/// How many processors this process may use (at least 1), as the standard
/// library counts them: the affinity mask, capped by a cgroup CPU quota.
pub fn processors() -> usize {
    static PROCESSORS: OnceLock<usize> = OnceLock::new();
    *PROCESSORS.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Whether another thread would get a processor of its own.
pub fn spare() -> bool {
    processors() > 1
}

/// The processor a thread is on when it starts helpers, which they keep
/// off ([`Elsewhere::go`]).
///
/// A new thread is queued on the processor of the thread that started it
/// until the scheduler balances the load, and a virtual machine may leave
/// its other processors asleep a while longer (the kernel of the machines
/// pidscope's benchmarks run on packs tasks onto fewer virtual processors):
/// a helper that keeps the processor its starter is on first waits for it,
/// then takes it from the scan's own thread. Measured there with a bare C
/// reader of 1,000 pidfiles, two threads took 10.1 ms (1 thread: 11.1), and
/// 8.3 ms with the helper kept off the reader's processor; in a scan the
/// units thread had waited 2.3 ms for the scanning thread's processor while
/// the other one idled. With the threads beside a scan and its reading
/// helpers kept off, `audit` of 1,000 pidfiles took 15.5 ms against 16.1
/// (10,000: 88.5 against 91.2); the verdicts' and the JSON's helpers, which
/// start once the scanning thread waits, are better left to the scheduler
/// (JSON 1.8 ms against 1.4 when kept off).
#[derive(Debug, Clone, Copy)]
pub struct Elsewhere(Option<usize>);

impl Elsewhere {
    /// Note the processor this thread is on (nothing to avoid when the
    /// process may use only one).
    pub fn here() -> Elsewhere {
        let cpu = spare().then(rustix::thread::sched_getcpu);
        Elsewhere(cpu)
    }

    /// Keep the calling thread, a helper, off the noted processor: on any
    /// other this process may use. Nothing changes when that cannot be done.
    pub fn go(self) {
        use rustix::thread::{sched_getaffinity, sched_setaffinity};
        let Some(cpu) = self.0 else { return };
        let Ok(mut allowed) = sched_getaffinity(None) else {
            return;
        };
        if !allowed.is_set(cpu) {
            return;
        }
        allowed.unset(cpu);
        if allowed.count() > 0 {
            let _ = sched_setaffinity(None, &allowed);
        }
    }
}

/// Do `work` on each of `items` on this thread and `helpers` more, each
/// thread taking the next item as soon as it is free (so one that the
/// system slows does not hold the others back), and hand the results to
/// `take`, on this thread, in the items' order. While `take` has one, at
/// most `ahead` items after it are claimed (at least one): the memory stays
/// bounded whatever the number of items. Each thread starts its work from its own `state()`.
///
/// A helper (a thread called `name`) that cannot be started leaves its
/// share to the others; a panic in `work` on a helper goes on on this thread.
/// With `away`, the helpers keep off the processor it names (see
/// [`Elsewhere`]): for work that starts while this thread's processor is
/// busy.
pub fn in_order<T, R, S>(
    (name, away): (&str, Option<Elsewhere>),
    items: Vec<T>,
    helpers: usize,
    ahead: usize,
    state: impl Fn() -> S + Sync,
    work: impl Fn(&mut S, T) -> R + Sync,
    mut take: impl FnMut(R),
) where
    T: Send,
    R: Send,
{
    if helpers == 0 || items.len() < 2 {
        let mut mine = state();
        for item in items {
            take(work(&mut mine, item));
        }
        return;
    }
    let n = items.len();
    let shared = Shared {
        queue: Mutex::new(Queue {
            todo: items.into_iter().map(Some).collect(),
            done: (0..n).map(|_| None).collect(),
            next: 0,
            taken: 0,
            stop: false,
        }),
        changed: Condvar::new(),
        ahead: ahead.max(1),
    };
    thread::scope(|threads| {
        for _ in 0..helpers {
            let spawned = thread::Builder::new()
                .name(name.into())
                .spawn_scoped(threads, || {
                    if let Some(away) = away {
                        away.go();
                    }
                    let mut mine = state();
                    while let Some((k, item)) = shared.claim(shared.wait_for_work()) {
                        let result = catch_unwind(AssertUnwindSafe(|| work(&mut mine, item)));
                        shared.finish(k, result);
                    }
                });
            if spawned.is_err() {
                break;
            }
        }
        // Whatever happens to this thread, the helpers stop waiting.
        let _stop = StopOnDrop(&shared);
        let mut mine = state();
        for k in 0..n {
            let result = loop {
                let mut queue = shared.lock();
                if let Some(result) = queue.done[k].take() {
                    queue.taken = k + 1;
                    shared.changed.notify_all();
                    break result;
                }
                match shared.claim(queue) {
                    Some((j, item)) => {
                        let result = catch_unwind(AssertUnwindSafe(|| work(&mut mine, item)));
                        shared.finish(j, result);
                    }
                    None => drop(shared.wait(shared.lock(), |q| q.done[k].is_none())),
                }
            };
            match result {
                Ok(result) => take(result),
                Err(panic) => resume_unwind(panic),
            }
        }
    });
}

/// The items of [`in_order`], their results, and how far each has got.
struct Queue<T, R> {
    todo: Vec<Option<T>>,
    done: Vec<Option<thread::Result<R>>>,
    /// The first item no thread has claimed.
    next: usize,
    /// How many results this thread has taken.
    taken: usize,
    /// This thread has stopped taking results: the helpers stop too.
    stop: bool,
}

struct Shared<T, R> {
    queue: Mutex<Queue<T, R>>,
    changed: Condvar,
    ahead: usize,
}

impl<T, R> Shared<T, R> {
    fn lock(&self) -> MutexGuard<'_, Queue<T, R>> {
        // A thread panics only in `work`, outside the lock: never poisoned
        // but for a bug, after which the queue is still consistent.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wait<'a>(
        &self,
        guard: MutexGuard<'a, Queue<T, R>>,
        until_not: impl FnMut(&mut Queue<T, R>) -> bool,
    ) -> MutexGuard<'a, Queue<T, R>> {
        self.changed
            .wait_while(guard, until_not)
            .unwrap_or_else(|e| e.into_inner())
    }

    /// A helper's lock once there is an item it may claim, or nothing left.
    fn wait_for_work(&self) -> MutexGuard<'_, Queue<T, R>> {
        self.wait(self.lock(), |q| {
            !q.stop && q.next < q.todo.len() && q.next >= q.taken + self.ahead
        })
    }

    /// Claim the next item, unless none is left, too many results wait, or
    /// this thread stopped.
    fn claim(&self, mut queue: MutexGuard<'_, Queue<T, R>>) -> Option<(usize, T)> {
        let k = queue.next;
        if queue.stop || k >= queue.todo.len() || k >= queue.taken + self.ahead {
            return None;
        }
        queue.next += 1;
        let item = queue.todo[k].take()?;
        Some((k, item))
    }

    fn finish(&self, k: usize, result: thread::Result<R>) {
        self.lock().done[k] = Some(result);
        self.changed.notify_all();
    }
}

/// Tells the helpers of [`in_order`] to stop when this thread leaves it,
/// done or unwinding.
struct StopOnDrop<'a, T, R>(&'a Shared<T, R>);

impl<T, R> Drop for StopOnDrop<'_, T, R> {
    fn drop(&mut self) {
        self.0.lock().stop = true;
        self.0.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_helper_keeps_off_the_processor_its_starter_is_on() {
        use rustix::thread::sched_getaffinity;
        let mine = sched_getaffinity(None).unwrap();
        let away = Elsewhere::here();
        let theirs = thread::spawn(move || {
            away.go();
            sched_getaffinity(None).unwrap()
        });
        let theirs = theirs.join().unwrap();
        match away.0 {
            Some(cpu) => {
                assert!(!theirs.is_set(cpu), "{cpu} kept off");
                assert_eq!(theirs.count(), mine.count() - 1, "every other kept");
            }
            None => assert!(!spare(), "one processor: nothing to keep off"),
        }
        assert_eq!(
            sched_getaffinity(None).unwrap(),
            mine,
            "the starter's unchanged"
        );
    }

    #[test]
    fn results_come_in_order_each_item_done_once() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        for helpers in [0, 1, 3] {
            for n in [0, 1, 2, 7, 100] {
                let calls = AtomicUsize::new(0);
                let mut got = Vec::new();
                in_order(
                    ("test", None),
                    (0..n).collect(),
                    helpers,
                    2,
                    || 0usize,
                    |done: &mut usize, k: usize| {
                        *done += 1;
                        calls.fetch_add(1, Ordering::Relaxed);
                        // Uneven work: later items are often done first.
                        std::thread::sleep(std::time::Duration::from_micros((k % 3) as u64 * 50));
                        k * 10
                    },
                    |r| got.push(r),
                );
                assert_eq!(
                    got,
                    (0..n).map(|k| k * 10).collect::<Vec<_>>(),
                    "{helpers} {n}"
                );
                assert_eq!(calls.load(Ordering::Relaxed), n);
            }
        }
    }

    #[test]
    fn at_most_ahead_results_wait() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let started = AtomicUsize::new(0);
        let mut most = 0;
        in_order(
            ("test", None),
            (0..50).collect(),
            3,
            4,
            || (),
            |_: &mut (), k: usize| {
                started.fetch_add(1, Ordering::SeqCst);
                k
            },
            |k| {
                // Items claimed after this one: at most `ahead` of them.
                most = most.max(started.load(Ordering::SeqCst) - (k + 1));
                std::thread::sleep(std::time::Duration::from_micros(200));
            },
        );
        assert!(most <= 4, "{most} results waited");
    }

    #[test]
    fn a_panic_in_the_work_goes_on_here() {
        let caught = std::panic::catch_unwind(|| {
            in_order(
                ("test", None),
                (0..20).collect(),
                2,
                2,
                || (),
                |_: &mut (), k: usize| {
                    assert_ne!(k, 13, "item 13");
                    k
                },
                |_| {},
            );
        });
        assert!(caught.is_err());
    }

    #[test]
    fn counts_what_the_standard_library_counts() {
        let std = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(processors(), std);
        assert_eq!(processors(), std, "the second call gives the same");
        assert_eq!(spare(), std > 1);
    }
}
