fn main() -> std::process::ExitCode {
    loupe::cli::main()
}
