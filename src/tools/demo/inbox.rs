//! The demo's rep side: an embedded Standard Webhooks receiver that
//! `leadpulse notify` delivers to, printing each notification as the rep
//! reads it (once per `webhook-id`, signature checked), and a simulated rep
//! who clicks "Contacted" on about 60% of hot leads, through the
//! notifier's real one-click feedback link (the confirmation page, then
//! its form), within the SLA.

use std::collections::BTreeSet;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use serde_json::Value;

use super::console::{now_ms, points, rep_name};
use super::{lock, Story};
use crate::core::{Millis, Roster};

/// Where the demo's output goes, shared by the printer and the inbox.
pub(super) type Out = Arc<Mutex<Box<dyn Write + Send>>>;

/// Notifications the inbox took in, by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InboxCounts {
    /// Distinct notifications (by `webhook-id`).
    pub received: u64,
    /// Of those, hot leads.
    pub hot: u64,
    /// Requests that repeated a `webhook-id` already received.
    pub duplicates: u64,
    /// Requests whose signature did not verify (refused with 401).
    pub forged: u64,
    /// "Contacted" clicks the feedback endpoint recorded.
    pub clicks: u64,
}

struct Inbox {
    key: Vec<u8>,
    out: Out,
    story: Arc<Mutex<Story>>,
    seen: Mutex<BTreeSet<String>>,
    counts: Arc<Mutex<InboxCounts>>,
    /// The follow-up SLA, to time the rep's click within it.
    sla: Millis,
    roster: Option<Arc<Roster>>,
    http: reqwest::Client,
}

/// The running inbox: its URL, and a handle that stops it.
pub(super) struct Running {
    pub url: String,
    stop: Arc<AtomicBool>,
    thread: thread::JoinHandle<()>,
    counts: Arc<Mutex<InboxCounts>>,
}

impl Running {
    /// Stops the receiver and the rep; what they did.
    pub fn stop(self) -> InboxCounts {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
        let c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        c.clone()
    }
}

/// Starts the receiver on a free loopback port, verifying with `key`.
pub(super) fn start(
    key: Vec<u8>,
    out: Out,
    story: Arc<Mutex<Story>>,
    sla: Millis,
    roster: Option<Arc<Roster>>,
) -> anyhow::Result<Running> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let url = format!("http://{}/hooks/leadpulse", listener.local_addr()?);
    let stop = Arc::new(AtomicBool::new(false));
    let counts = Arc::new(Mutex::new(InboxCounts::default()));
    let inbox = Arc::new(Inbox {
        key,
        out,
        story,
        seen: Mutex::new(BTreeSet::new()),
        counts: counts.clone(),
        sla,
        roster,
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()?,
    });
    let flag = stop.clone();
    let thread = thread::Builder::new()
        .name("leadpulse-demo-inbox".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => return eprintln!("leadpulse demo: the inbox cannot start: {e}"),
            };
            rt.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                    return;
                };
                let app = Router::new()
                    .route("/hooks/leadpulse", post(receive))
                    .with_state(inbox);
                let stopped = async move {
                    while !flag.load(Ordering::Relaxed) {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                };
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(stopped)
                    .await;
            });
        })?;
    Ok(Running {
        url,
        stop,
        thread,
        counts,
    })
}

fn say(out: &Out, text: &str) {
    let mut o = out.lock().unwrap_or_else(|p| p.into_inner());
    let _ = writeln!(o, "{text}");
    let _ = o.flush();
}

/// One delivery: verify, de-duplicate by `webhook-id`, print, and let the
/// rep act on a hot lead.
async fn receive(State(inbox): State<Arc<Inbox>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let h = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let (id, ts) = (h("webhook-id").to_owned(), h("webhook-timestamp"));
    let valid = ts.parse::<i64>().ok().is_some_and(|ts| {
        let want =
            crate::notify::webhook_signature(std::slice::from_ref(&inbox.key), &id, ts, &body);
        h("webhook-signature").split(' ').any(|s| s == want)
    });
    if !valid {
        inbox.counts.lock().expect("not poisoned").forged += 1;
        return StatusCode::UNAUTHORIZED;
    }
    if !inbox.seen.lock().expect("not poisoned").insert(id.clone()) {
        inbox.counts.lock().expect("not poisoned").duplicates += 1;
        return StatusCode::OK;
    }
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    let hot = v["type"] == "lead.hot";
    {
        let mut c = inbox.counts.lock().expect("not poisoned");
        c.received += 1;
        c.hot += u64::from(hot);
    }
    say(&inbox.out, &render(&v, inbox.roster.as_deref()));
    if hot {
        if let Some(click) = plan_click(&v, inbox.sla) {
            tokio::spawn(click_later(inbox.clone(), click));
        }
    }
    StatusCode::OK
}

/// A notification as the rep sees it in their tool.
fn render(v: &Value, roster: Option<&Roster>) -> String {
    let d = &v["data"];
    let s = |v: &Value| v.as_str().unwrap_or("").to_owned();
    let mut out = format!(
        "NOTIFY     → {}: {}\n           {}",
        rep_name(roster, d["rep_id"].as_str().unwrap_or("-")),
        s(&d["text"]),
        s(&d["who"])
    );
    if let Some(what) = d["what"].as_str() {
        out.push_str(&format!("\n           {what}"));
    }
    if let Some(dl) = d["deadline"]["text"].as_str() {
        out.push_str(&format!("\n           {dl}"));
    }
    let reasons: Vec<String> = d["reasons"]
        .as_array()
        .into_iter()
        .flatten()
        .take(3)
        .map(|r| {
            format!(
                "{}{} {}",
                if r["points"].as_f64().unwrap_or(0.0) < 0.0 {
                    ""
                } else {
                    "+"
                },
                points(r["points"].as_f64().unwrap_or(0.0)),
                s(&r["label"])
            )
        })
        .collect();
    if !reasons.is_empty() {
        out.push_str(&format!("\n           why: {}", reasons.join(", ")));
    }
    if let Some(a) = d["activities"].as_array().and_then(|a| a.first()) {
        out.push_str(&format!("\n           latest: {}", s(a)));
    }
    let buttons: Vec<String> = d["feedback_links"]
        .as_array()
        .into_iter()
        .flatten()
        .take(2)
        .map(|l| format!("[{}]", s(&l["label"])))
        .collect();
    if !buttons.is_empty() {
        out.push_str(&format!("\n           {}", buttons.join(" ")));
    }
    out
}

/// The rep's planned click on a hot lead.
struct Click {
    url: String,
    lead_id: String,
    rep: String,
    alert_id: String,
    /// Wall-clock time of the click.
    due: Millis,
    /// Time from the alert to the click.
    after: Millis,
}

/// About 60% of hot leads are contacted after 15–60% of their SLA, chosen
/// from the alert id, so a seed gives the same plan; the others are left
/// alone and breach it.
fn plan_click(v: &Value, sla: Millis) -> Option<Click> {
    let d = &v["data"];
    let alert_id = d["alert_id"].as_str()?.to_owned();
    let h = xxhash_rust::xxh3::xxh3_64(alert_id.as_bytes());
    if h % 100 >= 60 {
        return None;
    }
    let url = d["feedback_links"]
        .as_array()?
        .iter()
        .find(|l| l["label"] == "Contacted")?["url"]
        .as_str()?
        .to_owned();
    let respond_by = crate::codec::parse_rfc3339(d["deadline"]["at"].as_str()?).ok()?;
    let after = sla * (15 + ((h >> 8) % 46) as Millis) / 100;
    Some(Click {
        url,
        lead_id: d["lead_id"].as_str()?.to_owned(),
        rep: d["rep_id"].as_str()?.to_owned(),
        alert_id,
        due: respond_by - sla + after,
        after,
    })
}

/// Opens the link (the confirmation page), then confirms (its form), as a
/// person in a browser would.
async fn click_later(inbox: Arc<Inbox>, c: Click) {
    let wait = (c.due - now_ms()).max(0) as u64;
    tokio::time::sleep(Duration::from_millis(wait)).await;
    let Some((base, query)) = c.url.split_once('?') else {
        return;
    };
    let page = inbox.http.get(&c.url).send().await;
    let confirmed = match page {
        Ok(p) if p.status().is_success() => {
            inbox
                .http
                .post(base)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(query.to_owned())
                .send()
                .await
        }
        Ok(p) => {
            return say(
                &inbox.out,
                &format!("CLICK FAILED {}: HTTP {}", c.lead_id, p.status()),
            )
        }
        Err(e) => return say(&inbox.out, &format!("CLICK FAILED {}: {e}", c.lead_id)),
    };
    let reply = match confirmed {
        Ok(r) if r.status().is_success() => r.text().await.unwrap_or_default(),
        Ok(r) => {
            return say(
                &inbox.out,
                &format!("CLICK FAILED {}: HTTP {}", c.lead_id, r.status()),
            )
        }
        Err(e) => return say(&inbox.out, &format!("CLICK FAILED {}: {e}", c.lead_id)),
    };
    {
        let mut story = lock(&inbox.story);
        story.open.remove(&c.alert_id);
        story.feedback += 1;
        // A breach already seen stays the outcome.
        story
            .outcomes
            .entry(c.alert_id.clone())
            .or_insert("contacted");
    }
    inbox.counts.lock().expect("not poisoned").clicks += 1;
    let rep = rep_name(inbox.roster.as_deref(), &c.rep);
    say(
        &inbox.out,
        &format!(
            "CONTACTED  {}  by {} after {} s, within the {} s SLA: clicked \"Contacted\" in the \
             notification → \"{}\"",
            c.lead_id,
            rep,
            points((c.after as f64 / 100.0).round() / 10.0),
            points(inbox.sla as f64 / 1000.0),
            strip_tags(&reply)
        ),
    );
}

/// The text of the feedback endpoint's HTML reply.
fn strip_tags(html: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for ch in html.chars() {
        match ch {
            '<' => inside = true,
            '>' => inside = false,
            c if !inside => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}
