//! A lead's profile attributes, packed into one string.
//!
//! Millions of leads each carry a handful of short attributes (job title,
//! country, company domain, email…). As a map of owned strings that is a
//! tree node and two allocations per attribute, about a kilobyte per lead;
//! packed it is one allocation of roughly the text itself. Names the product
//! knows are stored as a one-byte tag. Attributes change rarely (profile
//! updates, forms), so a change rebuilds the string.

use std::fmt;

/// The longest attribute name kept, in bytes; longer ones are refused at
/// decode.
pub const MAX_NAME_LEN: usize = 256;
/// The longest attribute value kept, in bytes; longer ones are refused at
/// decode.
pub const MAX_VALUE_LEN: usize = 65_536;
/// At most this many attributes per lead: with the bytes limit below, the
/// largest lead state still fits one Kafka record (docs/events.md).
pub const MAX_ATTRIBUTES: usize = 64;
/// At most this many bytes of attribute names and values per lead.
pub const MAX_ATTRIBUTE_BYTES: usize = 256 * 1024;

/// Attribute names stored as a tag instead of their text. Append only: the
/// packed form is in memory only, but keeping the order stable keeps the
/// tags readable in a debugger.
const KNOWN: [&str; 32] = [
    "company_domain",
    "account_id",
    "email",
    "email_domain",
    "job_title",
    "title",
    "country",
    "region",
    "state",
    "city",
    "company",
    "company_size",
    "employees",
    "industry",
    "annual_revenue",
    "seniority",
    "department",
    "owner",
    "first_name",
    "last_name",
    "phone",
    "lifecycle",
    "source",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "website",
    "language",
    "timezone",
    "persona",
    "segment",
    "plan",
];

fn known(name: &str) -> Option<u32> {
    // A match compiles to a switch on the length and one comparison, where
    // a search of `KNOWN` compares up to 32 names: every look-up of a fit
    // rule or a watch key starts here. `known_matches_the_table` keeps the
    // two in step.
    Some(match name {
        "company_domain" => 0,
        "account_id" => 1,
        "email" => 2,
        "email_domain" => 3,
        "job_title" => 4,
        "title" => 5,
        "country" => 6,
        "region" => 7,
        "state" => 8,
        "city" => 9,
        "company" => 10,
        "company_size" => 11,
        "employees" => 12,
        "industry" => 13,
        "annual_revenue" => 14,
        "seniority" => 15,
        "department" => 16,
        "owner" => 17,
        "first_name" => 18,
        "last_name" => 19,
        "phone" => 20,
        "lifecycle" => 21,
        "source" => 22,
        "utm_source" => 23,
        "utm_medium" => 24,
        "utm_campaign" => 25,
        "website" => 26,
        "language" => 27,
        "timezone" => 28,
        "persona" => 29,
        "segment" => 30,
        "plan" => 31,
        _ => return None,
    })
}

/// A length or tag as one char: 1 byte below 128, at most 3 below 65,536.
fn put(out: &mut String, n: u32) {
    let code = if n < 0xD800 { n } else { n + 0x800 };
    out.push(char::from_u32(code).expect("lengths are bounded by MAX_VALUE_LEN"));
}

fn take(s: &str, pos: &mut usize) -> u32 {
    let b = s.as_bytes()[*pos];
    if b < 0x80 {
        *pos += 1;
        return u32::from(b);
    }
    let c = s[*pos..]
        .chars()
        .next()
        .expect("a well-formed packed string");
    *pos += c.len_utf8();
    let code = c as u32;
    if code < 0xD800 {
        code
    } else {
        code - 0x800
    }
}

/// Profile attributes, sorted by name. Each entry is a name (a tag
/// `2 × index + 1` for a known name, or `2 × length` followed by the name)
/// and a value (its length, then its text).
#[derive(Clone, Default)]
pub struct Attributes {
    packed: Box<str>,
    /// Unique to these [`KEY_NAMES`] values among every change of the
    /// process (0 while none was ever set), so a cache of something read
    /// from the keys (a lead's [`crate::WatchMiss`]) checks it with one
    /// compare instead of reading them again, and a profile update that
    /// leaves them alone keeps it. Memory only; equality ignores it.
    keys_revision: u64,
}

impl PartialEq for Attributes {
    fn eq(&self, other: &Attributes) -> bool {
        self.packed == other.packed
    }
}

impl Eq for Attributes {}

/// The names a lead is found by (the keys watches target, besides its id):
/// the first four known names, so a tag tells them apart with a compare.
pub const KEY_NAMES: [&str; 4] = ["company_domain", "account_id", "email", "email_domain"];

/// Per known name, whether it sorts after every key name: a walk for the
/// keys stops there.
const AFTER_KEYS: [bool; KNOWN.len()] = {
    let mut after = [false; KNOWN.len()];
    let mut i = 0;
    while i < KNOWN.len() {
        after[i] = sorts_after(KNOWN[i].as_bytes(), KEY_NAMES[3].as_bytes());
        i += 1;
    }
    after
};

/// `a > b` as `str` orders them, in a constant.
const fn sorts_after(a: &[u8], b: &[u8]) -> bool {
    let mut i = 0;
    while i < a.len() && i < b.len() {
        if a[i] != b[i] {
            return a[i] > b[i];
        }
        i += 1;
    }
    a.len() > b.len()
}

/// Hands out key revisions; never 0, which means no key was ever set.
static REVISIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

impl Attributes {
    /// The value of `name`, if set.
    pub fn get(&self, name: &str) -> Option<&str> {
        match known(name) {
            Some(i) => self.entries().find(|(tag, _)| *tag == Name::Known(i)),
            None => self.entries().find(|(tag, _)| *tag == Name::Text(name)),
        }
        .map(|(_, v)| v)
    }

    /// The values of several names in one pass over the packed string
    /// (each [`Attributes::get`] is a pass of its own).
    pub fn get_each<const N: usize>(&self, names: [&str; N]) -> [Option<&str>; N] {
        let tags = names.map(|n| match known(n) {
            Some(i) => Name::Known(i),
            None => Name::Text(n),
        });
        let mut found = [None; N];
        for (tag, value) in self.entries() {
            for (want, slot) in tags.iter().zip(found.iter_mut()) {
                if *want == tag {
                    *slot = Some(value);
                }
            }
        }
        found
    }

    /// The values of [`KEY_NAMES`], in that order: what [`Attributes::get_each`]
    /// gives for them, in a walk that compares tags only and stops at the
    /// first name that sorts after the last key (a watched lead's keys are
    /// read on each event its watches may match).
    pub fn keys(&self) -> [Option<&str>; 4] {
        let mut found = [None; 4];
        let s = &*self.packed;
        let mut pos = 0;
        while pos < s.len() {
            let tag = take(s, &mut pos);
            if tag % 2 == 1 {
                let i = (tag / 2) as usize;
                if AFTER_KEYS[i] {
                    break;
                }
                let len = take(s, &mut pos) as usize;
                if i < found.len() {
                    found[i] = Some(&s[pos..pos + len]);
                }
                pos += len;
            } else {
                let name = &s[pos..pos + (tag / 2) as usize];
                if name > KEY_NAMES[3] {
                    break;
                }
                pos += name.len();
                let len = take(s, &mut pos) as usize;
                pos += len;
            }
        }
        found
    }

    fn entries(&self) -> Entries<'_> {
        Entries {
            packed: &self.packed,
            pos: 0,
        }
    }

    /// The attributes, sorted by name.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            entries: self.entries(),
        }
    }

    /// The number of attributes.
    pub fn len(&self) -> usize {
        self.entries().count()
    }

    /// True when no attribute is set.
    pub fn is_empty(&self) -> bool {
        self.packed.is_empty()
    }

    /// Sets every pair (a later pair wins over an earlier one with the same
    /// name); an empty value removes the attribute (a derived attribute
    /// whose source no longer gives it). Returns true if any value changed;
    /// unchanged attributes cost no allocation.
    pub fn update<'a>(&mut self, pairs: &[(&'a str, &'a str)]) -> bool {
        if self.unchanged_by(pairs) {
            return false;
        }
        let keys_changed = pairs.iter().any(|&(k, v)| {
            known(k).is_some_and(|i| (i as usize) < KEY_NAMES.len())
                && self.get(k) != (!v.is_empty()).then_some(v)
        });
        let packed = pack(&self.merged(pairs));
        let changed = packed != self.packed;
        if changed && keys_changed {
            // A later pair may undo an earlier one: a new revision then is
            // only a needless miss, never a false hit.
            self.keys_revision = REVISIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        self.packed = packed;
        changed
    }

    /// Changes whenever a value of [`KEY_NAMES`] does; equal revisions mean
    /// equal keys (not the reverse: a copy rebuilt from the same pairs gets
    /// a revision of its own).
    pub fn keys_revision(&self) -> u64 {
        self.keys_revision
    }

    fn unchanged_by(&self, pairs: &[(&str, &str)]) -> bool {
        pairs
            .iter()
            .all(|(k, v)| self.get(k) == (!v.is_empty()).then_some(*v))
    }

    /// The attributes with `pairs` applied, sorted by name.
    fn merged<'a>(&'a self, pairs: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        let mut merged: Vec<(&str, &str)> = self.iter().collect();
        for &(k, v) in pairs {
            match (
                merged.binary_search_by(|(name, _)| (*name).cmp(k)),
                v.is_empty(),
            ) {
                (Ok(i), false) => merged[i].1 = v,
                (Ok(i), true) => {
                    merged.remove(i);
                }
                (Err(i), false) => merged.insert(i, (k, v)),
                (Err(_), true) => {}
            }
        }
        merged
    }

    /// Why setting `pairs` would take the attributes past
    /// [`MAX_ATTRIBUTES`] or [`MAX_ATTRIBUTE_BYTES`], if it would. An update
    /// that does not grow them is always allowed.
    pub fn check_update(&self, pairs: &[(&str, &str)]) -> Result<(), String> {
        if self.unchanged_by(pairs) {
            return Ok(());
        }
        let (count, before) =
            (self.iter()).fold((0, 0), |(n, b), (k, v)| (n + 1, b + k.len() + v.len()));
        // Every pair adding itself is the most an update can grow by: within
        // the limits, the merge (a sorted copy of every attribute) is not
        // needed to say so.
        let set = pairs.iter().filter(|(_, v)| !v.is_empty());
        let (most, most_bytes) = set.fold((count, before), |(n, b), (k, v)| {
            (n + 1, b + k.len() + v.len())
        });
        if most <= MAX_ATTRIBUTES && most_bytes <= MAX_ATTRIBUTE_BYTES {
            return Ok(());
        }
        let merged = self.merged(pairs);
        let bytes: usize = merged.iter().map(|(k, v)| k.len() + v.len()).sum();
        if merged.len() > MAX_ATTRIBUTES && merged.len() > count {
            return Err(format!(
                "{} attributes (at most {MAX_ATTRIBUTES} per lead)",
                merged.len()
            ));
        }
        if bytes > MAX_ATTRIBUTE_BYTES && bytes > before {
            return Err(format!(
                "{bytes} bytes of attributes (at most {MAX_ATTRIBUTE_BYTES} per lead)"
            ));
        }
        Ok(())
    }

    /// Sets one attribute; true if its value changed.
    pub fn insert(&mut self, name: &str, value: &str) -> bool {
        self.update(&[(name, value)])
    }
}

/// Packs pairs sorted by name, without duplicates.
fn pack(sorted: &[(&str, &str)]) -> Box<str> {
    let mut out = String::with_capacity(
        sorted
            .iter()
            .map(|(k, v)| k.len() + v.len() + 4)
            .sum::<usize>(),
    );
    for (k, v) in sorted {
        match known(k) {
            Some(i) => put(&mut out, 2 * i + 1),
            None => {
                let k = &k[..floor_char_boundary(k, MAX_NAME_LEN)];
                put(&mut out, 2 * k.len() as u32);
                out.push_str(k);
            }
        }
        let v = &v[..floor_char_boundary(v, MAX_VALUE_LEN)];
        put(&mut out, v.len() as u32);
        out.push_str(v);
    }
    out.into_boxed_str()
}

/// The largest index ≤ `max` that is a char boundary of `s` (decode refuses
/// longer names and values, so this only guards the packing).
fn floor_char_boundary(s: &str, max: usize) -> usize {
    if s.len() <= max {
        return s.len();
    }
    (0..=max)
        .rev()
        .find(|&i| s.is_char_boundary(i))
        .unwrap_or(0)
}

/// An entry's name as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Name<'a> {
    Known(u32),
    Text(&'a str),
}

struct Entries<'a> {
    packed: &'a str,
    pos: usize,
}

impl<'a> Iterator for Entries<'a> {
    type Item = (Name<'a>, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.packed.len() {
            return None;
        }
        let s = self.packed;
        let tag = take(s, &mut self.pos);
        let name = if tag % 2 == 1 {
            Name::Known(tag / 2)
        } else {
            let end = self.pos + (tag / 2) as usize;
            let name = &s[self.pos..end];
            self.pos = end;
            Name::Text(name)
        };
        let len = take(s, &mut self.pos) as usize;
        let value = &s[self.pos..self.pos + len];
        self.pos += len;
        Some((name, value))
    }
}

/// Iterator over `(name, value)` pairs, sorted by name.
pub struct Iter<'a> {
    entries: Entries<'a>,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        let (name, value) = self.entries.next()?;
        let name = match name {
            Name::Known(i) => KNOWN[i as usize],
            Name::Text(t) => t,
        };
        Some((name, value))
    }
}

impl<'a> IntoIterator for &'a Attributes {
    type Item = (&'a str, &'a str);
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl<K: AsRef<str>, V: AsRef<str>> FromIterator<(K, V)> for Attributes {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(pairs: I) -> Self {
        let owned: Vec<(K, V)> = pairs.into_iter().collect();
        let pairs: Vec<(&str, &str)> = owned
            .iter()
            .map(|(k, v)| (k.as_ref(), v.as_ref()))
            .collect();
        let mut attributes = Attributes::default();
        attributes.update(&pairs);
        attributes
    }
}

impl fmt::Debug for Attributes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests;
