//! The Python of the contract tests: a venv with the packages of
//! tests/contract/requirements.txt (`scripts/python-venv.sh` makes it).

/// The venv's python, from `LEADPULSE_PYTHON`. Fails, never skips.
pub fn python() -> String {
    match std::env::var("LEADPULSE_PYTHON") {
        Ok(p) if !p.is_empty() => p,
        _ => panic!(
            "LEADPULSE_PYTHON is not set. The contract tests need a Python with the packages of \
             tests/contract/requirements.txt: run `scripts/test.sh`, or \
             `export LEADPULSE_PYTHON=$(scripts/python-venv.sh)`"
        ),
    }
}
