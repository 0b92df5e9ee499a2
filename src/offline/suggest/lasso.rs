//! L1-regularised logistic regression by coordinate descent, and the AUC.
//!
//! Why our own: linfa-logistic and smartcore's `LogisticRegression` only
//! offer an L2 penalty, and the L2 penalty never sets a coefficient to
//! zero, so it cannot say "this rule does not matter". L1 does, and with
//! features in [0, 1] and a few dozen rules the textbook method (glmnet's:
//! Newton steps on the log-likelihood, each solved as a weighted lasso by
//! cyclic coordinate descent with soft thresholding) is some forty lines
//! and deterministic: the same rows give the same coefficients, bit for
//! bit, as every loop runs in a fixed order.

/// A fitted model: `logit P(outcome) = intercept + Σ weights[j] · x[j]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    pub intercept: f64,
    pub weights: Vec<f64>,
}

/// Fits `rows` (one feature vector per lead, each of the same length)
/// against `labels`, minimising the mean log-loss plus `penalty × Σ|w|`
/// (the intercept is not penalised).
pub fn fit(rows: &[Vec<f64>], labels: &[bool], penalty: f64) -> Fit {
    let n = rows.len();
    let p = rows.first().map_or(0, Vec::len);
    let mut w = vec![0.0; p];
    let positives = labels.iter().filter(|&&y| y).count() as f64;
    let rate = (positives / n.max(1) as f64).clamp(1e-6, 1.0 - 1e-6);
    let mut b = (rate / (1.0 - rate)).ln();
    if n == 0 {
        return Fit {
            intercept: b,
            weights: w,
        };
    }
    let nf = n as f64;
    let mut eta: Vec<f64> = vec![b; n];
    for _newton in 0..100 {
        // The quadratic approximation around the current coefficients.
        let mut v = vec![0.0; n];
        let mut z = vec![0.0; n];
        for i in 0..n {
            let prob = sigmoid(eta[i]);
            v[i] = (prob * (1.0 - prob)).max(1e-5);
            z[i] = eta[i] + (f64::from(u8::from(labels[i])) - prob) / v[i];
        }
        let before = (b, w.clone());
        let mut r: Vec<f64> = (0..n).map(|i| z[i] - eta[i]).collect();
        for _pass in 0..200 {
            let mut moved: f64 = 0.0;
            // Intercept.
            let vs: f64 = v.iter().sum();
            let db = v.iter().zip(&r).map(|(v, r)| v * r).sum::<f64>() / vs;
            b += db;
            r.iter_mut().for_each(|r| *r -= db);
            moved = moved.max(db.abs());
            for j in 0..p {
                let mut num = 0.0;
                let mut den = 0.0;
                for i in 0..n {
                    let x = rows[i][j];
                    if x != 0.0 {
                        num += v[i] * x * (r[i] + x * w[j]);
                        den += v[i] * x * x;
                    }
                }
                if den == 0.0 {
                    continue;
                }
                let new = soft_threshold(num / nf, penalty) / (den / nf);
                let d = new - w[j];
                if d != 0.0 {
                    for i in 0..n {
                        r[i] -= d * rows[i][j];
                    }
                    w[j] = new;
                    moved = moved.max(d.abs());
                }
            }
            if moved < 1e-9 {
                break;
            }
        }
        for i in 0..n {
            eta[i] = b + rows[i].iter().zip(&w).map(|(x, w)| x * w).sum::<f64>();
        }
        let change = before
            .1
            .iter()
            .zip(&w)
            .map(|(a, c)| (a - c).abs())
            .fold((before.0 - b).abs(), f64::max);
        if change < 1e-8 {
            break;
        }
    }
    Fit {
        intercept: b,
        weights: w,
    }
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn soft_threshold(x: f64, t: f64) -> f64 {
    if x > t {
        x - t
    } else if x < -t {
        x + t
    } else {
        0.0
    }
}

/// The area under the ROC curve: the chance that a lead with the outcome
/// scores above one without it (ties count half). `None` without both.
pub fn auc(scored: &[(f64, bool)]) -> Option<f64> {
    let mut sorted: Vec<(f64, bool)> = scored.to_vec();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let pos = sorted.iter().filter(|s| s.1).count() as f64;
    let neg = sorted.len() as f64 - pos;
    if pos == 0.0 || neg == 0.0 {
        return None;
    }
    // Mann-Whitney U with mid-ranks for ties.
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i;
        while j < sorted.len() && sorted[j].0 == sorted[i].0 {
            j += 1;
        }
        let mid = (i + j + 1) as f64 / 2.0;
        rank_sum += mid * sorted[i..j].iter().filter(|s| s.1).count() as f64;
        i = j;
    }
    Some((rank_sum - pos * (pos + 1.0) / 2.0) / (pos * neg))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn the_fit_finds_the_features_that_drive_the_outcome_and_zeroes_noise() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let mut rows = Vec::new();
        let mut labels = Vec::new();
        for _ in 0..2_000 {
            let x: Vec<f64> = (0..3)
                .map(|_| f64::from(u8::from(rng.random_bool(0.4))))
                .collect();
            let logit = -2.0 + 2.0 * x[0] - 1.5 * x[1];
            labels.push(rng.random_bool(sigmoid(logit)));
            rows.push(x);
        }
        let f = fit(&rows, &labels, 0.01);
        assert!(f.weights[0] > 1.0, "{f:?}");
        assert!(f.weights[1] < -0.7, "{f:?}");
        assert_eq!(f.weights[2], 0.0, "{f:?}");
        assert_eq!(fit(&rows, &labels, 0.01), f, "deterministic");
        let strong = fit(&rows, &labels, 1.0);
        assert!(strong.weights.iter().all(|&w| w == 0.0), "{strong:?}");
    }

    #[test]
    fn auc_counts_ties_as_half_and_needs_both_classes() {
        assert_eq!(auc(&[(1.0, false), (2.0, true)]), Some(1.0));
        assert_eq!(auc(&[(2.0, false), (1.0, true)]), Some(0.0));
        assert_eq!(auc(&[(1.0, false), (1.0, true)]), Some(0.5));
        assert_eq!(auc(&[(1.0, true)]), None);
    }
}
