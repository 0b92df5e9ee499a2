use super::*;

#[test]
fn the_keys_revision_changes_with_the_keys_and_only_then() {
    let mut a = Attributes::default();
    assert_eq!(a.keys_revision(), 0);
    assert!(a.insert("country", "PT"));
    assert_eq!(a.keys_revision(), 0, "no key set yet");
    assert!(a.insert("email", "ana@acme.com"));
    let first = a.keys_revision();
    assert_ne!(first, 0);
    assert!(!a.insert("email", "ana@acme.com"));
    assert_eq!(a.keys_revision(), first, "an update that changes nothing");
    let copy = a.clone();
    assert!(a.update(&[
        ("country", "ES"),
        ("job_title", "CTO"),
        ("email", "ana@acme.com")
    ]));
    assert_eq!(a.keys_revision(), first, "other attributes changed, no key");
    for (name, value) in [
        ("company_domain", "acme.com"),
        ("account_id", "A-1"),
        ("email_domain", "acme.com"),
        ("email", "ana@acme.io"),
        ("email", "ana@acme.com"),
        ("account_id", ""),
    ] {
        let before = a.keys_revision();
        assert!(a.insert(name, value), "{name}={value}");
        assert_ne!(a.keys_revision(), before, "{name}={value}");
        assert_ne!(
            a.keys_revision(),
            first,
            "same keys again: a miss, never a false hit"
        );
    }
    assert_ne!(a, copy);
    let mut b = copy.clone();
    assert_eq!(b, copy, "equality ignores the revision");
    assert!(b.update(&[
        ("email", "x@y.z"),
        ("email", "ana@acme.com"),
        ("plan", "pro")
    ]));
    assert_ne!(
        b.keys_revision(),
        first,
        "a pair undone by a later one still counts"
    );
    assert_eq!(
        KEY_NAMES.map(known),
        [Some(0), Some(1), Some(2), Some(3)],
        "the keys are the first known names"
    );
}

proptest::proptest! {
    /// The keys' walk, which stops early, finds what the full walk does.
    #[test]
    fn keys_are_what_get_each_finds(
        pairs in proptest::collection::vec(
            (
                proptest::sample::select(vec![
                    "account_id", "company_domain", "email", "email_domain", "city",
                    "company", "country", "email_opt_in", "emailx", "e", "first_name",
                    "industry", "zz", "acc", "email_domaim", "email_domainz",
                ]),
                proptest::sample::select(vec!["", "x", "acme.com", "ana@acme.com"]),
            ),
            0..12,
        ),
    ) {
        let mut a = Attributes::default();
        a.update(&pairs);
        proptest::prop_assert_eq!(a.keys(), a.get_each(KEY_NAMES));
    }
}

#[test]
fn known_matches_the_table() {
    for (i, name) in KNOWN.iter().enumerate() {
        assert_eq!(known(name), Some(i as u32), "{name}");
    }
    assert_eq!(known("emails"), None);
    assert_eq!(known(""), None);
}

#[test]
fn get_each_finds_what_get_finds_in_one_pass() {
    let a: Attributes = [("email", "a@x.io"), ("custom", "c"), ("account_id", "A1")]
        .into_iter()
        .collect();
    let names = ["account_id", "custom", "company_domain", "email"];
    assert_eq!(a.get_each(names), names.map(|n| a.get(n)));
    assert_eq!(
        a.get_each(names),
        [Some("A1"), Some("c"), None, Some("a@x.io")]
    );
}

#[test]
fn pairs_come_back_sorted_by_name_with_later_values_winning() {
    let mut a = Attributes::default();
    assert!(a.is_empty());
    assert!(a.update(&[("job_title", "CTO"), ("zeta", "z"), ("Alpha", "a")]));
    assert!(!a.update(&[("job_title", "CTO")]), "unchanged");
    assert!(a.insert("job_title", "VP"));
    assert_eq!(
        a.iter().collect::<Vec<_>>(),
        [("Alpha", "a"), ("job_title", "VP"), ("zeta", "z")]
    );
    assert_eq!(a.get("zeta"), Some("z"));
    assert_eq!(a.get("missing"), None);
    assert_eq!(a.len(), 3);
    let b: Attributes = [("zeta", "z"), ("job_title", "VP"), ("Alpha", "a")]
        .into_iter()
        .collect();
    assert_eq!(a, b);
}

#[test]
fn an_empty_value_removes_the_attribute() {
    let mut a: Attributes = [("email_domain", "gmail.com"), ("job_title", "CTO")]
        .into_iter()
        .collect();
    assert!(
        !a.update(&[("country", "")]),
        "removing nothing changes nothing"
    );
    assert!(a.update(&[("email_domain", "")]));
    assert_eq!(a.get("email_domain"), None);
    assert_eq!(a.iter().collect::<Vec<_>>(), [("job_title", "CTO")]);
    assert_eq!(a.check_update(&[("email_domain", "")]), Ok(()));
}

#[test]
fn long_and_unicode_text_round_trips() {
    let long_value = "é".repeat(40_000); // 80,000 bytes: cut to the limit
    let name = "名前".repeat(10);
    let mut a = Attributes::default();
    a.update(&[(name.as_str(), "ünïcode"), ("email", &long_value)]);
    assert_eq!(a.get(&name), Some("ünïcode"));
    let kept = a.get("email").unwrap();
    assert!(kept.len() <= MAX_VALUE_LEN && long_value.starts_with(kept));
    let mid = "x".repeat(0xD900); // a length in the surrogate range
    a.insert("notes", &mid);
    assert_eq!(a.get("notes").map(str::len), Some(0xD900));
    assert_eq!(a.get(&name), Some("ünïcode"));
}
