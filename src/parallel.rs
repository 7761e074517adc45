//! Threads: a cached rayon pool per thread count, so no call builds a pool.
//!
//! Work is always split into the same tasks whatever the thread count, and each
//! output element is computed by exactly one task in a fixed order, so results are
//! bitwise identical for every thread count.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use rayon::prelude::*;

/// The default thread count: the physical cores (`num_cpus`, read once: it parses
/// `/proc/cpuinfo`, which costs tens of microseconds).
pub fn default_threads() -> usize {
    static THREADS: OnceLock<usize> = OnceLock::new();
    *THREADS.get_or_init(|| num_cpus::get_physical().max(1))
}

fn pool(threads: usize) -> Option<Arc<rayon::ThreadPool>> {
    static POOLS: OnceLock<Mutex<HashMap<usize, Arc<rayon::ThreadPool>>>> = OnceLock::new();
    let pools = POOLS.get_or_init(|| Mutex::new(HashMap::new()));
    let mut pools = pools.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(p) = pools.get(&threads) {
        return Some(p.clone());
    }
    let p = Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(move |i| format!("xcorr-{threads}-{i}"))
            .build()
            .ok()?,
    );
    pools.insert(threads, p.clone());
    Some(p)
}

/// Runs `f(i)` for every `i < tasks` on `threads` threads (inline for one thread,
/// or if no pool can be built).
pub fn for_each_task(threads: usize, tasks: usize, f: impl Fn(usize) + Sync + Send) {
    if threads <= 1 || tasks <= 1 {
        (0..tasks).for_each(f);
        return;
    }
    match pool(threads) {
        Some(p) => p.install(|| (0..tasks).into_par_iter().with_max_len(1).for_each(f)),
        None => (0..tasks).for_each(f),
    }
}

/// Workers of [`for_each_claimed`] with shared counters (more split statically).
const MAX_CLAIM_WORKERS: usize = 256;

/// Runs `0..items` on `threads` workers that claim items one at a time:
/// `f(worker, claimed)` runs once per worker (`worker < threads`, distinct), where
/// `claimed` yields the items that worker takes, so per-worker state (a GEMM's
/// scratch, a workspace slot) is made once. Worker `w` starts on its own
/// contiguous share of the items (neighbouring items share input data, so each
/// core keeps its part in its own caches) and, when that is done, takes the
/// remaining items of the other shares from their ends: the load balances at the
/// grain of one item whatever the threads' speeds. Which worker computes an item
/// never changes what the item computes.
pub fn for_each_claimed(
    threads: usize,
    items: usize,
    f: impl Fn(usize, &mut dyn Iterator<Item = usize>) + Sync + Send,
) {
    let workers = threads.min(items);
    if workers <= 1 || workers > MAX_CLAIM_WORKERS || items > u32::MAX as usize {
        if workers <= 1 {
            f(0, &mut (0..items));
        } else {
            // Beyond the counters' range: contiguous shares, no stealing.
            for_each_task(threads, workers, |w| {
                f(w, &mut (w * items / workers..(w + 1) * items / workers))
            });
        }
        return;
    }
    let shares = Shares::new(workers, items);
    for_each_task(threads, workers, |w| f(w, &mut shares.claimed(w)));
}

/// [`for_each_claimed`] after `first(i)` has run for every `i < steps`, in one
/// parallel region (one wake-up of the threads instead of two): the threads
/// claim the steps one at a time, and no item starts on any thread until every
/// step is done. A thread that finds no step left waits only for steps that
/// other threads are computing, never for a thread that has not started, so
/// the region ends even where one thread does everything.
pub fn for_each_then_claimed(
    threads: usize,
    (steps, first): (usize, impl Fn(usize) + Sync + Send),
    items: usize,
    f: impl Fn(usize, &mut dyn Iterator<Item = usize>) + Sync + Send,
) {
    let workers = threads.min(items.max(1));
    if workers <= 1 || workers > MAX_CLAIM_WORKERS || items > u32::MAX as usize {
        for_each_task(threads, steps, first);
        for_each_claimed(threads, items, f);
        return;
    }
    let (next, done) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let shares = Shares::new(workers, items);
    for_each_task(threads, workers, |w| {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= steps {
                break;
            }
            // Counted when done, or when unwinding (so a panic reaches the
            // caller instead of leaving the other threads waiting).
            let _count = Done(&done);
            first(i);
        }
        while done.load(Ordering::Acquire) < steps {
            std::hint::spin_loop();
        }
        f(w, &mut shares.claimed(w))
    });
}

/// Counts one step of [`for_each_then_claimed`] as done when dropped; the
/// release makes the step's writes visible to whoever sees the count.
struct Done<'a>(&'a AtomicUsize);

impl Drop for Done<'_> {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::Release);
    }
}

/// The item shares of [`for_each_claimed`]: share `w` is `lo..hi`, packed as
/// `lo << 32 | hi` so both ends move atomically. On the stack: the hot path
/// allocates nothing.
struct Shares {
    shares: [AtomicU64; MAX_CLAIM_WORKERS],
    workers: usize,
}

impl Shares {
    /// `items` in `workers` contiguous shares (`workers <= MAX_CLAIM_WORKERS`,
    /// `items <= u32::MAX`).
    fn new(workers: usize, items: usize) -> Shares {
        let shares = std::array::from_fn(|w| {
            let (lo, hi) = if w < workers {
                (w * items / workers, (w + 1) * items / workers)
            } else {
                (0, 0)
            };
            AtomicU64::new(((lo as u64) << 32) | hi as u64)
        });
        Shares { shares, workers }
    }

    /// The next item of share `s`, from its front or its back.
    fn take(&self, s: usize, front: bool) -> Option<usize> {
        let share = &self.shares[s];
        let mut cur = share.load(Ordering::Relaxed);
        loop {
            let (lo, hi) = (cur >> 32, cur & 0xffff_ffff);
            if lo >= hi {
                return None;
            }
            let (next, item) = if front {
                (((lo + 1) << 32) | hi, lo)
            } else {
                ((lo << 32) | (hi - 1), hi - 1)
            };
            match share.compare_exchange_weak(cur, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return Some(item as usize),
                Err(now) => cur = now,
            }
        }
    }

    /// The items worker `w` takes: its own share from the front, then the
    /// others' from their backs.
    fn claimed(&self, w: usize) -> impl Iterator<Item = usize> + '_ {
        let mut victim = 0;
        std::iter::from_fn(move || {
            self.take(w, true).or_else(|| {
                while victim < self.workers {
                    if victim != w {
                        if let Some(i) = self.take(victim, false) {
                            return Some(i);
                        }
                    }
                    victim += 1;
                }
                None
            })
        })
    }
}

/// Runs `f(i, chunk)` for each `chunk_len`-element chunk of `data` on `threads`
/// threads (safe disjoint mutable access).
pub fn for_each_chunk_mut<T: Send>(
    threads: usize,
    data: &mut [T],
    chunk_len: usize,
    f: impl Fn(usize, &mut [T]) + Sync + Send,
) {
    let chunk_len = chunk_len.max(1);
    if threads <= 1 {
        data.chunks_mut(chunk_len)
            .enumerate()
            .for_each(|(i, c)| f(i, c));
        return;
    }
    match pool(threads) {
        Some(p) => p.install(|| {
            data.par_chunks_mut(chunk_len)
                .enumerate()
                .for_each(|(i, c)| f(i, c))
        }),
        None => data
            .chunks_mut(chunk_len)
            .enumerate()
            .for_each(|(i, c)| f(i, c)),
    }
}

/// [`for_each_chunk_mut`] over two buffers at once, in one parallel region (one
/// wake-up of the threads instead of two): `fa(i, chunk)` for the `a_len`-element
/// chunks of `a`, `fb(i, chunk)` for the `b_len`-element chunks of `b`.
pub fn for_each_chunk_mut2<A: Send, B: Send>(
    threads: usize,
    (a, a_len): (&mut [A], usize),
    (b, b_len): (&mut [B], usize),
    fa: impl Fn(usize, &mut [A]) + Sync + Send,
    fb: impl Fn(usize, &mut [B]) + Sync + Send,
) {
    let (a_len, b_len) = (a_len.max(1), b_len.max(1));
    let serial = |a: &mut [A], b: &mut [B]| {
        a.chunks_mut(a_len).enumerate().for_each(|(i, c)| fa(i, c));
        b.chunks_mut(b_len).enumerate().for_each(|(i, c)| fb(i, c));
    };
    match (threads > 1).then(|| pool(threads)).flatten() {
        Some(p) => p.install(|| {
            rayon::join(
                || {
                    a.par_chunks_mut(a_len)
                        .enumerate()
                        .for_each(|(i, c)| fa(i, c))
                },
                || {
                    b.par_chunks_mut(b_len)
                        .enumerate()
                        .for_each(|(i, c)| fb(i, c))
                },
            );
        }),
        None => serial(a, b),
    }
}

/// Splits `data` into `outer`-element chunks, each into `inner`-element chunks, and
/// runs `f(i, j, chunk)` for chunk `j` of outer chunk `i` on `threads` threads.
pub fn for_each_nested_chunk_mut<T: Send>(
    threads: usize,
    data: &mut [T],
    outer: usize,
    inner: usize,
    f: impl Fn(usize, usize, &mut [T]) + Sync + Send,
) {
    let (outer, inner) = (outer.max(1), inner.max(1));
    let serial = |data: &mut [T]| {
        for (i, o) in data.chunks_mut(outer).enumerate() {
            for (j, c) in o.chunks_mut(inner).enumerate() {
                f(i, j, c);
            }
        }
    };
    if threads <= 1 {
        serial(data);
        return;
    }
    match pool(threads) {
        Some(p) => p.install(|| {
            data.par_chunks_mut(outer).enumerate().for_each(|(i, o)| {
                o.par_chunks_mut(inner)
                    .enumerate()
                    .for_each(|(j, c)| f(i, j, c))
            })
        }),
        None => serial(data),
    }
}

/// Scratch slots handed out at most (a plan's workspace holds one per thread up to
/// this many; more threads wait for a free slot).
pub const MAX_SCRATCH_SLOTS: usize = 64;

/// [`for_each_nested_chunk_mut`] with a scratch slot per running call:
/// `f(i, j, chunk, slot)`, where `slot` is a `slot_len`-element piece of `scratch`
/// that no other running call holds. A thread keeps its slot for a whole rayon job
/// (many chunks), so slots are taken a few times per call, not per chunk. Slots
/// are as many as `scratch` holds (at most [`MAX_SCRATCH_SLOTS`]); with fewer than
/// threads, a thread waits for one (holders never wait on anything, so one is
/// always freed). What a chunk computes must not depend on its slot's previous
/// contents: they are whatever an earlier chunk left.
///
/// # Panics
/// If `scratch` holds no slot.
pub fn for_each_nested_chunk_mut_scratch<T: Send, S: Send>(
    threads: usize,
    data: &mut [T],
    (outer, inner): (usize, usize),
    scratch: &mut [S],
    slot_len: usize,
    f: impl Fn(usize, usize, &mut [T], &mut [S]) + Sync + Send,
) {
    let (outer, inner, slot_len) = (outer.max(1), inner.max(1), slot_len.max(1));
    assert!(scratch.len() >= slot_len, "no scratch slot");
    let pool = match (threads > 1).then(|| pool(threads)).flatten() {
        Some(p) => p,
        None => {
            let slot = &mut scratch[..slot_len];
            for (i, o) in data.chunks_mut(outer).enumerate() {
                for (j, c) in o.chunks_mut(inner).enumerate() {
                    f(i, j, c, slot);
                }
            }
            return;
        }
    };
    // Free slots; on the stack, so the hot path allocates nothing.
    let mut free: [Option<&mut [S]>; MAX_SCRATCH_SLOTS] = std::array::from_fn(|_| None);
    for (f, s) in free.iter_mut().zip(scratch.chunks_exact_mut(slot_len)) {
        *f = Some(s);
    }
    let free = Mutex::new(free);
    /// A slot taken from `free`, put back when dropped.
    struct Held<'a, 's, S> {
        slot: Option<&'s mut [S]>,
        free: &'a Mutex<[Option<&'s mut [S]>; MAX_SCRATCH_SLOTS]>,
    }
    impl<S> Drop for Held<'_, '_, S> {
        fn drop(&mut self) {
            let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(f) = free.iter_mut().find(|f| f.is_none()) {
                *f = self.slot.take();
            }
        }
    }
    let take = || loop {
        let mut slots = free.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = slots.iter_mut().find_map(|f| f.take()) {
            return Held {
                slot: Some(s),
                free: &free,
            };
        }
        drop(slots);
        std::thread::yield_now();
    };
    pool.install(|| {
        data.par_chunks_mut(outer).enumerate().for_each(|(i, o)| {
            o.par_chunks_mut(inner)
                .enumerate()
                .for_each_init(take, |held, (j, c)| {
                    // Some from `take` until `held` is dropped.
                    let slot = held.slot.as_deref_mut().expect("a held slot");
                    f(i, j, c, slot)
                })
        })
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every item is claimed exactly once, whatever the worker and item counts.
    #[test]
    fn claimed_items_are_each_taken_once() {
        for (threads, items) in [(1, 5), (2, 0), (2, 1), (2, 7), (3, 1000), (4, 3), (5, 64)] {
            let seen = Mutex::new(vec![0u32; items]);
            for_each_claimed(threads, items, |_, claimed| {
                for i in claimed {
                    // Uneven work, so that workers finish early and steal.
                    if i % 7 == 0 {
                        std::thread::sleep(std::time::Duration::from_micros(50));
                    }
                    seen.lock().unwrap()[i] += 1;
                }
            });
            let seen = seen.into_inner().unwrap();
            assert!(seen.iter().all(|&c| c == 1), "{threads} {items}: {seen:?}");
        }
    }

    /// Every step runs once, every item once, and no item before the last step
    /// is done, whatever the thread, step and item counts.
    #[test]
    fn steps_all_finish_before_any_item() {
        for (threads, steps, items) in [(1, 3, 5), (2, 0, 4), (2, 5, 0), (2, 7, 1), (3, 40, 9)] {
            let done = AtomicUsize::new(0);
            let (ran, seen) = (Mutex::new(vec![0u32; steps]), Mutex::new(vec![0u32; items]));
            let step = |i: usize| {
                // Uneven steps, so that one thread waits for another's.
                if i.is_multiple_of(3) {
                    std::thread::sleep(std::time::Duration::from_micros(200));
                }
                ran.lock().unwrap()[i] += 1;
                done.fetch_add(1, Ordering::Relaxed);
            };
            for_each_then_claimed(threads, (steps, step), items, |_, claimed| {
                for i in claimed {
                    assert_eq!(
                        done.load(Ordering::Relaxed),
                        steps,
                        "item {i} before a step"
                    );
                    seen.lock().unwrap()[i] += 1;
                }
            });
            let (ran, seen) = (ran.into_inner().unwrap(), seen.into_inner().unwrap());
            assert!(ran.iter().all(|&c| c == 1), "{threads} {steps}: {ran:?}");
            assert!(seen.iter().all(|&c| c == 1), "{threads} {items}: {seen:?}");
        }
    }
}
