//! The pure Rust core: lock and election logic over the MongoDB driver. No
//! `extern "C"` and no raw pointers here; the C ABI lives in `crate::ffi`.

pub mod cancel;
pub mod client;
pub mod clock;
mod collection_check;
pub mod elector;
pub mod error;
mod garbage;
mod identity;
pub mod lease;
pub mod locker;
pub mod log;
mod record;
mod runtime;
pub mod stats;
pub mod status;
mod store;
mod turn;
