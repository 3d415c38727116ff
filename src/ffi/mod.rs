//! The C ABI: opaque handles over the core, status codes plus a per-thread
//! error message, no panic crossing the boundary. `include/mongoelector.h` is
//! generated from these files by cbindgen (build.rs).
#![allow(non_camel_case_types)]

mod args;
pub mod boundary;
pub mod callbacks;
pub mod cancel;
pub mod client;
pub mod elector;
mod handles;
pub mod locker;
pub mod log;
pub mod records;
pub mod status;
