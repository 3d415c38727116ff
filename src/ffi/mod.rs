//! The C ABI: opaque handles over the core, status codes plus a per-thread
//! error message, no panic crossing the boundary. `include/mongoelector.h` is
//! generated from these files by cbindgen (build.rs).
#![allow(non_camel_case_types)]

mod args;
mod boundary;
pub mod client;
pub mod elector;
mod handles;
mod json;
pub mod locker;
pub mod log;
pub mod status;
