//! Keeping oneinit's own memory small and giving it back: one malloc arena
//! (a supervisor does little allocation on its few threads; per-thread
//! arenas mostly hold on to freed memory), and an explicit trim after
//! bursts such as a reload or a shutdown of many services.

/// Called once at start, before other threads exist.
pub fn tune_allocator() {
    // SAFETY: mallopt only changes glibc's allocator parameters; called
    // before any other thread allocates.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// Returns freed heap memory to the kernel (after a burst of work).
pub fn trim() {
    // SAFETY: malloc_trim is thread-safe and takes no pointers.
    unsafe {
        libc::malloc_trim(0);
    }
}
