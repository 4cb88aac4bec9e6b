//! The process allocator's tuning, for the binaries that use mimalloc as their global
//! allocator (`rkube`, the benches).
//!
//! mimalloc returns freed memory to the OS ("purges" it) 1 s after it became free by default.
//! Under sustained API load the same memory is wanted again soon after, so every purge is paid
//! back in page faults (each one a zeroed page): ~370 k faults in one run of the scheduler
//! bench, ~130–200 k with a 10 s delay, and ~11 % less CPU for the whole run
//! (docs/benchmarks-history.md, session 17). Idle memory still goes back, 10 s later.

/// How long freed memory stays with the process before it is returned to the OS.
pub const PURGE_DELAY_MS: std::ffi::c_long = 10_000;

/// mimalloc's `mi_option_purge_delay` (its position in `mi_option_t`; the Rust declarations
/// of libmimalloc-sys 0.1.49 have no constant for it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Sets mimalloc's options; call first thing in `main`. Affects nothing if mimalloc is linked
/// but not the global allocator.
pub fn tune() {
    // SAFETY: `mi_option_set` only stores a value in mimalloc's option table; any option index
    // and value are accepted (it is thread-safe and reads nothing through pointers).
    #[allow(unsafe_code)]
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn purge_delay() -> std::ffi::c_long {
        // SAFETY: reads mimalloc's option table.
        #[allow(unsafe_code)]
        unsafe {
            libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY)
        }
    }

    #[test]
    fn tune_sets_the_purge_delay() {
        // The index is mimalloc's purge delay: before tuning it holds that option's default
        // (1000 ms) or what the environment asked for.
        let expected = std::env::var("MIMALLOC_PURGE_DELAY")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1000);
        assert_eq!(purge_delay(), expected);
        tune();
        assert_eq!(purge_delay(), PURGE_DELAY_MS);
    }
}
