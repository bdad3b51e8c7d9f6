//! What training and evaluation report: accuracy, per-digit accuracy, the confusion matrix and
//! the images the model got wrong.

use serde::Serialize;

use crate::data::NUM_CLASSES;

/// The tally of evaluating a model on a labelled split.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// Images whose top prediction equals their label.
    pub correct: usize,
    /// Images evaluated.
    pub total: usize,
    /// `confusion[label][predicted]`: how many images of each digit were taken for each digit.
    pub confusion: [[u32; NUM_CLASSES]; NUM_CLASSES],
    /// The wrongly classified images, in split order.
    pub misclassified: Vec<Misclassified>,
}

/// One image the model got wrong.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
pub struct Misclassified {
    /// Position of the image in its split.
    pub index: usize,
    pub label: u8,
    pub predicted: u8,
    /// The model's probabilities of the digits 0-9.
    pub probabilities: [f32; NUM_CLASSES],
}

impl Evaluation {
    /// Tallies each image's probabilities (its top digit is the prediction) against its label;
    /// the two are paired by position.
    pub fn from_probabilities(probabilities: &[[f32; NUM_CLASSES]], labels: &[u8]) -> Self {
        let mut confusion = [[0u32; NUM_CLASSES]; NUM_CLASSES];
        let mut misclassified = Vec::new();
        for (index, (probs, &label)) in probabilities.iter().zip(labels).enumerate() {
            let predicted = top(probs);
            confusion[label as usize][predicted as usize] += 1;
            if predicted != label {
                misclassified.push(Misclassified {
                    index,
                    label,
                    predicted,
                    probabilities: *probs,
                });
            }
        }
        let correct = (0..NUM_CLASSES).map(|d| confusion[d][d] as usize).sum();
        Self {
            correct,
            total: probabilities.len().min(labels.len()),
            confusion,
            misclassified,
        }
    }

    /// Fraction right among the images of each digit, 0 to 1 (0 for a digit with no images).
    pub fn per_class_accuracy(&self) -> [f64; NUM_CLASSES] {
        std::array::from_fn(|d| {
            let row = &self.confusion[d];
            mean(row[d] as f64, row.iter().map(|&n| n as usize).sum())
        })
    }

    /// Fraction of images classified correctly, 0 to 1.
    pub fn accuracy(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.correct as f64 / self.total as f64
        }
    }
}

/// Results on a labelled split as a person or a page reads them: the [`Evaluation`] with its
/// accuracies worked out (camelCase fields when serialised for JS).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct EvaluationReport {
    /// Fraction right, 0-1.
    pub accuracy: f64,
    /// Images whose top prediction equals their label.
    pub correct: usize,
    /// Images evaluated.
    pub total: usize,
    /// Accuracy on the images of each digit 0-9.
    pub per_class: [f64; NUM_CLASSES],
    /// `confusion[label][predicted]`: how many images of each digit were taken for each.
    pub confusion: [[u32; NUM_CLASSES]; NUM_CLASSES],
    /// Every image the model got wrong, in split order.
    pub misclassified: Vec<Misclassified>,
}

impl From<Evaluation> for EvaluationReport {
    fn from(evaluation: Evaluation) -> Self {
        Self {
            accuracy: evaluation.accuracy(),
            per_class: evaluation.per_class_accuracy(),
            correct: evaluation.correct,
            total: evaluation.total,
            confusion: evaluation.confusion,
            misclassified: evaluation.misclassified,
        }
    }
}

/// The most probable digit.
pub fn top(probabilities: &[f32; NUM_CLASSES]) -> u8 {
    (0..NUM_CLASSES)
        .max_by(|&a, &b| probabilities[a].total_cmp(&probabilities[b]))
        .unwrap_or(0) as u8
}

/// Mean of a sum over a count, 0 when nothing was counted.
pub fn mean(sum: f64, count: usize) -> f64 {
    if count == 0 { 0.0 } else { sum / count as f64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Probabilities that put `p` on `digit` and share the rest.
    fn sure_of(digit: usize, p: f32) -> [f32; NUM_CLASSES] {
        std::array::from_fn(|d| if d == digit { p } else { (1.0 - p) / 9.0 })
    }

    #[test]
    fn tallies_accuracy_confusion_and_mistakes() {
        let probs = [
            sure_of(7, 0.9),
            sure_of(2, 0.8),
            sure_of(1, 0.6),
            sure_of(1, 0.7),
        ];
        let eval = Evaluation::from_probabilities(&probs, &[7, 2, 1, 0]);
        assert_eq!((eval.correct, eval.total), (3, 4));
        assert_eq!(eval.accuracy(), 0.75);
        assert_eq!(eval.confusion[0][1], 1);
        assert_eq!(eval.confusion[7][7], 1);
        assert_eq!(
            eval.misclassified,
            [Misclassified {
                index: 3,
                label: 0,
                predicted: 1,
                probabilities: sure_of(1, 0.7)
            }]
        );
        let per_class = eval.per_class_accuracy();
        assert_eq!(
            (per_class[0], per_class[1], per_class[7], per_class[3]),
            (0.0, 1.0, 1.0, 0.0)
        );
    }

    #[test]
    fn empty_evaluation_has_zero_accuracy() {
        assert_eq!(Evaluation::from_probabilities(&[], &[]).accuracy(), 0.0);
    }
}
