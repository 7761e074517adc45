//! Threads: a cached rayon pool per thread count, so no call builds a pool.
//!
//! Work is always split into the same tasks whatever the thread count, and each
//! output element is computed by exactly one task in a fixed order, so results are
//! bitwise identical for every thread count.

use std::collections::HashMap;
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

/// Splits `0..items` into contiguous chunks (a few per thread, for balance) and runs
/// `f(chunk)` for each on `threads` threads. The chunking only groups independent
/// items, so it never changes what an item computes.
pub fn for_each_chunk(
    threads: usize,
    items: usize,
    f: impl Fn(std::ops::Range<usize>) + Sync + Send,
) {
    let chunks = if threads <= 1 {
        1
    } else {
        (threads * 4).min(items)
    };
    // Sizes differ by at most one item: with `per = ceil(items / chunks)` the last
    // chunk could be much shorter than the rest (66 panels in 8 chunks: 7 of 9 and
    // one of 3), and two threads could not split the work evenly.
    let chunks = chunks.max(1);
    let (per, extra) = (items / chunks, items % chunks);
    let start = move |c: usize| c * per + c.min(extra);
    for_each_task(threads, chunks, |c| f(start(c)..start(c + 1)));
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
