//! `leadpulse generate --outcomes`: a stream whose won deals have known
//! causes, to check that `model suggest` finds them.
//!
//! Leads arrive over `days`, each with its own history of 5 to 14 events
//! about a day apart; the stream ends after `days` (later events, wins
//! included, are not in it, as in any window of real data). Some leads keep visiting [`DRIVER_PAGE`], some keep
//! submitting the [`DRIVER_FORM`] form, some keep reading [`NOISE_PAGE`];
//! after its last engagement event a lead wins with odds that the driver
//! page and form (and, less, a senior title and a 201+ company) truly
//! raise and the noise page does not:
//! `logit P(won) = -3.4 + 2.2·page + 2.0·form + 0.9·senior + 0.8·size`.
//! A win is written as sales feedback (`lead_accepted`, `lead_qualified`,
//! `deal_won`) two to six days later; won leads then visit [`AFTER_WIN_PAGE`], which
//! only a leak of post-outcome events could make look predictive. About a
//! third of the others are accepted and lost. Deterministic for a seed.

use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::core::{Event, EventKind, Feedback, Millis, DAY_MS};

/// The page that truly raises the odds of a win.
pub const DRIVER_PAGE: &str = "/integrations/salesforce";
/// The form that truly raises the odds of a win.
pub const DRIVER_FORM: &str = "roi-calculator";
/// A page many leads read that has nothing to do with winning.
pub const NOISE_PAGE: &str = "/docs/changelog";
/// A page won leads visit after the win.
pub const AFTER_WIN_PAGE: &str = "/customers/onboarding";

/// The shape of a stream with outcomes.
#[derive(Debug, Clone)]
pub struct OutcomeConfig {
    pub leads: u32,
    /// Event time of the first lead's arrival window.
    pub start: Millis,
    /// Leads arrive over this many days, and the stream ends after them.
    pub days: f64,
    pub seed: u64,
}

const DOMAINS: &[&str] = &[
    "acme.io",
    "globex.com",
    "initech.com",
    "umbrella.co",
    "hooli.com",
    "vandelay.com",
    "soylent.io",
    "tyrell.ai",
    "wonka.com",
    "oscorp.net",
];
const TITLES: &[&str] = &[
    "VP Engineering",
    "CTO",
    "Head of Data",
    "Director of IT",
    "Software Engineer",
    "Product Manager",
    "Marketing Manager",
    "Analyst",
    "Data Engineer",
    "Consultant",
];
const SIZES: &[&str] = &["11-50", "51-200", "201-1000", "1001-5000", "5000+"];
const INDUSTRIES: &[&str] = &[
    "software",
    "finance",
    "retail",
    "healthcare",
    "manufacturing",
];
const COUNTRIES: &[&str] = &["US", "GB", "DE", "FR", "NL", "CA", "IN", "BR"];
const PAGES: &[&str] = &[
    "/",
    "/blog/speed-to-lead",
    "/blog/mql-vs-sql",
    "/docs/getting-started",
    "/pricing",
    "/product",
    "/customers/case-studies",
    "/careers",
];
const ASSETS: &[&str] = &["wp-lead-scoring", "ebook-revops", "checklist-sla"];
const CAMPAIGNS: &[&str] = &["nurture-2026-11", "newsletter-weekly", "product-launch"];
const WEBINARS: &[&str] = &["web-speed-to-lead", "web-revops-101"];

struct Lead<'a> {
    rng: &'a mut ChaCha8Rng,
    id: String,
    seed: u64,
    n: u32,
    out: &'a mut Vec<Event>,
}

impl Lead<'_> {
    fn push(&mut self, at: Millis, kind: EventKind) {
        self.n += 1;
        self.out.push(Event {
            event_id: format!("o-{}-{}-{}", self.seed, self.id, self.n),
            lead_id: self.id.clone(),
            visitor_id: None,
            occurred_at: at,
            company_domain: None,
            account_id: None,
            kind,
        });
    }

    fn pick(&mut self, items: &[&'static str]) -> &'static str {
        items[self.rng.random_range(0..items.len())]
    }

    fn page(&mut self, path: &str) -> EventKind {
        EventKind::PageView {
            url: format!("https://leadpulse.example{path}"),
            referrer: None,
            duration_ms: Some(self.rng.random_range(5_000..120_000)),
        }
    }

    fn feedback(&mut self, at: Millis, feedback: Feedback) {
        self.push(
            at,
            EventKind::Feedback {
                feedback,
                rep_id: Some("rep-1".into()),
            },
        );
    }

    fn days(&mut self, from: f64, to: f64) -> Millis {
        (self.rng.random_range(from..to) * DAY_MS as f64) as Millis
    }

    /// An everyday event: pages, email, content, webinars.
    fn everyday(&mut self) -> EventKind {
        match self.rng.random_range(0..100) {
            0..=54 => {
                let p = self.pick(PAGES);
                self.page(p)
            }
            55..=69 => EventKind::EmailOpen {
                campaign_id: self.pick(CAMPAIGNS).into(),
            },
            70..=77 => EventKind::EmailClick {
                campaign_id: self.pick(CAMPAIGNS).into(),
                url: format!("https://leadpulse.example{}", self.pick(PAGES)),
            },
            78..=86 => EventKind::ContentDownload {
                asset_id: self.pick(ASSETS).into(),
            },
            87..=91 => EventKind::FormSubmit {
                form_id: "newsletter".into(),
                fields: BTreeMap::new(),
            },
            _ => EventKind::WebinarAttended {
                webinar_id: self.pick(WEBINARS).into(),
            },
        }
    }
}

/// The whole stream, in event-time order (ties by event id).
pub fn generate(cfg: &OutcomeConfig) -> Vec<Event> {
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let mut out = Vec::new();
    for i in 0..cfg.leads {
        let id = format!("T-{i:05}");
        let mut lead = Lead {
            rng: &mut rng,
            id: id.clone(),
            seed: cfg.seed,
            n: 0,
            out: &mut out,
        };
        let arrival = cfg.start + lead.days(0.0, cfg.days.max(0.01));
        let domain = lead.pick(DOMAINS);
        let title = lead.pick(TITLES);
        let size = lead.pick(SIZES);
        let senior = ["VP", "CTO", "Head", "Director"]
            .iter()
            .any(|s| title.contains(s));
        let big = !matches!(size, "11-50" | "51-200");
        let attributes = BTreeMap::from([
            ("job_title".to_owned(), title.to_owned()),
            ("company_size".to_owned(), size.to_owned()),
            ("industry".to_owned(), lead.pick(INDUSTRIES).to_owned()),
            ("country".to_owned(), lead.pick(COUNTRIES).to_owned()),
            (
                "email".to_owned(),
                format!("{}@{domain}", id.to_lowercase()),
            ),
            ("company_domain".to_owned(), domain.to_owned()),
        ]);
        lead.push(arrival, EventKind::ProfileUpdate { attributes });
        let likes_page = lead.rng.random_bool(0.35);
        let likes_form = lead.rng.random_bool(0.25);
        let likes_noise = lead.rng.random_bool(0.45);
        let (mut page, mut form) = (false, false);
        let mut t = arrival;
        for _ in 1..lead.rng.random_range(5..=14) {
            let u: f64 = lead.rng.random_range(f64::EPSILON..1.0);
            t += (-u.ln() * 1.2 * DAY_MS as f64) as Millis;
            let kind = match lead.rng.random_range(0..100) {
                0..=17 if likes_page => {
                    page = true;
                    lead.page(DRIVER_PAGE)
                }
                18..=29 if likes_form => {
                    form = true;
                    EventKind::FormSubmit {
                        form_id: DRIVER_FORM.into(),
                        fields: BTreeMap::new(),
                    }
                }
                30..=47 if likes_noise => lead.page(NOISE_PAGE),
                _ => lead.everyday(),
            };
            lead.push(t, kind);
        }
        let logit = -3.4
            + 2.2 * f64::from(u8::from(page))
            + 2.0 * f64::from(u8::from(form))
            + 0.9 * f64::from(u8::from(senior))
            + 0.8 * f64::from(u8::from(big));
        if lead.rng.random_bool(1.0 / (1.0 + (-logit).exp())) {
            let accepted = t + lead.days(0.2, 1.0);
            let qualified = accepted + lead.days(0.5, 2.0);
            let won = qualified + lead.days(1.0, 3.0);
            lead.feedback(accepted, Feedback::Accepted);
            lead.feedback(qualified, Feedback::Qualified);
            let amount = f64::from(lead.rng.random_range(10..80_u32)) * 1000.0;
            lead.feedback(won, Feedback::DealWon { amount });
            for d in 1..=2 {
                let p = lead.page(AFTER_WIN_PAGE);
                lead.push(won + d * DAY_MS, p);
            }
        } else if lead.rng.random_bool(0.3) {
            let accepted = t + lead.days(0.2, 1.0);
            let lost = accepted + lead.days(2.0, 5.0);
            lead.feedback(accepted, Feedback::Accepted);
            lead.feedback(
                lost,
                Feedback::DealLost {
                    reason: "no budget".into(),
                },
            );
        }
    }
    let end = cfg.start + (cfg.days.max(0.01) * DAY_MS as f64) as Millis;
    out.retain(|e| e.occurred_at < end);
    out.sort_by(|a, b| {
        a.occurred_at
            .cmp(&b.occurred_at)
            .then_with(|| a.event_id.cmp(&b.event_id))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_stream_with_wins_after_the_behaviour() {
        let cfg = OutcomeConfig {
            leads: 300,
            start: 1_790_000_000_000,
            days: 30.0,
            seed: 5,
        };
        let a = generate(&cfg);
        assert_eq!(a, generate(&cfg));
        assert_ne!(
            a,
            generate(&OutcomeConfig {
                seed: 6,
                ..cfg.clone()
            })
        );
        assert!(a.windows(2).all(|w| w[0].occurred_at <= w[1].occurred_at));
        let won = |e: &Event| {
            matches!(
                e.kind,
                EventKind::Feedback {
                    feedback: Feedback::DealWon { .. },
                    ..
                }
            )
        };
        let wins: Vec<&Event> = a.iter().filter(|e| won(e)).collect();
        assert!(wins.len() > 20, "{} wins", wins.len());
        // Every win comes after each of the lead's engagement events but the
        // after-win visits.
        for w in wins {
            assert!(a.iter().all(|e| e.lead_id != w.lead_id
                || e.occurred_at <= w.occurred_at
                || matches!(&e.kind, EventKind::PageView { url, .. } if url.ends_with(AFTER_WIN_PAGE))));
        }
    }
}
