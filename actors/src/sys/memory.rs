//! Keeping oneinit's own memory small and giving it back after bursts such
//! as a reload or the shutdown of many services.
//!
//! - glibc (`target_env = "gnu"`): one malloc arena (a supervisor does
//!   little allocation on its few threads; per-thread arenas mostly hold on
//!   to freed memory), and an explicit `malloc_trim` once activity settles,
//!   because glibc keeps freed heap below its trim threshold for later.
//! - musl (the static build): nothing to tune. musl's allocator (mallocng)
//!   has no per-thread arenas, so there is no `M_ARENA_MAX` to lower, and it
//!   returns memory as it is freed: large blocks are `munmap`ed at once and
//!   freed spans of two pages or more are released with `madvise`, so there
//!   is nothing left for a `malloc_trim` to do (musl has none). Measured with
//!   100 services, start and stop of all of them: see docs/operations.md
//!   ("Static build").

/// Called once at start, before other threads exist.
pub fn tune_allocator() {
    #[cfg(target_env = "gnu")]
    // SAFETY: mallopt only changes glibc's allocator parameters; called
    // before any other thread allocates.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// Returns freed heap memory to the kernel (after a burst of work).
pub fn trim() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim is thread-safe and takes no pointers.
    unsafe {
        libc::malloc_trim(0);
    }
}
