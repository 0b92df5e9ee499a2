//! Tests of the `[topics]` settings and the topic registry.

use super::*;

fn load(text: &str) -> Result<Settings, SettingsError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("leadpulse.toml");
    std::fs::write(&path, text).unwrap();
    Settings::load(Some(&path), std::iter::empty())
}

#[test]
fn every_topic_is_a_settings_key_and_found_by_its_name() {
    for topic in Topic::ALL {
        assert_eq!(topic.key(), format!("topics.{}", topic.field()));
        let name = format!("custom-{}", topic.field());
        let s = load(&format!("[topics]\n{} = \"{name}\"\n", topic.field()))
            .unwrap_or_else(|e| panic!("{}: {e}", topic.key()));
        let names = TopicNames::from_settings(&s);
        assert_eq!(names.name(topic), name);
        assert_eq!(names.topic_of(&name), Some(topic));
    }
    let names = TopicNames::from_settings(&Settings::default());
    assert_eq!(names.iter().count(), Topic::ALL.len());
    assert_eq!(names.topic_of("lead-events"), Some(Topic::Events));
    assert_eq!(names.topic_of("lead-feedback"), Some(Topic::Feedback));
    assert_eq!(names.topic_of("somebody-elses-topic"), None);
}

#[test]
fn roles_and_compaction() {
    let inputs: Vec<Topic> = Topic::ALL
        .into_iter()
        .filter(|t| t.role() == Role::Input)
        .collect();
    assert_eq!(inputs, [Topic::Events, Topic::Feedback]);
    assert_eq!(Topic::Dlq.role(), Role::DeadLetter);
    assert_eq!(Topic::Changelog.role(), Role::Changelog);
    for topic in Topic::ALL {
        let compact = topic
            .creation_config()
            .contains(&("cleanup.policy", "compact"));
        assert_eq!(compact, topic.compacted(), "{}", topic.key());
        // replay --outputs writes every output, and nothing else.
        assert_eq!(
            topic.replay_file().is_some(),
            topic.role() == Role::Output,
            "{}",
            topic.key()
        );
    }
    assert_eq!(
        Topic::Handoffs.replay_file().as_deref(),
        Some("lead-handoffs.ndjson")
    );
}

#[test]
fn a_name_shared_by_two_topics_is_refused_naming_both_keys() {
    let err = load("[topics]\nfeedback = \"lead-events\"\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`topics.feedback` and `topics.events` are both `lead-events`"),
        "{err}"
    );
    // Every topic against another one, the changelog included.
    let defaults = TopicNames::from_settings(&Settings::default());
    for (i, topic) in Topic::ALL.into_iter().enumerate() {
        let other = Topic::ALL[(i + 1) % Topic::ALL.len()];
        let shared = defaults.name(other);
        let err = load(&format!("[topics]\n{} = \"{shared}\"\n", topic.field()))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&format!("`{}`", topic.key()))
                && err.contains(&format!("`{}`", other.key()))
                && err.contains(&format!("are both `{shared}`")),
            "{err}"
        );
    }
    // The default changelog name follows the group id.
    let err = load("[kafka]\ngroup_id = \"g\"\n[topics]\nalerts = \"g-lead-state-changelog\"\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`topics.changelog` and `topics.alerts`"),
        "{err}"
    );
}

#[test]
fn an_empty_name_is_refused_naming_its_key() {
    for topic in Topic::ALL {
        let err = load(&format!("[topics]\n{} = \"\"\n", topic.field()))
            .unwrap_err()
            .to_string();
        assert!(err.contains(&format!("`{}`", topic.key())), "{err}");
    }
}

#[test]
fn names_kafka_refuses_are_refused_naming_the_key() {
    let longest = "a".repeat(MAX_TOPIC_NAME_LEN);
    load(&format!("[topics]\nalerts = \"{longest}\"\n")).unwrap();
    load("[topics]\nalerts = \"team.hot_leads-v2\"\n").unwrap();
    for (name, says) in [
        (format!("{longest}a"), "at most 249"),
        (".".to_owned(), "not a topic name"),
        ("..".to_owned(), "not a topic name"),
        ("hot leads".to_owned(), "' '"),
        ("hot/leads".to_owned(), "'/'"),
        ("heiße-leads".to_owned(), "'ß'"),
    ] {
        let err = load(&format!("[topics]\nalerts = \"{name}\"\n"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`topics.alerts`") && err.contains(says),
            "{err}"
        );
    }
    // The default changelog name is made from the group id.
    let err = load("[kafka]\ngroup_id = \"sales team\"\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`kafka.group_id`") && err.contains("topics.changelog"),
        "{err}"
    );
    load("[kafka]\ngroup_id = \"sales team\"\n[topics]\nchangelog = \"sales-state\"\n").unwrap();
}

#[test]
fn names_that_differ_only_in_dot_and_underscore_are_refused() {
    let err = load("[topics]\nalerts = \"hot.leads\"\nbreaches = \"hot_leads\"\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`topics.breaches`") && err.contains("`topics.alerts` (`hot.leads`)"),
        "{err}"
    );
}

#[test]
fn partitions_and_replication_factor_are_bounded() {
    for ok in [
        "partitions = 1",
        "partitions = 100000",
        "replication_factor = -1",
    ] {
        load(&format!("[topics]\n{ok}\n")).unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
    load("[topics]\nreplication_factor = 32767\n").unwrap();
    for (bad, key) in [
        ("partitions = 0", "topics.partitions"),
        ("partitions = 100001", "topics.partitions"),
        ("partitions = 2147483647", "topics.partitions"),
        ("replication_factor = 0", "topics.replication_factor"),
        ("replication_factor = -2", "topics.replication_factor"),
        ("replication_factor = 32768", "topics.replication_factor"),
    ] {
        let err = load(&format!("[topics]\n{bad}\n")).unwrap_err().to_string();
        assert!(err.contains(&format!("`{key}`")), "{bad}: {err}");
    }
}
