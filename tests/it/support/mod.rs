//! What the integration tests share.

pub mod cfn;
pub mod emulator;
pub mod proxy;
