//! `[notify]` checks: what loads, and what is refused naming its field.

use crate::config::{ChannelSettings, Settings, SettingsError};

fn load(text: &str) -> Result<Settings, SettingsError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("leadpulse.toml");
    std::fs::write(&path, text).unwrap();
    Settings::load(Some(&path), std::iter::empty())
}

const HOOK: &str = "[[notify.channel]]\nkind = \"webhook\"\nname = \"crm\"\n";

#[test]
fn a_good_channel_list_loads() {
    let s = load(&format!(
        "{HOOK}url = \"https://hooks.example.com/x\"\n\
         secrets = [\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\", \"whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD\"]\n\
         [[notify.channel]]\nkind = \"slack\"\nname = \"slack\"\ntoken = \"xoxb-1-2\"\n\
         [[notify.channel]]\nkind = \"email\"\nname = \"mail\"\nhost = \"smtp.example.com\"\n\
         from = \"leadpulse <alerts@example.com>\"\nusername = \"u\"\npassword = \"p\"\n\
         [[notify.channel]]\nkind = \"teams\"\nname = \"teams\"\nurl = \"https://x.webhook.office.com/y\"\n"
    ))
    .unwrap();
    assert_eq!(s.notify.channels.len(), 4);
    assert!(matches!(&s.notify.channels[0], ChannelSettings::Webhook(w) if w.secrets.len() == 2));
    assert!(!format!("{s:?}").contains("whsec_"), "Debug shows a secret");
    assert!(!format!("{s:?}").contains("xoxb-"), "Debug shows a token");
}

#[test]
fn bad_channels_are_refused_naming_the_field() {
    let good_secret = "secrets = [\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"]\n";
    for (text, key, secret) in [
        (
            format!("{HOOK}url = \"https://h.example/x\"\nsecrets = [\"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"]\n"),
            "notify.channel[0].secrets",
            Some("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
        ),
        (
            format!("{HOOK}url = \"https://h.example/x\"\nsecrets = [\"whsec_!!\"]\n"),
            "notify.channel[0].secrets",
            Some("whsec_!!"),
        ),
        (
            format!("{HOOK}url = \"http://h.example/x\"\n{good_secret}"),
            "notify.channel[0].url",
            None,
        ),
        (
            format!("{HOOK}url = \"http://127.0.0.1:8080/x\"\n{good_secret}"),
            "notify.channel[0].url",
            None,
        ),
        (
            format!("{HOOK}url = \"https://h.example/x\"\n{good_secret}{HOOK}url = \"https://h.example/y\"\n{good_secret}"),
            "notify.channel[1].name",
            None,
        ),
        (
            "[[notify.channel]]\nkind = \"slack\"\nname = \"s\"\n".to_owned(),
            "notify.channel[0].token",
            None,
        ),
        (
            "[[notify.channel]]\nkind = \"email\"\nname = \"m\"\nhost = \"smtp.example.com\"\nfrom = \"not an address\"\n".to_owned(),
            "notify.channel[0].from",
            None,
        ),
        (
            "[[notify.channel]]\nkind = \"email\"\nname = \"m\"\nhost = \"smtp.example.com\"\nfrom = \"a@example.com\"\ntls = \"none\"\n".to_owned(),
            "notify.channel[0].tls",
            None,
        ),
        (
            "[notify]\nlead_url = \"https://app.example/leads\"\n".to_owned(),
            "notify.lead_url",
            None,
        ),
        (
            format!("{HOOK}url = \"https://h.example/x\"\n{good_secret}secrets_file = \"/x\"\n"),
            "notify.channel[0].secrets_file",
            None,
        ),
        (
            format!("{HOOK}url = \"https://h.example/x\"\nsecrets_file = \"/nonexistent/hook-secrets\"\n"),
            "notify.channel[0].secrets_file",
            None,
        ),
        (
            "[notify.feedback]\nenabled = true\n".to_owned(),
            "notify.feedback.link_key",
            None,
        ),
        (
            "[notify.feedback]\nlink_key = \"short\"\n".to_owned(),
            "notify.feedback.link_key",
            Some("short"),
        ),
    ] {
        let err = load(&text).unwrap_err().to_string();
        assert!(err.contains(&format!("`{key}`")), "{text}\n→ {err}");
        if let Some(secret) = secret {
            assert!(!err.contains(secret), "the error shows the secret: {err}");
        }
    }
    // Secrets from a mounted file, one a line, checked like inline ones.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hook-secrets");
    std::fs::write(&file, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n\n").unwrap();
    let s = load(&format!(
        "{HOOK}url = \"https://h.example/x\"\nsecrets_file = \"{}\"\n",
        file.display()
    ))
    .unwrap();
    let crate::config::ChannelSettings::Webhook(w) = &s.notify.channels[0] else {
        panic!("not a webhook")
    };
    assert_eq!(w.secrets.len(), 1);
    std::fs::write(&file, "whsec_!!\n").unwrap();
    let err = load(&format!(
        "{HOOK}url = \"https://h.example/x\"\nsecrets_file = \"{}\"\n",
        file.display()
    ))
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("`notify.channel[0].secrets`") && !err.contains("whsec_!!"),
        "{err}"
    );
    // Allowed explicitly for a receiver on this machine.
    load(&format!(
        "{HOOK}url = \"http://127.0.0.1:8080/x\"\n{good_secret}allow_http_localhost = true\n"
    ))
    .unwrap();
}

#[test]
fn an_unknown_channel_kind_or_key_is_refused_naming_it() {
    let err = load("[[notify.channel]]\nkind = \"sms\"\nname = \"x\"\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("sms") && err.contains("webhook"), "{err}");
    let err = load(&format!(
        "{HOOK}url = \"https://h.example/x\"\nsecrets = [\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"]\nsecret = \"x\"\n"
    ))
    .unwrap_err()
    .to_string();
    assert!(err.contains("secret"), "{err}");
}
