//! Learning-rate schedules: the step size the optimizer takes at each step of a run.

use serde::{Deserialize, Serialize};

/// Fraction of a one-cycle run spent warming up.
const WARMUP_FRACTION: f64 = 0.05;
/// A one-cycle run starts at this fraction of the peak rate.
const START_FRACTION: f64 = 0.1;

/// How the learning rate moves over a run (serialised in camelCase: `"oneCycle"`). A schedule
/// spans all the epochs of the run, so resuming a run with more epochs stretches it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub enum Schedule {
    /// The configured rate at every step.
    Constant,
    /// One cycle (Smith and Topin, "Super-convergence", 2019): the rate rises linearly from a
    /// tenth of the configured rate to the full rate over the first 5% of the run, then falls
    /// along a half cosine to zero at the last step.
    #[default]
    OneCycle,
}

impl Schedule {
    /// The learning rate of step `step` (from 0) of a run of `total` steps whose configured
    /// (peak) rate is `rate`.
    pub fn rate(self, rate: f64, step: usize, total: usize) -> f64 {
        match self {
            Schedule::Constant => rate,
            Schedule::OneCycle => {
                let progress = step as f64 / total.max(1) as f64;
                if progress < WARMUP_FRACTION {
                    let warm = progress / WARMUP_FRACTION;
                    rate * (START_FRACTION + (1.0 - START_FRACTION) * warm)
                } else {
                    let fall = (progress - WARMUP_FRACTION) / (1.0 - WARMUP_FRACTION);
                    rate * 0.5 * (1.0 + (std::f64::consts::PI * fall).cos())
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_keeps_the_rate() {
        for step in [0, 500, 999] {
            assert_eq!(Schedule::Constant.rate(0.01, step, 1000), 0.01);
        }
    }

    #[test]
    fn one_cycle_warms_up_to_the_peak_then_falls_to_zero() {
        let rate = |step| Schedule::OneCycle.rate(0.002, step, 1000);
        assert!((rate(0) - 0.0002).abs() < 1e-12);
        assert!(
            (rate(50) - 0.002).abs() < 1e-12,
            "peak at the end of warm-up"
        );
        let rates: Vec<f64> = (0..1000).map(rate).collect();
        assert!(rates[..50].windows(2).all(|w| w[0] < w[1]), "rises");
        assert!(rates[50..].windows(2).all(|w| w[0] > w[1]), "falls");
        assert!(rates.iter().all(|&r| r > 0.0 && r <= 0.002));
        assert!(rate(999) < 1e-7, "ends near zero");
        assert!(
            (rate(525) - 0.001).abs() < 1e-9,
            "half-way down at the middle of the fall"
        );
    }
}
