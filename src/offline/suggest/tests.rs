//! `model suggest` on generated data whose true drivers are known.
