//! Train and run LeNet-5 on MNIST in the web browser, on WebGPU or on the CPU, with burn.
//!
//! Everything but [`web`] is plain Rust, tested natively with `cargo test`; `web` is the one
//! module that speaks to JavaScript. Read bottom-up, each module imports only those above it in
//! this list:
//!
//! - [`data`] (IDX files, the MNIST split, augmentation, the pipeline), [`model`] (LeNet-5),
//!   [`metrics`], [`schedule`], [`drawpad`], [`device`] (the backend choice), [`saved`] (where a
//!   model is saved or loaded from);
//! - [`optimizer`] (Adam and SGD and their state), then [`config`] (a run's settings);
//! - [`checkpoint`] (a run saved as bytes), [`inference`] (evaluation, prediction, and each
//!   layer's output for an image);
//! - [`training`] (the step-at-a-time loop), then [`calibration`] (`auto` by measurement) and
//!   [`finetune`] (teaching the model the user's own examples);
//! - [`session`] (what a user holds between calls, and its rules), [`native`] (the native
//!   trainer's run: files, epochs, saves; not on wasm32);
//! - [`web`] (the JS surface, on wasm32 only).
//!
//! `src/bin/lenet-train.rs` is the native trainer's command line.

pub mod calibration;
pub mod checkpoint;
pub mod config;
pub mod data;
pub mod device;
pub mod drawpad;
pub mod finetune;
pub mod inference;
pub mod metrics;
pub mod model;
#[cfg(not(target_arch = "wasm32"))]
pub mod native;
pub mod optimizer;
pub mod saved;
pub mod schedule;
pub mod session;
pub mod training;

#[cfg(target_arch = "wasm32")]
pub mod web;
