//! Personal data must not outlive its use in this process's memory: every heap block is
//! wiped when it is freed, and the process cannot be dumped or read by other users.
//!
//! The allocator is declared here, in the library both processes link, so that kiosk-app,
//! kioskctl, counter-sync and the tests that stand in for them all run on the same one.
//! Wiping every block (not only our own `Zeroizing` buffers) also covers the copies made by
//! libraries we do not control: `serde_json`'s growing output, Slint's property strings,
//! `reqwest`'s bodies. Memory freed by C libraries (`malloc`/`free` directly) is not covered.

use std::alloc::{GlobalAlloc, Layout, System};

/// `System`, but every block is wiped with `explicit_bzero` (which the compiler may not
/// remove as a dead store before `free`) when it is freed. `realloc` is left to the trait's
/// default (allocate, copy, free through `dealloc`), so a block that moves is wiped too;
/// glibc's own `realloc` would release the old block as it was.
pub struct WipingAllocator;

// SAFETY: every call is passed to `System` unchanged; `dealloc` only writes zeros into the
// block it is given, which the caller owns until the call returns.
unsafe impl GlobalAlloc for WipingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe {
            libc::explicit_bzero(ptr.cast(), layout.size());
            System.dealloc(ptr, layout)
        }
    }
}

#[global_allocator]
static ALLOCATOR: WipingAllocator = WipingAllocator;

/// Makes this process non-dumpable: no core file, and `/proc/PID/mem` and `ptrace` are closed
/// to every other user including the process's own (only `CAP_SYS_PTRACE` gets in). Called
/// first thing by every binary that handles personal data or the TLS key.
pub fn forbid_dumps() -> std::io::Result<()> {
    // SAFETY: prctl(PR_SET_DUMPABLE, 0) takes no pointers.
    let rc = unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Whether this process may be dumped (`PR_GET_DUMPABLE`), for `doctor` and the tests.
pub fn dumpable() -> bool {
    // SAFETY: prctl(PR_GET_DUMPABLE) takes no pointers.
    unsafe { libc::prctl(libc::PR_GET_DUMPABLE, 0, 0, 0, 0) != 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A freed block no longer holds what was written into it. Read back through the
    /// allocator directly: the block is freed with our `dealloc` and then, before anything
    /// else can reuse it, checked through a second allocation of the same size class, which
    /// glibc hands back from the thread cache. glibc writes its free-list links into the
    /// first 16 bytes, so only the rest is compared.
    #[test]
    fn freed_blocks_are_wiped() {
        let layout = Layout::from_size_align(256, 8).unwrap();
        unsafe {
            let p = ALLOCATOR.alloc(layout);
            std::ptr::write_bytes(p, 0xA5, 256);
            ALLOCATOR.dealloc(p, layout);
            let q = System.alloc(layout);
            assert_eq!(p, q, "glibc's tcache returns the block just freed");
            let body = std::slice::from_raw_parts(q.add(16), 240);
            assert!(body.iter().all(|&b| b == 0), "{body:?}");
            System.dealloc(q, layout);
        }
    }

    /// A vector that grows moves its bytes; the block it leaves is wiped too.
    #[test]
    fn a_growing_vector_leaves_nothing_behind() {
        let mut v: Vec<u8> = Vec::with_capacity(200);
        v.extend(std::iter::repeat_n(0x5A, 200));
        let old = v.as_ptr();
        v.reserve(100_000); // moves to a new block (mmap-sized, cannot grow in place)
        assert_ne!(old, v.as_ptr());
        let layout = Layout::from_size_align(200, 1).unwrap();
        unsafe {
            let q = System.alloc(layout);
            assert_eq!(
                q as *const u8, old,
                "glibc's tcache returns the block just freed"
            );
            let body = std::slice::from_raw_parts(q.add(16), 184);
            assert!(body.iter().all(|&b| b == 0), "{body:?}");
            System.dealloc(q, layout);
        }
    }

    #[test]
    fn forbid_dumps_makes_the_process_non_dumpable() {
        forbid_dumps().unwrap();
        assert!(!dumpable());
    }
}
