//! Fast `url` globs for engagement rules and disqualifiers.

use globset::GlobMatcher;

/// A `url` glob. Most are literal text around `*`s (`*/pricing*`), matched
/// with substring searches; any other glob goes to globset's regex.
#[derive(Debug, Clone)]
pub(super) enum UrlGlob {
    /// The literal pieces between `*`s, and whether the glob starts and
    /// ends with a `*`.
    Pieces {
        parts: Vec<memchr::memmem::Finder<'static>>,
        open_start: bool,
        open_end: bool,
    },
    Glob(GlobMatcher),
}

impl UrlGlob {
    pub(super) fn new(text: &str, glob: &globset::Glob) -> UrlGlob {
        if text.contains(['?', '[', ']', '{', '}', '\\']) {
            return UrlGlob::Glob(glob.compile_matcher());
        }
        UrlGlob::Pieces {
            parts: text
                .split('*')
                .filter(|p| !p.is_empty())
                .map(|p| memchr::memmem::Finder::new(p).into_owned())
                .collect(),
            open_start: text.starts_with('*'),
            open_end: text.ends_with('*'),
        }
    }

    pub(super) fn is_match(&self, url: &str) -> bool {
        let (parts, open_start, open_end) = match self {
            UrlGlob::Glob(g) => return g.is_match(url),
            UrlGlob::Pieces {
                parts,
                open_start,
                open_end,
            } => (parts, *open_start, *open_end),
        };
        let mut rest = url;
        let last = parts.len().saturating_sub(1);
        for (i, part) in parts.iter().enumerate() {
            let needle = part.needle();
            if i == 0 && !open_start {
                let Some(after) = rest.as_bytes().strip_prefix(needle) else {
                    return false;
                };
                rest = &rest[rest.len() - after.len()..];
                if parts.len() == 1 && !open_end {
                    return rest.is_empty();
                }
                continue;
            }
            if i == last && !open_end {
                return rest.as_bytes().ends_with(needle);
            }
            match part.find(rest.as_bytes()) {
                Some(at) => rest = &rest[at + needle.len()..],
                None => return false,
            }
        }
        !parts.is_empty() || open_start || open_end || url.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::UrlGlob;

    #[test]
    fn literal_globs_match_like_globset() {
        let patterns = [
            "*/pricing*",
            "*/customers/*",
            "https://a.io/*",
            "*.pdf",
            "*",
            "**",
            "",
            "exact",
            "a*b*c",
            "*a*a*",
            "/docs/*/intro",
            "*ab*ab",
            "ab*ab*",
        ];
        let urls = [
            "",
            "a",
            "ab",
            "abab",
            "aab",
            "abcab",
            "exact",
            "exactly",
            "https://a.io/",
            "https://a.io/pricing?x=1",
            "http://b.io/pricing",
            "/customers/x",
            "x.pdf",
            "x.pdf.html",
            "abc",
            "aXbYc",
            "acb",
            "/docs/x/intro",
            "/docs/intro",
            "ababab",
            "https://ex.com/customers/",
            "é/pricing",
        ];
        for p in patterns {
            let glob = globset::GlobBuilder::new(p)
                .literal_separator(false)
                .build()
                .unwrap();
            let reference = glob.compile_matcher();
            let fast = UrlGlob::new(p, &glob);
            assert!(matches!(fast, UrlGlob::Pieces { .. }), "{p} is literal");
            for u in urls {
                assert_eq!(
                    fast.is_match(u),
                    reference.is_match(u),
                    "glob {p:?} on {u:?}"
                );
            }
        }
        let glob = globset::Glob::new("*/page?").unwrap();
        assert!(matches!(UrlGlob::new("*/page?", &glob), UrlGlob::Glob(_)));
    }
}
