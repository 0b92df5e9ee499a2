//! A synthetic, realistic event stream: many leads browsing, reading email
//! and filling forms, a few of them turning hot. Deterministic for a seed,
//! so tests, benchmarks and the demo can reproduce any stream.

use std::collections::BTreeMap;

pub mod outcomes;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::core::{BounceType, Event, EventKind, Millis};

/// The shape of a generated stream.
#[derive(Debug, Clone)]
pub struct GeneratorConfig {
    /// Distinct leads.
    pub leads: u32,
    /// Share of leads that behave like buyers (pricing, demo requests).
    pub hot_fraction: f64,
    /// Share of events that come from hot leads.
    pub hot_event_share: f64,
    /// Event time of the first event.
    pub start: Millis,
    /// Mean event-time gap between consecutive events of the stream.
    pub mean_gap_ms: f64,
    /// Seed for the random stream.
    pub seed: u64,
    /// Relative weights of the event types cold leads produce.
    pub mix: Mix,
}

/// Relative weights of what cold (not yet buying) leads do. The default is
/// the stream's long-standing mix (60% page views, 20% email opens, ...);
/// weights need not add up to 100.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mix {
    pub page_view: u32,
    pub email_open: u32,
    pub email_click: u32,
    pub content_download: u32,
    pub form_submit: u32,
    pub webinar_attended: u32,
    pub profile_update: u32,
    pub email_bounce: u32,
    pub unsubscribe: u32,
}

impl Default for Mix {
    fn default() -> Self {
        Mix {
            page_view: 60,
            email_open: 20,
            email_click: 5,
            content_download: 4,
            form_submit: 3,
            webinar_attended: 2,
            profile_update: 4,
            email_bounce: 1,
            unsubscribe: 1,
        }
    }
}

impl Mix {
    const NAMES: [&'static str; 9] = [
        "page_view",
        "email_open",
        "email_click",
        "content_download",
        "form_submit",
        "webinar_attended",
        "profile_update",
        "email_bounce",
        "unsubscribe",
    ];

    fn weights(&self) -> [u32; 9] {
        [
            self.page_view,
            self.email_open,
            self.email_click,
            self.content_download,
            self.form_submit,
            self.webinar_attended,
            self.profile_update,
            self.email_bounce,
            self.unsubscribe,
        ]
    }

    fn weight_mut(&mut self, name: &str) -> Option<&mut u32> {
        Some(match name {
            "page_view" => &mut self.page_view,
            "email_open" => &mut self.email_open,
            "email_click" => &mut self.email_click,
            "content_download" => &mut self.content_download,
            "form_submit" => &mut self.form_submit,
            "webinar_attended" => &mut self.webinar_attended,
            "profile_update" => &mut self.profile_update,
            "email_bounce" => &mut self.email_bounce,
            "unsubscribe" => &mut self.unsubscribe,
            _ => return None,
        })
    }
}

impl std::str::FromStr for Mix {
    type Err = String;

    /// `page_view=80,email_open=10`: the types named get these weights; the
    /// others keep their default weight unless named with 0.
    fn from_str(s: &str) -> Result<Mix, String> {
        let mut mix = Mix::default();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, weight) = part
                .split_once('=')
                .ok_or_else(|| format!("`{part}`: expected TYPE=WEIGHT, e.g. page_view=80"))?;
            let weight: u32 = weight
                .trim()
                .parse()
                .map_err(|_| format!("`{part}`: the weight must be a whole number"))?;
            *mix.weight_mut(name.trim()).ok_or_else(|| {
                format!(
                    "`{}` is not a generated event type; use one of {}",
                    name.trim(),
                    Mix::NAMES.join(", ")
                )
            })? = weight;
        }
        if mix.weights().iter().all(|&w| w == 0) {
            return Err("every weight is 0: nothing to generate".into());
        }
        Ok(mix)
    }
}

impl Default for GeneratorConfig {
    fn default() -> Self {
        GeneratorConfig {
            leads: 1_000,
            hot_fraction: 0.05,
            hot_event_share: 0.3,
            start: 1_795_165_200_000, // 2026-11-20T09:00:00Z
            mean_gap_ms: 50.0,
            seed: 42,
            mix: Mix::default(),
        }
    }
}

struct Lead {
    id: String,
    domain: &'static str,
    /// Hot leads behave like buyers from this event number on.
    hot_from: Option<u64>,
    introduced: bool,
}

/// The stream's shape beyond leads and seed, as `leadpulse generate` flags.
#[derive(Debug, Clone, clap::Args)]
pub struct ShapeArgs {
    /// Relative weights of what cold leads do, e.g.
    /// `page_view=80,email_open=10` (unnamed types keep their default weight).
    #[arg(long, default_value = "")]
    pub mix: String,
    /// Share of events that come from hot leads.
    #[arg(long, default_value_t = 0.3)]
    pub hot_event_share: f64,
}

impl ShapeArgs {
    /// Applies these flags to a generator configuration.
    pub fn apply(&self, cfg: GeneratorConfig) -> Result<GeneratorConfig, String> {
        Ok(GeneratorConfig {
            mix: self.mix.parse().map_err(|e| format!("--mix: {e}"))?,
            hot_event_share: self.hot_event_share,
            ..cfg
        })
    }
}

/// An endless iterator of events.
pub struct Generator {
    cfg: GeneratorConfig,
    rng: ChaCha8Rng,
    leads: Vec<Lead>,
    hot: Vec<usize>,
    now: Millis,
    seq: u64,
}

const COMPANIES: &[&str] = &[
    "acme.io",
    "globex.com",
    "initech.com",
    "umbrella.co",
    "hooli.com",
    "vandelay.com",
    "stark.industries",
    "wayne.enterprises",
    "soylent.io",
    "tyrell.ai",
    "cyberdyne.systems",
    "wonka.com",
    "gringotts.bank",
    "oscorp.net",
    "monsters.inc",
    "gmail.com",
];
const FIRST_NAMES: &[&str] = &[
    "Ana", "Ben", "Chloe", "Dev", "Emma", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kemi",
    "Lars", "Mia", "Noah", "Olga", "Priya", "Quinn", "Rosa", "Sam", "Tomás",
];
const LAST_NAMES: &[&str] = &[
    "Lima", "Okafor", "Schmidt", "Tanaka", "Novak", "Dubois", "Patel", "Jensen", "García",
    "Kowalski", "Brown", "Rossi", "Haddad",
];

/// `acme.io` → `Acme`, `stark.industries` → `Stark`.
fn company_name(domain: &str) -> String {
    let stem = domain.split('.').next().unwrap_or(domain);
    let mut c = stem.chars();
    c.next().map_or_else(String::new, |f| {
        f.to_uppercase().chain(c).collect::<String>()
    })
}

const TITLES: &[&str] = &[
    "VP Engineering",
    "CTO",
    "Head of Data",
    "Software Engineer",
    "Marketing Manager",
    "Director of IT",
    "Student",
    "Product Manager",
    "CFO",
    "Analyst",
];
const COUNTRIES: &[&str] = &["US", "GB", "DE", "FR", "NL", "CA", "AU", "IN", "BR", "JP"];
const SIZES: &[&str] = &["1-10", "11-50", "51-200", "201-1000", "1001-5000", "5000+"];
const INDUSTRIES: &[&str] = &[
    "software",
    "finance",
    "retail",
    "healthcare",
    "manufacturing",
    "education",
];
const COLD_PAGES: &[&str] = &[
    "/",
    "/blog/kafka-lead-scoring",
    "/blog/speed-to-lead",
    "/docs/getting-started",
    "/about",
    "/careers",
    "/blog/mql-vs-sql",
    "/docs/api",
];
const HOT_PAGES: &[&str] = &[
    "/pricing",
    "/pricing",
    "/product",
    "/product/integrations",
    "/customers/case-studies",
    "/security",
    "/docs/getting-started",
];
const ASSETS: &[&str] = &[
    "wp-lead-scoring",
    "report-state-of-sales",
    "ebook-revops",
    "checklist-sla",
];
const CAMPAIGNS: &[&str] = &[
    "nurture-2026-11",
    "newsletter-weekly",
    "webinar-invite",
    "product-launch",
];
const WEBINARS: &[&str] = &["web-speed-to-lead", "web-revops-101"];

impl Generator {
    pub fn new(cfg: GeneratorConfig) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        let mut leads = Vec::with_capacity(cfg.leads as usize);
        let mut hot = Vec::new();
        // Leads turn hot at random points spread over the first ~20 events
        // per lead of the stream, so alerts do not all come at the start.
        let horizon = u64::from(cfg.leads.max(1)) * 20;
        for i in 0..cfg.leads.max(1) {
            let is_hot = rng.random_bool(cfg.hot_fraction.clamp(0.0, 1.0));
            if is_hot {
                hot.push(i as usize);
            }
            leads.push(Lead {
                id: format!("L-{i:06}"),
                domain: COMPANIES[rng.random_range(0..COMPANIES.len())],
                hot_from: is_hot.then(|| rng.random_range(0..horizon)),
                introduced: false,
            });
        }
        let now = cfg.start;
        Generator {
            cfg,
            rng,
            leads,
            hot,
            now,
            seq: 0,
        }
    }

    fn pick<'a>(&mut self, items: &'a [&'a str]) -> &'a str {
        items[self.rng.random_range(0..items.len())]
    }

    /// The next event in the stream.
    pub fn next_event(&mut self) -> Event {
        self.seq += 1;
        // Exponential gaps: a Poisson arrival process.
        let u: f64 = self.rng.random_range(f64::EPSILON..1.0);
        self.now += (-u.ln() * self.cfg.mean_gap_ms).round() as Millis;

        let idx = if !self.hot.is_empty()
            && self
                .rng
                .random_bool(self.cfg.hot_event_share.clamp(0.0, 1.0))
        {
            let candidate = self.hot[self.rng.random_range(0..self.hot.len())];
            if self.leads[candidate]
                .hot_from
                .is_some_and(|from| self.seq >= from)
            {
                candidate
            } else {
                self.rng.random_range(0..self.leads.len())
            }
        } else {
            self.rng.random_range(0..self.leads.len())
        };
        let (hot, introduced, domain) = {
            let l = &self.leads[idx];
            (
                l.hot_from.is_some_and(|from| self.seq >= from),
                l.introduced,
                l.domain,
            )
        };
        let kind = if !introduced {
            self.leads[idx].introduced = true;
            self.profile(domain)
        } else if hot {
            self.hot_kind(domain)
        } else {
            self.cold_kind(domain)
        };
        let lead = &self.leads[idx];
        Event {
            event_id: format!("e-{}-{}", self.cfg.seed, self.seq),
            lead_id: lead.id.clone(),
            visitor_id: None,
            occurred_at: self.now,
            company_domain: Some(lead.domain.to_owned()),
            account_id: None,
            kind,
        }
    }

    fn profile(&mut self, domain: &str) -> EventKind {
        let mut attributes = BTreeMap::new();
        // Some profiles arrive without a job title, which sales needs.
        if self.rng.random_bool(0.8) {
            attributes.insert("job_title".into(), self.pick(TITLES).into());
        }
        attributes.insert("country".into(), self.pick(COUNTRIES).into());
        attributes.insert("company_size".into(), self.pick(SIZES).into());
        attributes.insert("industry".into(), self.pick(INDUSTRIES).into());
        attributes.insert("email".into(), format!("lead{}@{domain}", self.seq));
        // Who the person is, for the alerts a rep reads. Drawn from the
        // sequence number, not the random stream, so the stream's events
        // and scores are those of a seed without names.
        let n = self.seq as usize;
        attributes.insert(
            "first_name".into(),
            FIRST_NAMES[n % FIRST_NAMES.len()].into(),
        );
        attributes.insert(
            "last_name".into(),
            LAST_NAMES[(n / FIRST_NAMES.len()) % LAST_NAMES.len()].into(),
        );
        if domain != "gmail.com" {
            attributes.insert("company".into(), company_name(domain));
        }
        EventKind::ProfileUpdate { attributes }
    }

    fn url(&mut self, domain_pages: &[&str]) -> String {
        format!("https://leadpulse.example{}", self.pick(domain_pages))
    }

    fn cold_kind(&mut self, domain: &str) -> EventKind {
        let weights = self.cfg.mix.weights();
        let total: u32 = weights.iter().sum();
        let mut draw = self.rng.random_range(0..total.max(1));
        let mut which = 0;
        for (i, w) in weights.iter().enumerate() {
            if draw < *w {
                which = i;
                break;
            }
            draw -= w;
        }
        match which {
            0 => EventKind::PageView {
                url: self.url(COLD_PAGES),
                referrer: Some("https://www.google.com/".into()),
                duration_ms: Some(self.rng.random_range(2_000..90_000)),
            },
            1 => EventKind::EmailOpen {
                campaign_id: self.pick(CAMPAIGNS).into(),
            },
            2 => EventKind::EmailClick {
                campaign_id: self.pick(CAMPAIGNS).into(),
                url: self.url(COLD_PAGES),
            },
            3 => EventKind::ContentDownload {
                asset_id: self.pick(ASSETS).into(),
            },
            4 => EventKind::FormSubmit {
                form_id: "newsletter".into(),
                fields: BTreeMap::from([("email".into(), format!("reader{}@{domain}", self.seq))]),
            },
            5 => EventKind::WebinarAttended {
                webinar_id: self.pick(WEBINARS).into(),
            },
            6 => self.profile(domain),
            7 => EventKind::EmailBounce {
                campaign_id: self.pick(CAMPAIGNS).into(),
                bounce_type: if self.rng.random_bool(0.3) {
                    BounceType::Hard
                } else {
                    BounceType::Soft
                },
            },
            _ => EventKind::Unsubscribe,
        }
    }

    fn hot_kind(&mut self, domain: &str) -> EventKind {
        match self.rng.random_range(0..100) {
            0..=44 => EventKind::PageView {
                url: self.url(HOT_PAGES),
                referrer: None,
                duration_ms: Some(self.rng.random_range(10_000..300_000)),
            },
            45..=52 => EventKind::FormSubmit {
                form_id: if self.rng.random_bool(0.7) {
                    "demo-request"
                } else {
                    "contact-sales"
                }
                .into(),
                fields: BTreeMap::from([
                    ("email".into(), format!("buyer{}@{domain}", self.seq)),
                    ("company".into(), domain.into()),
                ]),
            },
            53..=64 => EventKind::ContentDownload {
                asset_id: self.pick(ASSETS).into(),
            },
            65..=71 => EventKind::WebinarAttended {
                webinar_id: self.pick(WEBINARS).into(),
            },
            72..=83 => EventKind::EmailClick {
                campaign_id: self.pick(CAMPAIGNS).into(),
                url: self.url(HOT_PAGES),
            },
            84..=95 => EventKind::EmailOpen {
                campaign_id: self.pick(CAMPAIGNS).into(),
            },
            _ => self.profile(domain),
        }
    }
}

impl Iterator for Generator {
    type Item = Event;
    fn next(&mut self) -> Option<Event> {
        Some(self.next_event())
    }
}

/// A malformed record of kind `n % 6`, for exercising the dead-letter path.
/// Returns `(key, payload, json_line)`: `json_line` is the same fault as one
/// NDJSON line, so `replay` sees an equivalent input.
pub fn malformed(n: u64, lead_id: &str, at: Millis) -> (String, Vec<u8>, String) {
    let ts = crate::codec::format_rfc3339(at);
    let line = match n % 6 {
        0 => "{\"event_id\": \"broken".to_owned(),
        1 => format!(
            r#"{{"event_id":"bad-{n}","type":"page_view","occurred_at":"{ts}","url":"https://x/"}}"#
        ),
        2 => format!(
            r#"{{"event_id":"bad-{n}","lead_id":"{lead_id}","type":"page_teleport","occurred_at":"{ts}"}}"#
        ),
        3 => format!(
            r#"{{"event_id":"bad-{n}","lead_id":"{lead_id}","type":"page_view","occurred_at":"2100-01-01T00:00:00Z","url":"https://x/pricing"}}"#
        ),
        4 => format!(
            r#"{{"event_id":"bad-{n}","lead_id":"{lead_id}","type":"form_submit","occurred_at":"{ts}"}}"#
        ),
        _ => "not json at all".to_owned(),
    };
    let payload = if n % 6 == 5 {
        // Bytes that are neither JSON nor a valid protobuf message.
        vec![0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]
    } else {
        line.clone().into_bytes()
    };
    (lead_id.to_owned(), payload, line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_stream() {
        let a: Vec<Event> = Generator::new(GeneratorConfig::default())
            .take(500)
            .collect();
        let b: Vec<Event> = Generator::new(GeneratorConfig::default())
            .take(500)
            .collect();
        assert_eq!(a, b);
        let c: Vec<Event> = Generator::new(GeneratorConfig {
            seed: 7,
            ..Default::default()
        })
        .take(500)
        .collect();
        assert_ne!(a, c);
        assert!(a.windows(2).all(|w| w[0].occurred_at <= w[1].occurred_at));
    }

    #[test]
    fn the_mix_weights_what_cold_leads_do() {
        let mix: Mix = "page_view=0,email_open=1,email_click=0,content_download=0,form_submit=0,\
                        webinar_attended=0,profile_update=0,email_bounce=0,unsubscribe=0"
            .parse()
            .unwrap();
        let events: Vec<Event> = Generator::new(GeneratorConfig {
            hot_fraction: 0.0,
            mix,
            ..Default::default()
        })
        .take(3_000)
        .collect();
        // A lead's first event is its profile; every later one is an email open.
        assert!(events.iter().all(|e| matches!(
            e.kind,
            EventKind::EmailOpen { .. } | EventKind::ProfileUpdate { .. }
        )));
        assert!(events
            .iter()
            .any(|e| matches!(e.kind, EventKind::EmailOpen { .. })));
        assert!("page_view=x".parse::<Mix>().is_err());
        assert!("teleport=3".parse::<Mix>().is_err());
    }
}
