//! The event / alert log behind the web manager's log page and `GET /api/v1/events`.
//!
//! A seam: today it reads the daemon's in-memory event feed (`control::feed`); issue 11's
//! persistent alert log implements [`AlertLog`] and replaces [`FeedLog`] in `web::mod` with no
//! change to the pages or the API.

use crate::control::feed::Feed;
use crate::control::proto::EventDto;

/// Which events to show; every field narrows, `None` lets everything through.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct Filter {
    /// Events after this `seq` (0 = all kept).
    #[serde(default)]
    pub since: u64,
    /// `info`, `warning` or `error`: this level and more severe.
    pub level: Option<String>,
    /// `pm`, `rc`, `rm` or `nm`.
    pub module: Option<String>,
    /// A group, resource or monitor name the text mentions.
    pub object: Option<String>,
    /// RFC 3339 bounds (inclusive), compared as text (the feed writes one format).
    pub from: Option<String>,
    pub to: Option<String>,
    /// The newest this many (default 500).
    pub limit: Option<usize>,
}

impl Filter {
    pub fn matches(&self, e: &EventDto) -> bool {
        let rank = |l: &str| match l {
            "error" => 2,
            "warning" => 1,
            _ => 0,
        };
        self.level
            .as_deref()
            .is_none_or(|l| l.is_empty() || rank(&e.level) >= rank(l))
            && self
                .module
                .as_deref()
                .is_none_or(|m| m.is_empty() || e.module == m)
            && self
                .object
                .as_deref()
                .is_none_or(|o| o.is_empty() || e.text.contains(o))
            && self
                .from
                .as_deref()
                .is_none_or(|f| f.is_empty() || e.at.as_str() >= f)
            && self
                .to
                .as_deref()
                .is_none_or(|t| t.is_empty() || e.at.as_str() <= t)
    }
}

/// Where past events come from.
pub trait AlertLog: Send + Sync {
    /// Matching events, oldest first.
    fn query(&self, filter: &Filter) -> Vec<EventDto>;
}

/// Today's events from the daemon's in-memory feed (the last 8192).
pub struct FeedLog {
    feed: Feed,
}

impl FeedLog {
    pub fn new(feed: Feed) -> FeedLog {
        FeedLog { feed }
    }
}

impl AlertLog for FeedLog {
    fn query(&self, filter: &Filter) -> Vec<EventDto> {
        let (events, _) = self.feed.since(filter.since);
        let mut hits: Vec<EventDto> = events.into_iter().filter(|e| filter.matches(e)).collect();
        let limit = filter.limit.unwrap_or(500).min(8192);
        if hits.len() > limit {
            hits.drain(..hits.len() - limit);
        }
        hits
    }
}
