//! LeNet-5 (LeCun, Bottou, Bengio and Haffner, "Gradient-based learning applied to document
//! recognition", Proc. IEEE 1998), as built in the MindSpore tutorial: ReLU activations and max
//! pooling in place of the paper's scaled tanh and trainable sub-sampling, and a plain 10-way
//! linear output in place of the RBF layer.

use burn::{
    config::Config,
    module::{Module, ModuleVisitor, Param},
    nn::{
        Linear, LinearConfig, PaddingConfig2d, Relu,
        conv::{Conv2d, Conv2dConfig},
        pool::{MaxPool2d, MaxPool2dConfig},
    },
    tensor::{Device, Tensor, activation::softmax},
};

use std::sync::Mutex;

use crate::data::IMAGE_SIDE;

/// Layer sizes of LeNet-5 (LeCun et al. 1998, section II.B: C1 has 6 feature maps, C3 16,
/// C5 120 units, F6 84 units, the output 10).
#[derive(Config, Debug, PartialEq, Eq)]
pub struct LeNet5Config {
    #[config(default = 6)]
    pub conv1_channels: usize,
    #[config(default = 16)]
    pub conv2_channels: usize,
    #[config(default = 120)]
    pub fc1_units: usize,
    #[config(default = 84)]
    pub fc2_units: usize,
    #[config(default = 10)]
    pub num_classes: usize,
}

impl Default for LeNet5Config {
    fn default() -> Self {
        Self::new()
    }
}

impl LeNet5Config {
    /// The layer sizes in words, for messages.
    pub fn describe(&self) -> String {
        format!(
            "LeNet-5 with {} and {} feature maps and {}, {} and {} units",
            self.conv1_channels,
            self.conv2_channels,
            self.fc1_units,
            self.fc2_units,
            self.num_classes
        )
    }
}

/// Side of the 5x5 convolution kernels (LeCun et al. 1998).
const KERNEL: usize = 5;
/// The paper feeds 32x32 images; padding the 28x28 MNIST digits by 2 on each side does the same.
const INPUT_PADDING: usize = 2;

impl LeNet5Config {
    /// Builds the network on `device`, its initial weights drawn from `seed`.
    ///
    /// burn draws random numbers from one generator per backend: from the seed to the last
    /// initial weight no other thread may draw from it, or the weights would not be the seed's.
    /// Every model of this crate is made here, under one lock, and its weights are drawn before
    /// the lock is let go (burn draws a parameter's initial values when it is first read).
    pub fn init(&self, device: &Device, seed: u64) -> LeNet5 {
        /// Reads every parameter once, which draws its initial values.
        struct Draw;
        impl ModuleVisitor for Draw {
            fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
                let _ = param.val();
            }
        }
        static SEEDED: Mutex<()> = Mutex::new(());
        let _seeded = SEEDED.lock().unwrap_or_else(|e| e.into_inner());
        device.seed(seed);
        let model = self.build(device);
        model.visit(&mut Draw);
        model
    }

    /// The layers, their weights drawn from burn's generator as it stands.
    fn build(&self, device: &Device) -> LeNet5 {
        let p = INPUT_PADDING;
        // A valid 5x5 convolution takes 4 off the side, a 2x2 pooling halves it:
        // 28 (+4 padding) -> 28 -> 14 -> 10 -> 5, so fc1 has 16 maps of 5x5 = 400 inputs.
        let conv = |side: usize| side - KERNEL + 1;
        let side = conv(conv(IMAGE_SIDE + 2 * p) / 2) / 2;
        LeNet5 {
            conv1: Conv2dConfig::new([1, self.conv1_channels], [KERNEL, KERNEL])
                .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
                .init(device),
            conv2: Conv2dConfig::new([self.conv1_channels, self.conv2_channels], [KERNEL, KERNEL])
                .init(device),
            pool: MaxPool2dConfig::new([2, 2]).init(),
            fc1: LinearConfig::new(self.conv2_channels * side * side, self.fc1_units).init(device),
            fc2: LinearConfig::new(self.fc1_units, self.fc2_units).init(device),
            fc3: LinearConfig::new(self.fc2_units, self.num_classes).init(device),
            relu: Relu::new(),
        }
    }
}

/// The LeNet-5 network: two convolution cells, then three fully connected layers.
#[derive(Module, Debug)]
pub struct LeNet5 {
    conv1: Conv2d,
    conv2: Conv2d,
    pool: MaxPool2d,
    fc1: Linear,
    fc2: Linear,
    fc3: Linear,
    relu: Relu,
}

impl LeNet5 {
    /// The layer sizes this network was built with, read from its weights.
    pub fn config(&self) -> LeNet5Config {
        let [conv1_channels, ..] = self.conv1.weight.dims();
        let [conv2_channels, ..] = self.conv2.weight.dims();
        // A linear layer's weight is [inputs, outputs].
        let [_, fc1_units] = self.fc1.weight.dims();
        let [_, fc2_units] = self.fc2.weight.dims();
        let [_, num_classes] = self.fc3.weight.dims();
        LeNet5Config {
            conv1_channels,
            conv2_channels,
            fc1_units,
            fc2_units,
            num_classes,
        }
    }

    /// Every parameter, flattened, in the order the module visits them (the order of its
    /// mappers too).
    pub fn parameters(&self) -> Vec<Tensor<1>> {
        struct Gather(Vec<Tensor<1>>);
        impl ModuleVisitor for Gather {
            fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
                self.0.push(param.val().reshape([-1]));
            }
        }
        let mut gather = Gather(Vec::new());
        self.visit(&mut gather);
        gather.0
    }

    /// Class scores (logits) for a batch of normalised 28x28 images.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.layers(images).logits
    }

    /// What each layer gives for a batch of normalised 28x28 images, in order: the network's
    /// forward pass, every step of it kept.
    pub fn layers(&self, images: Tensor<4>) -> Layers {
        // [batch, 1, 28, 28]
        let conv1 = self.relu.forward(self.conv1.forward(images));
        // [batch, 6, 28, 28]
        let pool1 = self.pool.forward(conv1.clone());
        // [batch, 6, 14, 14]
        let conv2 = self.relu.forward(self.conv2.forward(pool1.clone()));
        // [batch, 16, 10, 10]
        let pool2 = self.pool.forward(conv2.clone());
        // [batch, 16, 5, 5]
        let fc1 = self
            .relu
            .forward(self.fc1.forward(pool2.clone().flatten::<2>(1, 3)));
        // [batch, 120]
        let fc2 = self.relu.forward(self.fc2.forward(fc1.clone()));
        // [batch, 84]
        let logits = self.fc3.forward(fc2.clone());
        // [batch, 10]
        Layers {
            conv1,
            pool1,
            conv2,
            pool2,
            fc1,
            fc2,
            logits,
        }
    }

    /// The convolution kernels: conv1's [6, 1, 5, 5] and conv2's [16, 6, 5, 5] weights.
    pub fn filters(&self) -> [Tensor<4>; 2] {
        [self.conv1.weight.val(), self.conv2.weight.val()]
    }

    /// Probabilities of each digit for a batch of normalised 28x28 images.
    pub fn probabilities(&self, images: Tensor<4>) -> Tensor<2> {
        softmax(self.forward(images), 1)
    }
}

/// Each layer's output for a batch, as [`LeNet5::layers`] computes it: the convolutions' and
/// fully connected layers' after their ReLU, the pools' maxima, and the raw class scores.
pub struct Layers {
    /// [batch, 6, 28, 28]
    pub conv1: Tensor<4>,
    /// [batch, 6, 14, 14]
    pub pool1: Tensor<4>,
    /// [batch, 16, 10, 10]
    pub conv2: Tensor<4>,
    /// [batch, 16, 5, 5]
    pub pool2: Tensor<4>,
    /// [batch, 120]
    pub fc1: Tensor<2>,
    /// [batch, 84]
    pub fc2: Tensor<2>,
    /// [batch, 10]
    pub logits: Tensor<2>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_one_score_per_digit() {
        let device = Device::flex();
        let model = LeNet5Config::new().init(&device, 0);
        let logits = model.forward(Tensor::zeros([3, 1, 28, 28], &device));
        assert_eq!(logits.dims(), [3, 10]);
    }

    #[test]
    fn probabilities_sum_to_one() {
        let device = Device::flex();
        let model = LeNet5Config::new().init(&device, 0);
        let probs = model.probabilities(Tensor::ones([2, 1, 28, 28], &device));
        let sums = probs
            .sum_dim(1)
            .into_data()
            .iter::<f32>()
            .collect::<Vec<_>>();
        for s in sums {
            assert!((s - 1.0).abs() < 1e-5);
        }
    }

    #[test]
    fn knows_the_layer_sizes_it_was_built_with() {
        let config = LeNet5Config::new().with_fc1_units(100);
        assert_eq!(config.init(&Device::flex(), 0).config(), config);
    }

    #[test]
    fn has_the_parameter_count_of_lenet5() {
        // conv1 6*(25+1) + conv2 16*(6*25+1) + fc1 120*401 + fc2 84*121 + fc3 10*85
        let model = LeNet5Config::new().init(&Device::flex(), 0);
        assert_eq!(model.num_params(), 156 + 2416 + 48120 + 10164 + 850);
    }
}
