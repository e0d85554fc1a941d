//! The overview's activity charts: one inline SVG per kind of event, a bar per hour over
//! the last week, drawn in `currentColor` (so light and dark themes both read) and named
//! by a `<title>` that says what a screen reader needs: the totals, not 168 numbers. No
//! script, no external image: the pages' CSP allows neither.

use crate::store::d1_console::HourCount;
use crate::templates::escape;

/// Hours in the chart: a week.
pub const HOURS: u64 = 7 * 24;
const BAR: u64 = 2;
const HEIGHT: u64 = 40;

/// One series: its label and the events counted in it.
pub struct Series {
    pub label: &'static str,
    pub events: &'static [&'static str],
}

pub const SERIES: [Series; 3] = [
    Series {
        label: "Sign-ins",
        events: &["sign_in"],
    },
    Series {
        label: "Token grants (new connections and refreshes)",
        events: &["code_redeemed", "refresh"],
    },
    Series {
        label: "Tool calls through the gateway",
        events: &["gateway_call"],
    },
];

/// The series' counts per hour, oldest first, for the `HOURS` hours ending with `now`'s.
pub fn per_hour(rows: &[HourCount], series: &Series, now: u64) -> Vec<u64> {
    let last = now / 3600;
    let first = last.saturating_sub(HOURS - 1);
    let mut out = vec![0; HOURS as usize];
    for r in rows
        .iter()
        .filter(|r| series.events.contains(&r.event.as_str()))
    {
        if r.hour >= first && r.hour <= last {
            if let Some(slot) = out.get_mut((r.hour - first) as usize) {
                *slot += r.n;
            }
        }
    }
    out
}

/// The chart of one series as inline SVG, with `id` naming its title.
pub fn svg(id: &str, label: &str, counts: &[u64]) -> String {
    let total: u64 = counts.iter().sum();
    let peak = counts.iter().copied().max().unwrap_or(0);
    let title = format!(
        "{label} per hour over the last 7 days: {total} in all, at most {peak} in one hour"
    );
    let width = counts.len() as u64 * BAR;
    let mut out = format!(
        "<svg class=\"chart\" role=\"img\" aria-labelledby=\"{id}\" viewBox=\"0 0 {width} {HEIGHT}\" \
         preserveAspectRatio=\"none\" xmlns=\"http://www.w3.org/2000/svg\"><title id=\"{id}\">{}</title>",
        escape(&title)
    );
    for (i, n) in counts.iter().enumerate() {
        if *n == 0 || peak == 0 {
            continue;
        }
        // At least one unit tall, so a single event is visible.
        let h = (n * HEIGHT / peak).max(1);
        out.push_str(&format!(
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{h}\" fill=\"currentColor\"/>",
            i as u64 * BAR,
            HEIGHT - h,
            BAR - 1
        ));
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(hour: u64, event: &str, n: u64) -> HourCount {
        HourCount {
            hour,
            event: event.into(),
            n,
        }
    }

    #[test]
    fn counts_fall_in_their_hour_and_series() {
        let now = 1_000 * 3600 + 59;
        let rows = [
            row(1_000, "refresh", 3),
            row(1_000, "code_redeemed", 2),
            row(1_000 - 167, "sign_in", 1),
            row(1_000 - 168, "sign_in", 9),
            row(1_001, "sign_in", 9),
        ];
        let grants = per_hour(&rows, &SERIES[1], now);
        assert_eq!(grants.len(), 168);
        assert_eq!(grants[167], 5);
        let signins = per_hour(&rows, &SERIES[0], now);
        // The first hour of the week counts; the one before it and a future one do not.
        assert_eq!(signins[0], 1);
        assert_eq!(signins.iter().sum::<u64>(), 1);
    }

    #[test]
    fn the_chart_says_its_totals_and_draws_a_bar_per_busy_hour() {
        let mut counts = vec![0; 168];
        counts[3] = 4;
        counts[100] = 1;
        let svg = svg("c1", "Sign-ins <all>", &counts);
        assert!(svg.contains("role=\"img\" aria-labelledby=\"c1\""));
        assert!(svg.contains(
            "Sign-ins &lt;all&gt; per hour over the last 7 days: 5 in all, at most 4 in one hour"
        ));
        assert_eq!(svg.matches("<rect").count(), 2);
        assert!(
            svg.contains("height=\"40\""),
            "the peak is full height: {svg}"
        );
        assert!(svg.contains("height=\"10\""), "a quarter of it: {svg}");
        assert!(!svg.contains("<script"));
        assert_eq!(super::svg("c2", "x", &[0; 168]).matches("<rect").count(), 0);
    }
}
