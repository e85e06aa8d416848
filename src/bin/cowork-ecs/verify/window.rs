//! The window verify reads: its end (`--until`) resolved once, and now.

use cowork_ecs::signature;
use serde_json::{Value, json};

/// The `--until` filter and the window's end (nanoseconds, for a chain's
/// silence): a time read here is sent resolved, so that every pass reads
/// the same window; any other is handed to Elasticsearch as it is (the
/// end is then now).
pub(super) fn until_bound(until: Option<&str>, now: i64) -> (Option<Value>, i64) {
    let Some(text) = until else {
        return (None, now);
    };
    match resolve_time(text, now) {
        Some(ns) => (
            Some(json!({"range": {"@timestamp": {
                "lte": ns.div_euclid(1_000_000), "format": "epoch_millis"}}})),
            ns.min(now),
        ),
        None => (Some(json!({"range": {"@timestamp": {"lte": text}}})), now),
    }
}

/// `now`, `now-<n><unit>` (`s`, `m`, `h`/`H`, `d`, `w`) or an RFC 3339
/// time in UTC, in nanoseconds since the epoch; `None` for anything else.
fn resolve_time(text: &str, now: i64) -> Option<i64> {
    let text = text.trim();
    if text == "now" {
        return Some(now);
    }
    if let Some(rest) = text.strip_prefix("now-") {
        let split = rest.find(|c: char| !c.is_ascii_digit())?;
        let (n, unit) = rest.split_at(split);
        let n: i64 = n.parse().ok()?;
        let unit: i64 = match unit {
            "s" => 1,
            "m" => 60,
            "h" | "H" => 3_600,
            "d" => 86_400,
            "w" => 604_800,
            _ => return None,
        };
        return now.checked_sub(n.checked_mul(unit)?.checked_mul(1_000_000_000)?);
    }
    if text.contains('T') {
        return signature::parse_timestamp(text);
    }
    None
}

/// Now, in nanoseconds since the epoch.
pub(super) fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn until_is_resolved_once_or_handed_on() {
        let now = 1_000_000_000_000;
        assert_eq!(resolve_time("now", now), Some(now));
        assert_eq!(resolve_time("now-20s", now), Some(now - 20_000_000_000));
        assert_eq!(resolve_time("now-2h", now), Some(now - 7_200_000_000_000));
        assert_eq!(
            resolve_time("2026-11-30T00:00:00Z", now),
            signature::parse_timestamp("2026-11-30T00:00:00Z")
        );
        assert_eq!(resolve_time("now-1d/d", now), None);
        // The default window ends two shipped seal intervals (2 × 10 s) ago.
        let (filter, end) = until_bound(Some(crate::verify::DEFAULT_UNTIL), now);
        assert_eq!(end, now - 20_000_000_000);
        assert_eq!(
            filter.unwrap()["range"]["@timestamp"]["lte"],
            json!(980_000)
        );
        let (filter, end) = until_bound(Some("now-1d/d"), now);
        assert_eq!(
            (filter.unwrap()["range"]["@timestamp"]["lte"].clone(), end),
            (json!("now-1d/d"), now)
        );
        assert_eq!(until_bound(None, now), (None, now));
    }
}
