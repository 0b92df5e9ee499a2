//! Errors and warnings that point into the model file.

use std::cell::RefCell;
use std::fmt;
use std::ops::Range;

/// A model that failed to load. The message is meant for the person editing
/// the file: it says where, and what to change.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelError {
    /// Not valid TOML, or a key/value of the wrong shape.
    #[error("{origin}: {message}")]
    Syntax { origin: String, message: String },
    /// Valid TOML that does not make a usable model.
    #[error("{origin}:{line}:{column}: {message}")]
    Invalid {
        origin: String,
        line: usize,
        column: usize,
        message: String,
    },
    /// Several problems, in file order; shown one per line, so one run of
    /// `model check` lists everything to fix.
    #[error("{}", lines(.0))]
    Several(Vec<ModelError>),
}

impl ModelError {
    /// Every single problem this error stands for, in file order.
    pub fn errors(&self) -> &[ModelError] {
        match self {
            ModelError::Several(all) => all,
            one => std::slice::from_ref(one),
        }
    }

    /// One error as it is, several as [`ModelError::Several`] in file order.
    fn from_list(mut all: Vec<ModelError>) -> Option<ModelError> {
        all.sort_by_key(|e| match e {
            ModelError::Invalid { line, column, .. } => (*line, *column),
            _ => (0, 0),
        });
        match all.len() {
            0 => None,
            1 => all.pop(),
            _ => Some(ModelError::Several(all)),
        }
    }
}

fn lines(all: &[ModelError]) -> String {
    let text: Vec<String> = all.iter().map(ToString::to_string).collect();
    text.join("\n")
}

/// Something valid that is probably not what the author meant, such as a
/// grade no lead can reach. `model check` shows it; the model still loads.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelWarning {
    pub origin: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for ModelWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: warning: {}",
            self.origin, self.line, self.column, self.message
        )
    }
}

/// The file being loaded: builds errors and warnings that point into it,
/// and collects them, so loading goes on past the first problem.
pub(super) struct Source<'a> {
    origin: &'a str,
    text: &'a str,
    errors: RefCell<Vec<ModelError>>,
    warnings: RefCell<Vec<ModelWarning>>,
}

impl<'a> Source<'a> {
    pub(super) fn new(origin: &'a str, text: &'a str) -> Source<'a> {
        Source {
            origin,
            text,
            errors: RefCell::default(),
            warnings: RefCell::default(),
        }
    }

    pub(super) fn at(&self, span: Range<usize>, message: impl Into<String>) -> ModelError {
        let (line, column) = line_col(self.text, span.start);
        ModelError::Invalid {
            origin: self.origin.to_owned(),
            line,
            column,
            message: message.into(),
        }
    }

    /// Records an error and carries on; the model will not load.
    pub(super) fn report(&self, span: Range<usize>, message: impl Into<String>) {
        let e = self.at(span, message);
        self.errors.borrow_mut().push(e);
    }

    /// Records a warning; the model still loads.
    pub(super) fn warn(&self, span: Range<usize>, message: impl Into<String>) {
        let (line, column) = line_col(self.text, span.start);
        self.warnings.borrow_mut().push(ModelWarning {
            origin: self.origin.to_owned(),
            line,
            column,
            message: message.into(),
        });
    }

    /// How many errors so far: a section is sound when its loading adds none.
    pub(super) fn error_count(&self) -> usize {
        self.errors.borrow().len()
    }

    /// Every error, or the warnings (in file order) when there are none.
    pub(super) fn finish(self) -> Result<Vec<ModelWarning>, ModelError> {
        match ModelError::from_list(self.errors.into_inner()) {
            Some(e) => Err(e),
            None => {
                let mut warnings = self.warnings.into_inner();
                warnings.sort_by_key(|w| (w.line, w.column));
                Ok(warnings)
            }
        }
    }
}

/// The useful last line of a regex error ("unclosed group").
pub(super) fn regex_error(e: &regex::Error) -> String {
    let text = e.to_string();
    let last = text.lines().last().unwrap_or_default().trim();
    last.strip_prefix("error: ").unwrap_or(last).to_owned()
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.chars().count()
        - before
            .rfind('\n')
            .map_or(0, |i| before[..=i].chars().count())
        + 1;
    (line, column)
}
