//! Reading the service's counters from the Prometheus text format, as
//! `/metrics` serves it.

/// The value of the sample `name_and_labels` (e.g.
/// `leadpulse_sla_total{outcome="met"}`); 0 when it is absent, as a counter
/// that was never incremented is.
pub fn metric(text: &str, name_and_labels: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(name_and_labels) && l[name_and_labels.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}
