//! Domain events: what a lead did, in event time.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// Event time: milliseconds since the Unix epoch. The core never reads a clock.
pub type Millis = i64;

/// One hour, the default time a rep has to respond to a hot lead.
pub const HOUR_MS: Millis = 3_600_000;

/// A decoded, validated engagement event for one lead.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Producer-assigned id; part of the alert id, so it must be stable on retries.
    pub event_id: String,
    /// The lead this event belongs to; also the Kafka record key.
    pub lead_id: String,
    /// When it happened, as told by the producer. Drives all scoring.
    pub occurred_at: Millis,
    /// The lead's company web domain, when the producer knows it.
    pub company_domain: Option<String>,
    /// The CRM account the lead belongs to, when known.
    pub account_id: Option<String>,
    /// What happened.
    pub kind: EventKind,
}

/// The type-specific part of an event.
#[derive(Debug, Clone, PartialEq)]
pub enum EventKind {
    /// A web page was viewed.
    PageView {
        url: String,
        referrer: Option<String>,
        duration_ms: Option<u64>,
    },
    /// A form was submitted; `fields` holds its (non-secret) values.
    FormSubmit {
        form_id: String,
        fields: BTreeMap<String, String>,
    },
    /// A marketing email was opened.
    EmailOpen { campaign_id: String },
    /// A link in a marketing email was clicked.
    EmailClick { campaign_id: String, url: String },
    /// A gated asset (white paper, report) was downloaded.
    ContentDownload { asset_id: String },
    /// The lead attended a webinar.
    WebinarAttended { webinar_id: String },
    /// Profile attributes changed (job title, company size, ...).
    ProfileUpdate {
        attributes: BTreeMap<String, String>,
    },
    /// The lead unsubscribed from marketing email.
    Unsubscribe,
    /// A marketing email to the lead bounced.
    EmailBounce {
        campaign_id: String,
        bounce_type: BounceType,
    },
    /// Sales feedback on a lead (topic `lead-feedback`).
    Feedback {
        feedback: Feedback,
        /// The rep who gives it, when known.
        rep_id: Option<String>,
    },
}

/// What sales says about a lead.
#[derive(Debug, Clone, PartialEq)]
pub enum Feedback {
    /// The rep reached the lead (meets the follow-up SLA).
    Contacted,
    /// Sales accepts the lead (meets the SLA; the lead becomes a SAL).
    Accepted,
    /// Sales rejects the lead; it goes back to nurture.
    Rejected { reason: String },
    /// Sales qualifies the lead (SQL).
    Qualified,
    /// An opportunity was opened.
    OpportunityCreated { opportunity_id: Option<String> },
    /// The deal was won.
    DealWon { amount: f64 },
    /// The deal was lost; the lead goes back to nurture.
    DealLost { reason: String },
    /// Sales hands the lead back to marketing for nurture.
    Recycled { reason: Option<String> },
}

impl Feedback {
    /// The wire type name.
    pub fn event_type(&self) -> EventType {
        match self {
            Feedback::Contacted => EventType::LeadContacted,
            Feedback::Accepted => EventType::LeadAccepted,
            Feedback::Rejected { .. } => EventType::LeadRejected,
            Feedback::Qualified => EventType::LeadQualified,
            Feedback::OpportunityCreated { .. } => EventType::OpportunityCreated,
            Feedback::DealWon { .. } => EventType::DealWon,
            Feedback::DealLost { .. } => EventType::DealLost,
            Feedback::Recycled { .. } => EventType::LeadRecycled,
        }
    }
}

/// Whether a bounce is permanent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BounceType {
    /// The address does not exist: permanent.
    Hard,
    /// A full mailbox or similar: temporary.
    Soft,
}

impl BounceType {
    pub fn as_str(self) -> &'static str {
        match self {
            BounceType::Hard => "hard",
            BounceType::Soft => "soft",
        }
    }

    pub fn parse(s: &str) -> Option<BounceType> {
        match s {
            "hard" => Some(BounceType::Hard),
            "soft" => Some(BounceType::Soft),
            _ => None,
        }
    }
}

/// The event types, as named on the wire and in the model file.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Deserialize, serde::Serialize,
)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    PageView,
    FormSubmit,
    EmailOpen,
    EmailClick,
    ContentDownload,
    WebinarAttended,
    ProfileUpdate,
    Unsubscribe,
    EmailBounce,
    LeadContacted,
    LeadAccepted,
    LeadRejected,
    LeadQualified,
    OpportunityCreated,
    DealWon,
    DealLost,
    LeadRecycled,
}

impl EventType {
    /// Every type, in wire order.
    pub const ALL: [EventType; 17] = [
        EventType::PageView,
        EventType::FormSubmit,
        EventType::EmailOpen,
        EventType::EmailClick,
        EventType::ContentDownload,
        EventType::WebinarAttended,
        EventType::ProfileUpdate,
        EventType::Unsubscribe,
        EventType::EmailBounce,
        EventType::LeadContacted,
        EventType::LeadAccepted,
        EventType::LeadRejected,
        EventType::LeadQualified,
        EventType::OpportunityCreated,
        EventType::DealWon,
        EventType::DealLost,
        EventType::LeadRecycled,
    ];

    /// The wire name, e.g. `page_view`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::PageView => "page_view",
            EventType::FormSubmit => "form_submit",
            EventType::EmailOpen => "email_open",
            EventType::EmailClick => "email_click",
            EventType::ContentDownload => "content_download",
            EventType::WebinarAttended => "webinar_attended",
            EventType::ProfileUpdate => "profile_update",
            EventType::Unsubscribe => "unsubscribe",
            EventType::EmailBounce => "email_bounce",
            EventType::LeadContacted => "lead_contacted",
            EventType::LeadAccepted => "lead_accepted",
            EventType::LeadRejected => "lead_rejected",
            EventType::LeadQualified => "lead_qualified",
            EventType::OpportunityCreated => "opportunity_created",
            EventType::DealWon => "deal_won",
            EventType::DealLost => "deal_lost",
            EventType::LeadRecycled => "lead_recycled",
        }
    }

    /// True for sales feedback types.
    pub fn is_feedback(self) -> bool {
        self.index() >= EventType::LeadContacted.index()
    }

    /// A dense index, for per-type lookup tables.
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// The name was not one of the known event types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownEventType(pub String);

impl FromStr for EventType {
    type Err = UnknownEventType;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EventType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| UnknownEventType(s.to_owned()))
    }
}

impl EventKind {
    /// The type tag of this payload.
    pub fn event_type(&self) -> EventType {
        match self {
            EventKind::PageView { .. } => EventType::PageView,
            EventKind::FormSubmit { .. } => EventType::FormSubmit,
            EventKind::EmailOpen { .. } => EventType::EmailOpen,
            EventKind::EmailClick { .. } => EventType::EmailClick,
            EventKind::ContentDownload { .. } => EventType::ContentDownload,
            EventKind::WebinarAttended { .. } => EventType::WebinarAttended,
            EventKind::ProfileUpdate { .. } => EventType::ProfileUpdate,
            EventKind::Unsubscribe => EventType::Unsubscribe,
            EventKind::EmailBounce { .. } => EventType::EmailBounce,
            EventKind::Feedback { feedback, .. } => feedback.event_type(),
        }
    }

    /// The URL a rule's `url` pattern is matched against, if the type has one.
    pub fn url(&self) -> Option<&str> {
        match self {
            EventKind::PageView { url, .. } | EventKind::EmailClick { url, .. } => Some(url),
            _ => None,
        }
    }
}
