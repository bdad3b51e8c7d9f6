//! Train and run LeNet-5 on MNIST in the web browser, on WebGPU or on the CPU, with burn.
//!
//! Everything but [`web`] is plain Rust, tested natively with `cargo test`; `web` is the one
//! module that speaks to JavaScript.

pub mod checkpoint;
pub mod data;
pub mod device;
pub mod drawpad;
pub mod inference;
pub mod metrics;
pub mod model;
pub mod optimizer;
pub mod schedule;
pub mod training;

#[cfg(target_arch = "wasm32")]
pub mod web;
