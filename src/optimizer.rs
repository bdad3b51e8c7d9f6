//! The optimizers of a run, Adam and SGD with momentum, with their state in tensors this crate
//! holds, so that a checkpoint reads it back asynchronously and loads it onto the run's device.
//! burn 0.22's `ModuleOptimizer` can do neither in a browser: it reads its state back only
//! synchronously (WebGPU there allows only asynchronous reads), and loads it onto
//! `Device::default()` (WebGPU in a wasm build, even when training runs on the CPU).
//!
//! The update rules are burn's: Adam as `burn::optim::Adam` computes it (Kingma and Ba 2015,
//! with burn's defaults), and SGD with momentum as `burn::optim::Sgd` with momentum 0.9 and no
//! dampening (the MindSpore tutorial's `nn.Momentum`).

use burn::{
    module::{Module, ModuleMapper, ModuleVisitor, Param},
    optim::GradientsParams,
    tensor::{Device, ExecutionError, Tensor, TensorData},
};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::model::LeNet5;

/// The optimizers a run can use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// Adam with its usual betas (0.9, 0.999).
    #[default]
    Adam,
    /// Stochastic gradient descent with momentum 0.9, as in the MindSpore LeNet-5 tutorial
    /// (`nn.Momentum`, learning rate 0.01).
    Sgd,
}

impl OptimizerKind {
    /// The name people know it by.
    pub fn name(self) -> &'static str {
        match self {
            OptimizerKind::Adam => "Adam",
            OptimizerKind::Sgd => "SGD",
        }
    }

    /// The peak learning rate that suits it: 0.004 for Adam with the one-cycle schedule (98.8%
    /// test accuracy after one epoch, docs/performance.md); 0.01 for SGD, the MindSpore
    /// tutorial's.
    pub fn learning_rate(self) -> f64 {
        match self {
            OptimizerKind::Adam => 4e-3,
            OptimizerKind::Sgd => 1e-2,
        }
    }
}

/// Saved optimizer state that does not fit the model it is loaded for.
#[derive(Debug, Error)]
#[error("the {optimizer} state has {bytes} bytes, not the {expected} this model needs")]
pub struct StateMismatch {
    optimizer: &'static str,
    bytes: usize,
    expected: usize,
}

/// Adam's decay rates and stability term (burn's `AdamConfig` defaults).
const BETA_1: f32 = 0.9;
const BETA_2: f32 = 0.999;
const EPSILON: f32 = 1e-5;
/// SGD's momentum (the MindSpore tutorial's).
pub const MOMENTUM: f32 = 0.9;

/// An optimizer and its state: per parameter, in the order the model visits them, Adam's two
/// moments or SGD's velocity, flattened.
#[derive(Clone)]
pub struct Optimizer {
    kind: OptimizerKind,
    /// Updates made (Adam's bias correction depends on it).
    steps: u64,
    state: Vec<Option<Tensor<1>>>,
}

impl Optimizer {
    /// A fresh optimizer of `kind`.
    pub fn new(kind: OptimizerKind) -> Self {
        Self {
            kind,
            steps: 0,
            state: Vec::new(),
        }
    }

    /// State tensors per parameter: Adam keeps two moments, SGD one velocity.
    fn slots_per_parameter(&self) -> usize {
        match self.kind {
            OptimizerKind::Adam => 2,
            OptimizerKind::Sgd => 1,
        }
    }

    /// Updates every parameter of `model` that has a gradient in `grads`, with step size `lr`.
    pub fn step(&mut self, lr: f64, model: LeNet5, grads: GradientsParams) -> LeNet5 {
        self.steps += 1;
        model.map(&mut Update {
            optimizer: self,
            grads,
            lr,
            index: 0,
        })
    }

    /// The change to one parameter (flattened) given its gradient, updating its state.
    fn delta(&mut self, index: usize, grad: Tensor<1>, lr: f64) -> Tensor<1> {
        let slots = self.slots_per_parameter();
        if self.state.len() < (index + 1) * slots {
            self.state.resize((index + 1) * slots, None);
        }
        let state = &mut self.state[index * slots..(index + 1) * slots];
        match self.kind {
            OptimizerKind::Sgd => {
                let velocity = match state[0].take() {
                    Some(v) => v.mul_scalar(MOMENTUM).add(grad),
                    None => grad,
                };
                state[0] = Some(velocity.clone());
                velocity.mul_scalar(lr)
            }
            OptimizerKind::Adam => {
                let moment_1 = match state[0].take() {
                    Some(m) => m
                        .mul_scalar(BETA_1)
                        .add(grad.clone().mul_scalar(1.0 - BETA_1)),
                    None => grad.clone().mul_scalar(1.0 - BETA_1),
                };
                let moment_2 = match state[1].take() {
                    Some(v) => v
                        .mul_scalar(BETA_2)
                        .add(grad.square().mul_scalar(1.0 - BETA_2)),
                    None => grad.square().mul_scalar(1.0 - BETA_2),
                };
                state[0] = Some(moment_1.clone());
                state[1] = Some(moment_2.clone());
                let time = self.steps as i32;
                let correction_2 = (1.0 - BETA_2.powi(time)).sqrt();
                let factor = correction_2 / (1.0 - BETA_1.powi(time));
                moment_1
                    .mul_scalar(factor)
                    .div(moment_2.sqrt().add_scalar(EPSILON * correction_2))
                    .mul_scalar(lr)
            }
        }
    }

    /// The state as bytes (read back from the device asynchronously): the number of updates
    /// (u64), then every state value (f32), all little-endian. Empty before the first update.
    pub async fn to_bytes(&self) -> Result<Vec<u8>, ExecutionError> {
        let tensors: Vec<Tensor<1>> = self.state.iter().flatten().cloned().collect();
        if tensors.is_empty() {
            return Ok(Vec::new());
        }
        let data = Tensor::cat(tensors, 0).into_data_async().await?;
        let mut bytes = self.steps.to_le_bytes().to_vec();
        for value in data.iter::<f32>() {
            bytes.extend_from_slice(&value.to_le_bytes());
        }
        Ok(bytes)
    }

    /// An optimizer of `kind` with the state saved by [`Optimizer::to_bytes`] for `model`,
    /// placed on `device` (the run's device, without autodiff). Fails when the state does not
    /// fit the model.
    pub fn from_bytes(
        kind: OptimizerKind,
        bytes: &[u8],
        model: &LeNet5,
        device: &Device,
    ) -> Result<Self, StateMismatch> {
        let mut optimizer = Self::new(kind);
        if bytes.is_empty() {
            return Ok(optimizer);
        }
        let sizes = parameter_sizes(model);
        let slots = optimizer.slots_per_parameter();
        let expected = 8 + 4 * slots * sizes.iter().sum::<usize>();
        if bytes.len() != expected {
            return Err(StateMismatch {
                optimizer: kind.name(),
                bytes: bytes.len(),
                expected,
            });
        }
        let (steps, values) = bytes.split_at(8);
        optimizer.steps = u64::from_le_bytes(steps.try_into().expect("8 bytes"));
        let mut values = values
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes")));
        for size in sizes.iter().flat_map(|&n| std::iter::repeat_n(n, slots)) {
            let slot: Vec<f32> = values.by_ref().take(size).collect();
            optimizer.state.push(Some(Tensor::from_data(
                TensorData::new(slot, [size]),
                device,
            )));
        }
        Ok(optimizer)
    }
}

/// The number of values of each parameter of `model`, in the order the model visits them.
fn parameter_sizes(model: &LeNet5) -> Vec<usize> {
    struct Sizes(Vec<usize>);
    impl ModuleVisitor for Sizes {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0.push(param.shape().num_elements());
        }
    }
    let mut sizes = Sizes(Vec::new());
    model.visit(&mut sizes);
    sizes.0
}

/// One optimizer step over the parameters of a model, in visiting order.
struct Update<'a> {
    optimizer: &'a mut Optimizer,
    grads: GradientsParams,
    lr: f64,
    index: usize,
}

impl ModuleMapper for Update<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let index = self.index;
        self.index += 1;
        let (id, tensor, mapper) = param.consume();
        let Some(grad) = self.grads.remove::<D>(id) else {
            return Param::from_mapped_value(id, tensor, mapper);
        };
        let shape = tensor.shape();
        let require_grad = tensor.is_require_grad();
        let delta = self.optimizer.delta(index, grad.reshape([-1]), self.lr);
        let mut updated = Tensor::from_inner(tensor.inner().sub(delta.reshape(shape)));
        if require_grad {
            updated = updated.require_grad();
        }
        Param::from_mapped_value(id, updated, mapper)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::LeNet5Config;

    #[test]
    fn state_that_does_not_fit_the_model_is_refused() {
        let device = Device::flex();
        let model = LeNet5Config::new().init(&device, 0);
        let err = Optimizer::from_bytes(OptimizerKind::Adam, &[0; 100], &model, &device)
            .err()
            .unwrap();
        assert!(
            err.to_string().contains("Adam state has 100 bytes"),
            "{err}"
        );
        assert!(Optimizer::from_bytes(OptimizerKind::Sgd, &[], &model, &device).is_ok());
    }
}
