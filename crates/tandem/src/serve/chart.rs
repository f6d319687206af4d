//! Small charts drawn on the server as inline SVG (no script, nothing fetched): a line over
//! time for staleness and lag, bars for backups. Each `<svg>` carries its id and `data-`
//! attributes (`data-points`, `data-max`) so a browser test can read what was drawn.

use std::fmt::Write;

use chrono::{DateTime, Utc};

use super::history::WINDOW;

const W: f64 = 560.0;
const H: f64 = 130.0;
/// Plot area: left margin for the value labels, bottom for the time labels.
const LEFT: f64 = 56.0;
const TOP: f64 = 8.0;
const RIGHT: f64 = 8.0;
const BOTTOM: f64 = 20.0;

/// Where a chart's axes go: time over the window ending `now`, values from 0 to `max`.
struct Frame {
    now: DateTime<Utc>,
    max: f64,
}

impl Frame {
    fn new(now: DateTime<Utc>, highest: f64) -> Frame {
        Frame { now, max: if highest > 0.0 { highest * 1.1 } else { 1.0 } }
    }

    fn x(&self, t: DateTime<Utc>) -> f64 {
        let into = (t - (self.now - WINDOW)).num_milliseconds() as f64 / WINDOW.num_milliseconds() as f64;
        LEFT + into.clamp(0.0, 1.0) * (W - LEFT - RIGHT)
    }

    fn y(&self, v: f64) -> f64 {
        TOP + (1.0 - (v / self.max).clamp(0.0, 1.0)) * (H - TOP - BOTTOM)
    }

    /// Opens the `<svg>` and draws the axes, grid and labels (`label` formats a value).
    fn open(&self, svg: &mut String, id: &str, title: &str, points: usize, highest: f64, label: fn(f64) -> String) {
        let _ = write!(
            svg,
            "<svg id=\"{id}\" class=\"chart\" data-points=\"{points}\" data-max=\"{highest}\" xmlns=\"http://www.w3.org/2000/svg\" \
             width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" role=\"img\"><title>{title}</title>\
             <rect x=\"{LEFT}\" y=\"{TOP}\" width=\"{}\" height=\"{}\" fill=\"#fafafa\" stroke=\"#ccc\"/>",
            W - LEFT - RIGHT,
            H - TOP - BOTTOM
        );
        for frac in [0.5, 1.0] {
            let v = self.max / 1.1 * frac;
            let y = self.y(v);
            let _ = write!(
                svg,
                "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{}\" y2=\"{y:.1}\" stroke=\"#e4e4e4\"/><text x=\"{}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"end\" fill=\"#777\">{}</text>",
                W - RIGHT,
                LEFT - 4.0,
                y + 3.0,
                label(v)
            );
        }
        let base = H - BOTTOM + 13.0;
        let _ = write!(
            svg,
            "<text x=\"{LEFT}\" y=\"{base}\" font-size=\"10\" fill=\"#777\">24h ago</text>\
             <text x=\"{}\" y=\"{base}\" font-size=\"10\" text-anchor=\"middle\" fill=\"#777\">12h ago</text>\
             <text x=\"{}\" y=\"{base}\" font-size=\"10\" text-anchor=\"end\" fill=\"#777\">now</text>",
            (LEFT + W - RIGHT) / 2.0,
            W - RIGHT
        );
    }
}

/// A line through `points` (time, value) over the last 24 h, with a dashed line at
/// `threshold` if given; `title` is HTML-escaped text. An empty series draws the frame and says there is no data yet.
pub fn line(id: &str, title: &str, points: &[(DateTime<Utc>, f64)], now: DateTime<Utc>, threshold: Option<f64>, label: fn(f64) -> String) -> String {
    let highest = points.iter().map(|p| p.1).fold(threshold.unwrap_or(0.0), f64::max);
    let frame = Frame::new(now, highest);
    let mut svg = String::new();
    frame.open(&mut svg, id, title, points.len(), points.iter().map(|p| p.1).fold(0.0, f64::max), label);
    if let Some(t) = threshold {
        let y = frame.y(t);
        let _ = write!(
            svg,
            "<line class=\"threshold\" x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{}\" y2=\"{y:.1}\" stroke=\"#b03a2e\" stroke-dasharray=\"4 3\"/>",
            W - RIGHT
        );
    }
    if points.is_empty() {
        let _ = write!(svg, "<text x=\"{}\" y=\"{}\" font-size=\"12\" text-anchor=\"middle\" fill=\"#777\">no data yet</text>", (LEFT + W) / 2.0, H / 2.0);
    } else {
        svg.push_str("<polyline class=\"series\" fill=\"none\" stroke=\"#1f618d\" stroke-width=\"1.5\" points=\"");
        for (t, v) in points {
            let _ = write!(svg, "{:.1},{:.1} ", frame.x(*t), frame.y(*v));
        }
        svg.push_str("\"/>");
    }
    svg.push_str("</svg>");
    svg
}

/// One bar per point (time, value, ok) over the last 24 h; a failed run is a red mark at the
/// base.
pub fn bars(id: &str, title: &str, points: &[(DateTime<Utc>, f64, bool)], now: DateTime<Utc>, label: fn(f64) -> String) -> String {
    let highest = points.iter().map(|p| p.1).fold(0.0, f64::max);
    let frame = Frame::new(now, highest);
    let mut svg = String::new();
    frame.open(&mut svg, id, title, points.len(), highest, label);
    for (t, v, ok) in points {
        let x = frame.x(*t) - 1.0;
        if *ok {
            let y = frame.y(*v);
            let _ = write!(svg, "<rect class=\"bar\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"2\" height=\"{:.1}\" fill=\"#1f618d\"/>", H - BOTTOM - y);
        } else {
            let _ = write!(svg, "<rect class=\"failed\" x=\"{x:.1}\" y=\"{:.1}\" width=\"2\" height=\"6\" fill=\"#b03a2e\"/>", H - BOTTOM - 6.0);
        }
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    fn secs(v: f64) -> String {
        format!("{v:.0}s")
    }

    #[test]
    fn a_line_maps_the_window_onto_the_plot_and_draws_the_threshold() {
        let now = Utc::now();
        let svg = line("c", "t", &[(now - WINDOW, 0.0), (now, 100.0)], now, Some(50.0), secs);
        assert!(svg.starts_with("<svg id=\"c\"") && svg.ends_with("</svg>"), "{svg}");
        assert!(svg.contains("data-points=\"2\" data-max=\"100\""), "{svg}");
        // 0 at the left bottom, the highest value at 1/1.1 of the height, at the right.
        let (bottom, top) = (H - BOTTOM, TOP + (1.0 - 1.0 / 1.1) * (H - TOP - BOTTOM));
        assert!(svg.contains(&format!("points=\"{LEFT:.1},{bottom:.1} {:.1},{top:.1} \"", W - RIGHT)), "{svg}");
        assert!(svg.contains("class=\"threshold\""), "{svg}");
        // Labels at half and the whole of the highest value.
        assert!(svg.contains(">50s</text>") && svg.contains(">100s</text>"), "{svg}");
    }

    #[test]
    fn points_outside_the_window_are_clamped_and_an_empty_chart_says_so() {
        let now = Utc::now();
        let svg = line("c", "t", &[(now - Duration::hours(48), 5.0)], now, None, secs);
        assert!(svg.contains(&format!("points=\"{LEFT:.1},")), "{svg}");
        let empty = line("c", "t", &[], now, None, secs);
        assert!(empty.contains("no data yet") && empty.contains("data-points=\"0\"") && !empty.contains("polyline"), "{empty}");
    }

    #[test]
    fn bars_mark_failed_runs() {
        let now = Utc::now();
        let svg = bars("b", "t", &[(now - Duration::hours(1), 10.0, true), (now, 0.0, false)], now, secs);
        assert_eq!(svg.matches("class=\"bar\"").count(), 1, "{svg}");
        assert_eq!(svg.matches("class=\"failed\"").count(), 1, "{svg}");
    }
}
