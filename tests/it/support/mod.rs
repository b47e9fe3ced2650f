//! What the integration tests share.

pub mod emulator;
pub mod proxy;
