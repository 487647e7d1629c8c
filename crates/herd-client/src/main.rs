//! `herd-client`: the command line a person uses to talk to a proxy herd. A thin shell over the
//! `herd_client` library, which parses the arguments, talks to the server and prints the answer.

fn main() -> std::process::ExitCode {
    herd_client::main_with_args(std::env::args_os())
}
