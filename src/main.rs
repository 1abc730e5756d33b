mod cli;

// mimalloc instead of glibc malloc: the pipeline allocates many small strings and JSON
// values per record, and glibc's malloc/free were a third of the SDTM stage's time
// (README "Where the time goes"). The allocator does not change any output.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::run()
}
