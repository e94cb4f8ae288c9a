//! The counting global allocator behind `used_memory` and `maxmemory`.
//!
//! [`CountingAlloc`] wraps the system allocator and keeps the number of bytes
//! live through Rust's allocator. Each thread adds its allocations and frees
//! to a thread-local balance and moves it into one global atomic only when it
//! passes [`FLUSH_BYTES`] either way, so threads do not fight over one cache
//! line on every allocation. The global figure therefore lags the truth by
//! less than `FLUSH_BYTES` per thread (a few KiB per tokio worker), which is
//! plenty for an eviction threshold measured in megabytes.
//!
//! Each block counts as what it costs the system allocator, not just the
//! bytes asked for: glibc's malloc adds an 8-byte header and rounds every
//! chunk up to 16 bytes (32 at least), which for the small keys and values
//! of a cache is 10-40% on top. Counting requested sizes only would let
//! `maxmemory` admit that much more resident memory than it names (Redis's
//! own figure includes jemalloc's rounding likewise).
//!
//! `src/main.rs` installs it for the server; unit tests install it here.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

/// A thread moves its balance to the global counter past this many bytes.
pub const FLUSH_BYTES: i64 = 16 * 1024;

/// Bytes allocated and not yet freed, over every thread (minus what each
/// thread has not flushed yet).
static ALLOCATED: AtomicI64 = AtomicI64::new(0);
/// Batches flushed, for the "is the counting allocator installed?" question.
static FLUSHES: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// This thread's unflushed balance. `const`, with no destructor, so the
    /// allocator can reach it at any time without allocating itself.
    static UNFLUSHED: Cell<i64> = const { Cell::new(0) };
}

/// The system allocator, counting.
pub struct CountingAlloc;

/// A thread's new balance after `delta`, and what to move to the global
/// counter (all of it once it passes [`FLUSH_BYTES`] either way).
#[inline]
fn fold(balance: i64, delta: i64) -> (i64, i64) {
    let balance = balance + delta;
    if balance.abs() >= FLUSH_BYTES {
        (0, balance)
    } else {
        (balance, 0)
    }
}

/// What a block of `size` bytes costs glibc's malloc: its chunk, with the
/// header, rounded to 16 bytes and at least 32. Alignments above 16 go
/// through `posix_memalign`, which may waste up to the alignment.
#[inline]
fn footprint(layout: Layout) -> i64 {
    let chunk = ((layout.size() + 8 + 15) & !15).max(32);
    let padding = if layout.align() > 16 {
        layout.align()
    } else {
        0
    };
    (chunk + padding) as i64
}

#[inline]
fn account(delta: i64) {
    let kept = UNFLUSHED.try_with(|local| {
        let (balance, flush) = fold(local.get(), delta);
        local.set(balance);
        if flush != 0 {
            ALLOCATED.fetch_add(flush, Relaxed);
            FLUSHES.fetch_add(1, Relaxed);
        }
    });
    // During thread teardown the slot may be gone: count straight globally.
    if kept.is_err() {
        ALLOCATED.fetch_add(delta, Relaxed);
    }
}

// SAFETY: every call is forwarded unchanged to `System`; only counters change.
unsafe impl GlobalAlloc for CountingAlloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            account(footprint(layout));
        }
        ptr
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            account(footprint(layout));
        }
        ptr
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        account(-footprint(layout));
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            // SAFETY of the layout: `realloc`'s contract is that `new_size`
            // with the old alignment is a valid layout.
            let grown = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
            account(footprint(grown) - footprint(layout));
        }
        new
    }
}

/// Tunes glibc's malloc for a long-lived heap of many small blocks; called
/// by `main` before any thread starts. Measured with `benches/memory.py`
/// (1M keys with 32-byte values, RSS per key, used_memory 99.5 bytes), it gets
/// at most one arena per core (glibc's default is eight per core). A table
/// grown from one tokio worker and then from another left its freed blocks in
/// two arenas, where neither could reuse the other's: 126 bytes of RSS per key
/// with the default, 117-119 with one or two arenas.
///
/// A fixed 32 KiB mmap threshold saved 8 bytes more per key but was dropped:
/// every value over 32 KiB became an mmap with its page faults, and SET of
/// 40 KB values ran at a third of redis-server's rate.
pub fn tune_malloc() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        // SAFETY: mallopt only sets allocator parameters; it is called
        // before other threads exist.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, cores.min(64) as libc::c_int);
        }
    }
}

#[cfg(test)]
#[global_allocator]
static TEST_ALLOCATOR: CountingAlloc = CountingAlloc;

/// Bytes live through the counting allocator: the global figure plus this
/// thread's unflushed balance (so a thread sees its own frees at once).
/// Zero when the counting allocator is not installed.
pub fn allocated() -> u64 {
    let own = UNFLUSHED.try_with(Cell::get).unwrap_or(0);
    (ALLOCATED.load(Relaxed) + own).max(0) as u64
}

/// INFO `used_memory`: the counted bytes, or the resident set size when the
/// counting allocator is not installed (a library user's own allocator).
pub fn used_memory() -> u64 {
    if is_counting() {
        allocated()
    } else {
        crate::server::stats::process_rss()
    }
}

/// True once the counting allocator has seen enough traffic to be trusted,
/// i.e. it is the process's global allocator.
pub fn is_counting() -> bool {
    FLUSHES.load(Relaxed) > 0 || ALLOCATED.load(Relaxed) != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keeps the optimiser from eliding an allocation the test measures.
    fn keep<T>(value: T) -> T {
        std::hint::black_box(value)
    }

    /// Other tests allocate and free concurrently, so measured changes are
    /// compared with a margin far below the size measured.
    const BIG: i64 = 64 << 20;
    const MARGIN: i64 = 24 << 20;

    #[test]
    fn balances_flush_past_the_batch_size_either_way() {
        assert_eq!(fold(0, 100), (100, 0));
        assert_eq!(fold(100, FLUSH_BYTES - 100), (0, FLUSH_BYTES));
        assert_eq!(fold(-10, -FLUSH_BYTES), (0, -FLUSH_BYTES - 10));
        assert_eq!(fold(500, -400), (100, 0));
    }

    #[test]
    fn blocks_count_as_glibc_chunks() {
        let of = |size| footprint(Layout::from_size_align(size, 8).unwrap());
        assert_eq!(of(1), 32);
        assert_eq!(of(24), 32);
        assert_eq!(of(25), 48);
        assert_eq!(of(32), 48);
        assert_eq!(of(256), 272);
        assert_eq!(footprint(Layout::from_size_align(64, 64).unwrap()), 80 + 64);
    }

    #[test]
    fn counts_allocations_and_frees() {
        let before = allocated() as i64;
        let block = keep(vec![0u8; BIG as usize]);
        let grown = allocated() as i64 - before;
        assert!((grown - BIG).abs() < MARGIN, "grew by {grown}");
        drop(block);
        let left = allocated() as i64 - before;
        assert!(left.abs() < MARGIN, "left {left}");
        assert!(is_counting());
    }

    #[test]
    fn realloc_counts_the_difference() {
        let mut v: Vec<u8> = keep(Vec::with_capacity(1 << 20));
        let before = allocated() as i64;
        v.reserve_exact(BIG as usize);
        let grown = allocated() as i64 - before;
        assert!((grown - BIG).abs() < MARGIN, "grew by {grown}");
        drop(keep(v));
    }

    #[test]
    fn small_allocations_of_other_threads_reach_the_global_figure() {
        let before = allocated() as i64;
        let blocks = std::thread::spawn(|| {
            let blocks: Vec<Box<[u8; 4096]>> =
                (0..BIG / 4096).map(|_| Box::new([1u8; 4096])).collect();
            keep(blocks)
        })
        .join()
        .unwrap();
        let grown = allocated() as i64 - before;
        assert!((grown - BIG).abs() < MARGIN, "grew by {grown}");
        drop(blocks);
    }
}
