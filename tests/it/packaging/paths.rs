//! Reading the paths that packaging files name: absolute paths in TOML,
//! in commands and environments, and lists of files.

use serde_json::Value;

/// Strings in `value` (a parsed TOML or YAML document) that are absolute
/// paths.
fn absolute_paths(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) if s.starts_with('/') && !s.contains(char::is_whitespace) => {
            out.push(s.clone())
        }
        Value::Array(items) => items.iter().for_each(|v| absolute_paths(v, out)),
        Value::Object(m) => m.values().for_each(|v| absolute_paths(v, out)),
        _ => {}
    }
}

pub(super) fn toml_paths(text: &str, what: &str) -> Vec<String> {
    let value: toml::Value = toml::from_str(text).unwrap_or_else(|e| panic!("{what}: {e}"));
    let mut out = Vec::new();
    absolute_paths(&serde_json::to_value(value).unwrap(), &mut out);
    out
}

/// Words of a compose `command` or `environment` value that are absolute
/// paths (`--config.file=/etc/x.yml` gives `/etc/x.yml`).
pub(super) fn path_words(value: &Value) -> Vec<String> {
    let mut words = Vec::new();
    match value {
        Value::String(s) => words.extend(s.split_whitespace().map(str::to_owned)),
        Value::Array(items) => {
            for item in items {
                words.extend(path_words(item));
            }
        }
        Value::Object(m) => {
            for v in m.values() {
                words.extend(path_words(v));
            }
        }
        _ => {}
    }
    words
        .into_iter()
        .map(|w| w.rsplit_once('=').map_or(w.clone(), |(_, v)| v.to_owned()))
        .filter(|w| w.starts_with('/'))
        .collect()
}

/// A compose or kustomize list of paths (strings, or objects with `path`).
pub(super) fn path_list(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .filter_map(|v| v.as_str().or_else(|| v["path"].as_str()))
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}
