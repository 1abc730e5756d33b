mod cli;

// mimalloc instead of glibc malloc: the pipeline allocates many small strings and JSON
// values per record, and glibc's malloc/free were a third of the SDTM stage's time
// (README "Where the time goes"). The allocator does not change any output.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc.h (v2 and v3): the sys crate names no constant for it.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() -> std::process::ExitCode {
    // Page faults were a third of a one-thread `convert sdtm`: the kernel zeroing (and
    // compacting for) the 2 MiB transparent huge pages mimalloc asks for, and faulting in
    // again pages it handed back to the OS after its default 10 ms. Built with `no_thp`
    // (Cargo.toml) it asks for no huge pages; here it keeps freed pages for a second,
    // since a run allocates and frees in waves (one subject, one rule). Peak memory is
    // unchanged; wall time is lower and, above all, steady between runs (README "Where the
    // time goes").
    // SAFETY: sets a process-wide allocator option before any thread is started.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 1000) };
    cli::run()
}
