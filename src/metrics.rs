//! What training and evaluation report: accuracy and the confusion matrix.

use crate::data::NUM_CLASSES;

/// Result of evaluating a model on a labelled split.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// Images whose top prediction equals their label.
    pub correct: usize,
    /// Images evaluated.
    pub total: usize,
    /// `confusion[label][predicted]`: how many images of each digit were taken for each digit.
    pub confusion: [[u32; NUM_CLASSES]; NUM_CLASSES],
}

impl Evaluation {
    /// Tallies predictions against labels (the two are paired by position).
    pub fn from_predictions(predicted: &[u8], labels: &[u8]) -> Self {
        let mut confusion = [[0u32; NUM_CLASSES]; NUM_CLASSES];
        for (&p, &l) in predicted.iter().zip(labels) {
            confusion[l as usize][p as usize] += 1;
        }
        let correct = (0..NUM_CLASSES).map(|d| confusion[d][d] as usize).sum();
        Self {
            correct,
            total: predicted.len().min(labels.len()),
            confusion,
        }
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

/// Mean of a sum over a count, 0 when nothing was counted.
pub fn mean(sum: f64, count: usize) -> f64 {
    if count == 0 { 0.0 } else { sum / count as f64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tallies_accuracy_and_confusion() {
        let eval = Evaluation::from_predictions(&[7, 2, 1, 1], &[7, 2, 1, 0]);
        assert_eq!((eval.correct, eval.total), (3, 4));
        assert_eq!(eval.accuracy(), 0.75);
        assert_eq!(eval.confusion[0][1], 1);
        assert_eq!(eval.confusion[7][7], 1);
    }

    #[test]
    fn empty_evaluation_has_zero_accuracy() {
        assert_eq!(Evaluation::from_predictions(&[], &[]).accuracy(), 0.0);
    }
}
