//! What a newcomer meets first, checked as they would meet it: the test
//! script's footprint on the system, the demo's story and summary, the
//! commands' messages and exit statuses, and the docs that describe them.
//! None of these needs a broker.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(name: &str) -> String {
    std::fs::read_to_string(root().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Runs leadpulse in the repository with no LEADPULSE_* from outside.
fn leadpulse(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_leadpulse"));
    cmd.args(args).current_dir(root());
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("LEADPULSE_")) {
        cmd.env_remove(k);
    }
    cmd.envs(env.iter().copied());
    cmd.output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The number right after `prefix` in `line`.
fn number_after(line: &str, prefix: &str) -> f64 {
    let at = line
        .find(prefix)
        .unwrap_or_else(|| panic!("`{prefix}` not in {line:?}"))
        + prefix.len();
    let digits: String = line[at..]
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("no number after `{prefix}` in {line:?}"))
}

fn summary_line<'a>(out: &'a str, label: &str) -> &'a str {
    out.lines()
        .find(|l| l.starts_with(label))
        .unwrap_or_else(|| panic!("no `{label}` line in the summary:\n{out}"))
}

// ---- scripts/test.sh (defect 2) ---------------------------------------------

#[test]
fn the_test_script_installs_only_what_it_names_and_the_readme_says_what() {
    let script = read("scripts/test.sh");
    let installs: Vec<&str> = script
        .lines()
        .filter(|l| l.contains("apt-get install"))
        .collect();
    assert!(!installs.is_empty(), "scripts/test.sh installs nothing?");
    for line in &installs {
        assert!(
            line.contains("--no-install-recommends"),
            "an install that pulls in recommended packages: {line}"
        );
    }
    // Still the whole workspace's lints and tests.
    assert!(script.contains("cargo clippy --locked --workspace --all-targets -- -D warnings"));
    assert!(script.contains("cargo test --locked --workspace --all-targets"));

    let readme = read("README.md");
    let packages: BTreeSet<&str> = script
        .split("need_apt+=(")
        .skip(1)
        .map(|rest| rest.split(')').next().unwrap())
        .collect();
    assert!(packages.contains("chromium"), "{packages:?}");
    for p in &packages {
        assert!(
            readme.contains(&format!("`{p}`")),
            "README.md does not say scripts/test.sh may install `{p}`"
        );
    }
    assert!(readme.contains("--no-install-recommends"));
    assert!(
        script.contains("LEADPULSE_CHROMIUM") && readme.contains("LEADPULSE_CHROMIUM"),
        "README.md must say how to use a Chromium that is already there"
    );
}

// ---- the demo (defects 3, 4, 5) ----------------------------------------------

/// One short demo with a short SLA, so that its whole story (alerts,
/// contacts, breaches, reassignments, second breaches) fits in a test.
#[test]
fn the_demo_tells_its_story_to_the_end_and_its_summary_adds_up() {
    let out = leadpulse(
        &[
            "demo",
            "--duration",
            "12",
            "--sla-secs",
            "8",
            "--rate",
            "500",
        ],
        &[("TZ", "UTC")],
    );
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stderr}\n{stdout}");
    assert!(!stdout.contains("[(\""), "Rust debug output: {stdout}");
    assert!(!stdout.contains("{ "), "Rust debug output: {stdout}");
    assert!(stderr.contains("Times are UTC"), "{stderr}");
    assert!(stderr.contains("8 s follow-up SLA"), "{stderr}");

    // Every alert ended: contacted in time, or breached.
    let alerts = summary_line(&stdout, "hot-lead alerts");
    let total = number_after(alerts, "hot-lead alerts");
    let contacted = number_after(alerts, "=");
    let breached = number_after(alerts, "contacted within the SLA +");
    let open = number_after(alerts, "breached +");
    assert!(total >= 1.0, "the demo raised no alert:\n{stdout}");
    assert_eq!(contacted + breached + open, total, "{alerts}");
    assert_eq!(open, 0.0, "deadlines left open: {alerts}");
    let starting = |what: &str| stdout.lines().filter(|l| l.starts_with(what)).count() as f64;
    assert_eq!(starting("HOT LEAD "), total, "{stdout}");
    let contacts = starting("CONTACTED ");

    // The loop, end to end: every hot lead reaches its rep's inbox through
    // `leadpulse notify`, each contact is a click on the notification's
    // one-click link, and the handoff shows it.
    for line in stdout.lines().filter(|l| l.starts_with("HOT LEAD ")) {
        let lead = line.split_whitespace().nth(2).unwrap();
        assert!(
            stdout.contains(&format!("· Lead {lead}"))
                || stdout.contains(&format!("\n           Lead {lead}")),
            "no notification for {lead}:\n{stdout}"
        );
    }
    assert!(contacts >= 1.0, "no rep clicked:\n{stdout}");
    for line in stdout.lines().filter(|l| l.starts_with("CONTACTED ")) {
        assert!(
            line.contains("clicked \"Contacted\" in the notification → \"Thanks: lead "),
            "{line}"
        );
        let lead = line.split_whitespace().nth(1).unwrap();
        assert!(
            stdout.lines().any(
                |l| l.starts_with(&format!("HANDOFF    {lead}  first contact by "))
                    && l.contains(": SLA met, stage ")
            ),
            "no handoff change for {lead}:\n{stdout}"
        );
    }
    let notes = summary_line(&stdout, "notifications");
    assert_eq!(
        number_after(notes, "inbox ("),
        total,
        "one hot-lead notification per alert: {notes}"
    );
    assert_eq!(number_after(notes, "webhook-id;"), contacts, "{notes}");

    // Breaches: first ones, and second ones after a reassignment.
    let breaches = summary_line(&stdout, "SLA breaches");
    let records = number_after(breaches, "SLA breaches");
    let first = number_after(breaches, "=");
    let again = number_after(breaches, "missed +");
    assert_eq!(first, breached, "{breaches}");
    assert_eq!(first + again, records, "{breaches}");
    let breach_lines: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("SLA BREACH "))
        .collect();
    assert_eq!(breach_lines.len() as f64, records, "{stdout}");

    // Nobody escalates to themselves, and people go by name.
    for line in &breach_lines {
        let rep = line
            .split("  ")
            .nth(1)
            .unwrap()
            .split(" did not respond")
            .next()
            .unwrap()
            .trim_end_matches(" (after a reassignment)");
        let lead = line
            .split("escalated to ")
            .nth(1)
            .unwrap()
            .split(", lead of")
            .next()
            .unwrap();
        assert_ne!(rep, lead, "escalated to the rep who missed it: {line}");
        assert!(rep.contains(' ') && lead.contains(' '), "names: {line}");
    }

    // Engagement and feedback events are counted apart, and add up.
    let engagement = number_after(summary_line(&stdout, "engagement events"), "events");
    let malformed = number_after(summary_line(&stdout, "engagement events"), "produced,");
    let feedback = number_after(summary_line(&stdout, "feedback events"), "events");
    assert_eq!(feedback, contacts, "one feedback event per contact");
    assert!(contacted <= contacts, "{alerts}");
    let read_line = summary_line(&stdout, "records read");
    let read = number_after(read_line, "records read");
    let scored = number_after(read_line, "=");
    let dead = number_after(read_line, "scored +");
    assert_eq!(read, engagement + feedback, "{read_line}");
    assert_eq!(scored + dead, read, "{read_line}");
    assert_eq!(
        dead, malformed,
        "only the injected records are dead letters"
    );

    // Dead letters: a table, marked as injected on purpose, with a total.
    let table = &stdout[stdout
        .find("dead letters (injected on purpose")
        .unwrap_or_else(|| panic!("no dead-letter table:\n{stdout}"))..];
    let total_row = table
        .lines()
        .find(|l| l.trim_start().starts_with("total "))
        .unwrap();
    assert_eq!(number_after(total_row, "total"), dead, "{table}");

    // "why" adds up to the score; deadlines read as a clock and a distance.
    let mut lines = stdout.lines();
    while let Some(line) = lines.next() {
        let Some(rest) = line.strip_prefix("HOT LEAD ") else {
            continue;
        };
        let score = number_after(rest, "score");
        let clock = rest
            .split(" respond by ")
            .nth(1)
            .unwrap_or_else(|| panic!("no deadline: {line}"));
        let distance = clock[8..].trim();
        assert!(
            distance == "(now)"
                || (distance.starts_with("(in ") || distance.ends_with(" ago)"))
                    && (distance.contains(" s") || distance.contains(" min")),
            "deadline with how far off it is: {line}"
        );
        assert!(
            clock.as_bytes()[2] == b':'
                && clock.as_bytes()[5] == b':'
                && clock.as_bytes()[8] == b' ',
            "local time to the second, no date or milliseconds: {line}"
        );
        let why = lines.next().unwrap().trim_start();
        let why = why.strip_prefix("why: ").unwrap();
        let (parts, total) = why.rsplit_once(" = ").unwrap();
        assert_eq!(total.parse::<f64>().unwrap(), score, "{why}");
        // Each part starts with its sign; labels may hold ", " themselves.
        let sum: f64 = parts
            .split(", ")
            .filter(|p| p.starts_with('+') || p.starts_with('−'))
            .map(|p| {
                let p = p.replace("+ ", "+").replace('−', "-");
                let n = p.split(' ').next().unwrap();
                n.parse::<f64>()
                    .unwrap_or_else(|_| panic!("`{n}` in {why}"))
            })
            .sum();
        assert!(
            (sum - score).abs() < 0.1,
            "why does not add up to {score}: {why}"
        );
    }
}

#[test]
fn the_example_rosters_give_every_team_a_lead_who_takes_no_new_leads() {
    let examples = read("examples/routing.toml");
    let configmap: serde_norway::Value =
        serde_norway::from_str(&read("deploy/kubernetes/configmap.yaml")).unwrap();
    let deployed = configmap["data"]["routing.toml"]
        .as_str()
        .unwrap()
        .to_owned();
    for (origin, text) in [("examples", examples), ("configmap", deployed)] {
        let roster = leadpulse::core::Roster::from_toml(origin, &text).unwrap();
        assert_eq!(roster.warnings(), Vec::<String>::new(), "{origin}");
    }
}

#[test]
fn a_team_lead_who_takes_new_leads_is_warned_about_when_the_roster_loads() {
    let dir = tempfile::tempdir().unwrap();
    let roster = dir.path().join("routing.toml");
    let self_escalating = read("examples/routing.toml")
        .replace("lead = \"ingrid\"", "lead = \"lars\"")
        .replace("id = \"ingrid\"", "id = \"erik\"");
    std::fs::write(&roster, self_escalating).unwrap();
    let events = dir.path().join("events.ndjson");
    std::fs::write(&events, "").unwrap();
    let replay = |roster: &Path| {
        let out = leadpulse(
            &[
                "replay",
                "--model",
                "examples/model.toml",
                "--events",
                events.to_str().unwrap(),
                "--routing",
                roster.to_str().unwrap(),
            ],
            &[],
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stderr)
    };
    let stderr = replay(&roster);
    let warnings: Vec<&str> = stderr.lines().filter(|l| l.contains("WARN")).collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(
        warnings[0].contains("team `emea`: its lead `lars` is also an available rep"),
        "{stderr}"
    );
    let stderr = replay(&root().join("examples/routing.toml"));
    assert!(!stderr.contains("WARN"), "{stderr}");
}

// ---- replay's summary (defect 3) ---------------------------------------------

#[test]
fn replay_lists_dead_letters_as_a_table_not_debug_output() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.ndjson");
    let good = read("examples/events.ndjson");
    let good: Vec<&str> = good.lines().take(20).collect();
    std::fs::write(
        &events,
        format!(
            "{}\nnot json\n{{\"event_id\":\"x\",\"type\":\"page_view\"}}\nnot json either\n",
            good.join("\n")
        ),
    )
    .unwrap();
    let out = leadpulse(
        &[
            "replay",
            "--model",
            "examples/model.toml",
            "--events",
            events.to_str().unwrap(),
            "--reference-time",
            "2026-11-27T00:00:00Z",
        ],
        &[],
    );
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("[(\""), "Rust debug output: {stderr}");
    let summary = stderr.lines().find(|l| l.starts_with("replay: ")).unwrap();
    assert!(
        summary.starts_with("replay: 23 events, 20 scored, "),
        "{summary}"
    );
    assert!(summary.contains(" 3 dead-lettered;"), "{summary}");
    let table: Vec<&str> = stderr
        .lines()
        .skip_while(|l| !l.starts_with("dead-lettered by reason"))
        .skip(1)
        .collect();
    assert_eq!(
        table[0].split_whitespace().collect::<Vec<_>>(),
        ["reason", "records"]
    );
    assert_eq!(
        table.last().unwrap().split_whitespace().collect::<Vec<_>>(),
        ["total", "3"]
    );
    let rows: u64 = table[1..table.len() - 1]
        .iter()
        .map(|l| l.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(rows, 3, "{stderr}");
}

// ---- exit statuses and the README (defect 7) --------------------------------

#[test]
fn run_exits_as_the_readme_says_for_a_bad_model_and_a_bad_config() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("broken.toml");
    std::fs::write(
        &model,
        read("examples/model.toml").replacen("event = \"page_view\"", "event = \"page_veiw\"", 1),
    )
    .unwrap();
    let out = leadpulse(
        &["run", "--model", model.to_str().unwrap()],
        &[("LEADPULSE_ADMIN__ENABLED", "false")],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("page_veiw"),
        "{}",
        text(&out.stderr)
    );

    let config = dir.path().join("leadpulse.toml");
    std::fs::write(&config, "[kafka]\nbootstrap_servres = \"x:1\"\n").unwrap();
    let out = leadpulse(&["run", "--config", config.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));

    let readme = read("README.md")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        readme.contains("1 for a bad config"),
        "README.md: exit status 1"
    );
    assert!(
        readme.contains("2 when the service cannot start or go on: a bad model"),
        "README.md: exit status 2 for a bad model"
    );
}

#[test]
fn the_readme_says_how_to_use_and_stop_a_broker_without_docker() {
    let readme = read("README.md");
    let section = &readme[readme.find("Without Docker").unwrap()..];
    let section = &section[..section.find("### ").unwrap()];
    assert!(section.contains("scripts/kafka/start.sh"), "{section}");
    assert!(
        section.contains("LEADPULSE_KAFKA__BOOTSTRAP_SERVERS=$KAFKA_BOOTSTRAP"),
        "{section}"
    );
    assert!(
        section.contains("scripts/kafka/stop.sh \"$KAFKA_DATA_DIR\""),
        "{section}"
    );
    // What start.sh prints is what the README evaluates.
    let start = read("scripts/kafka/start.sh");
    assert!(start.contains("echo \"KAFKA_BOOTSTRAP="));
    assert!(start.contains("echo \"KAFKA_DATA_DIR="));
}

// ---- docs against the program (defect 8) ------------------------------------

#[test]
fn the_event_types_in_docs_model_md_are_the_programs() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("broken.toml");
    std::fs::write(
        &model,
        read("examples/model.toml").replacen("event = \"page_view\"", "event = \"page_veiw\"", 1),
    )
    .unwrap();
    let out = leadpulse(&["model", "check", model.to_str().unwrap()], &[]);
    assert!(!out.status.success());
    let said = text(&out.stdout) + &text(&out.stderr);
    let line = said
        .lines()
        .find(|l| l.starts_with("unknown variant `page_veiw`"))
        .unwrap_or_else(|| panic!("{said}"));
    assert!(
        read("docs/model.md").contains(line),
        "docs/model.md shows another list of event types; the program says:\n{line}"
    );
}

#[test]
fn the_docs_say_which_sla_sets_respond_by_and_what_leads_id_returns() {
    let topics = read("docs/topics.md");
    let respond_by = topics
        .lines()
        .skip_while(|l| !l.starts_with("- `respond_by` ="))
        .take_while(|l| !l.starts_with("- `reasons`"))
        .collect::<Vec<_>>()
        .join(" ");
    assert!(respond_by.contains("sla_minutes"), "{respond_by}");
    assert!(respond_by.contains("90 for EMEA"), "{respond_by}");
    let roster = leadpulse::core::Roster::from_toml("r", &read("examples/routing.toml")).unwrap();
    assert_eq!(roster.team("emea").unwrap().sla, 90 * 60_000);

    let config = read("docs/config.md")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        !config.contains("arrive with the SLA loop"),
        "docs/config.md"
    );
    assert!(
        config.contains("lifecycle `stage`, `handoff`"),
        "docs/config.md"
    );
    // What the admin edge puts in the body.
    let admin = read("src/service/admin.rs");
    assert!(admin.contains("o.insert(\"stage\".into()"));
    assert!(admin.contains("o.insert(\"handoff\".into()"));
}

#[test]
fn compose_creates_every_topic_of_the_asyncapi_document_with_its_cleanup_policy() {
    let compose: serde_norway::Value = serde_norway::from_str(&read("docker-compose.yml")).unwrap();
    let script = compose["services"]["kafka-init"]["command"][0]
        .as_str()
        .unwrap();
    let created: Vec<(String, bool)> = script
        .lines()
        .map(str::trim)
        .filter_map(|l| l.strip_prefix("t "))
        .map(|l| {
            let name = l.split_whitespace().next().unwrap().to_owned();
            (name, l.contains("cleanup.policy=compact"))
        })
        .collect();
    let asyncapi: serde_norway::Value =
        serde_norway::from_str(&read("docs/asyncapi.yaml")).unwrap();
    let mut channels: Vec<(String, bool)> = asyncapi["channels"]
        .as_mapping()
        .unwrap()
        .values()
        .map(|c| {
            let policy = &c["bindings"]["kafka"]["topicConfiguration"]["cleanup.policy"];
            let compact = policy
                .as_sequence()
                .is_some_and(|p| p.iter().any(|v| v.as_str() == Some("compact")));
            (c["address"].as_str().unwrap().to_owned(), compact)
        })
        .collect();
    channels.sort();
    let mut created_sorted = created.clone();
    created_sorted.sort();
    assert_eq!(channels.len(), 19, "{channels:?}");
    assert_eq!(created_sorted, channels, "kafka-init vs docs/asyncapi.yaml");
    let comment = read("docker-compose.yml");
    assert!(comment.contains("Creates every topic of docs/topics.md"));
}

// ---- an unreachable broker (defect 9) ---------------------------------------

/// One line saying no broker answered, exit status 1, and nothing else:
/// not librdkafka's log of each failed attempt.
fn one_clear_line(args: &[&str]) {
    let out = leadpulse(
        args,
        &[("LEADPULSE_KAFKA__BOOTSTRAP_SERVERS", "127.0.0.1:1")],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(
        lines.len(),
        1,
        "{args:?} printed more than one line:\n{stderr}"
    );
    assert!(
        lines[0].starts_with("leadpulse: no broker of `127.0.0.1:1` answered within 2 s"),
        "{args:?}: {stderr}"
    );
    assert!(!stderr.contains("ERROR"), "{stderr}");
}

#[test]
fn report_from_an_unreachable_broker_says_so_in_one_line() {
    one_clear_line(&[
        "report",
        "--config",
        "deploy/leadpulse.toml",
        "--kafka-timeout",
        "2",
    ]);
}

#[test]
fn generate_to_an_unreachable_broker_says_so_in_one_line() {
    one_clear_line(&[
        "generate",
        "--kafka",
        "--config",
        "deploy/leadpulse.toml",
        "--events",
        "100",
        "--kafka-timeout",
        "2",
    ]);
}

#[test]
fn the_readme_documents_the_unreachable_broker_exit() {
    let readme = read("README.md")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(readme.contains("`--kafka-timeout`"), "README.md");
    assert!(readme.contains("it exits 1 with one line"), "README.md");
}
