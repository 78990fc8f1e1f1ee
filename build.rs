//! Link options of the `oneinit` and `onecli` executables.
//!
//! They are linked as position-dependent executables (`-no-pie`). A PIE
//! must be relocated at every start: the loader reads ~1 MiB of relocation
//! records and writes every pointer of `.data.rel.ro` (vtables, static
//! tables; ~1.3 MiB here), so both stay resident for the life of PID 1 —
//! about 2 MiB of a supervisor whose whole RSS target is 8 MiB. The cost is
//! that the executable itself loads at a fixed address (shared libraries,
//! the heap and the stacks are still randomized).
//!
//! `ONEINIT_PIE=1 cargo build ...` links a PIE instead, with packed
//! relative relocations (DT_RELR, glibc ≥ 2.36), which keeps ASLR for the
//! executable at about 0.8 MiB more RSS (measured with 100 services).

fn main() {
    println!("cargo:rerun-if-env-changed=ONEINIT_PIE");
    if std::env::var_os("ONEINIT_PIE").is_some_and(|v| v == "1") {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    } else {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}
