//! The `iam-sweeper` binary. Inside Lambda (`AWS_LAMBDA_RUNTIME_API` set) it serves invocations
//! ([`iam_sweeper::lambda`]); elsewhere it is the command line ([`iam_sweeper::cli`]).

use std::process::ExitCode;

fn main() -> ExitCode {
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        iam_sweeper::lambda::main()
    } else {
        iam_sweeper::cli::main()
    }
}
