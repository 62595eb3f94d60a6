//! Pictures as inline SVG, drawn on the server (no script, nothing loaded).

use maud::{Markup, html};

/// Colours of the bars, in turn (readable on white, distinct in grey).
const COLOURS: [&str; 6] = [
    "#1f6f8b", "#99a83f", "#d1495b", "#edae49", "#6c4f8a", "#3d9970",
];

/// Horizontal bars, one per `(label, value)`, scaled to the largest (or to `scale`
/// when given, e.g. an assigned amount that issuance may not pass).
pub(crate) fn bars(title: &str, rows: &[(String, u64)], scale: Option<u64>) -> Markup {
    let max = scale
        .unwrap_or(0)
        .max(rows.iter().map(|(_, v)| *v).max().unwrap_or(0))
        .max(1);
    let row_h = 28u64;
    let label_w = 150u64;
    let bar_w = 420u64;
    let height = row_h * (rows.len() as u64).max(1) + 10;
    let width = label_w + bar_w + 150;
    html! {
        figure class="chart" {
            figcaption { (title) }
            svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label=(title)
                viewBox={ "0 0 " (width) " " (height) } width="100%" preserveAspectRatio="xMinYMin meet" {
                @for (i, (label, value)) in rows.iter().enumerate() {
                    @let y = i as u64 * row_h + 5;
                    @let w = ((u128::from(*value) * u128::from(bar_w)) / u128::from(max)) as u64;
                    text x=(label_w - 8) y=(y + 18) text-anchor="end" font-size="14" { (label) }
                    rect x=(label_w) y=(y + 4) width=(w.max(1)) height=(row_h - 8)
                        fill=(COLOURS[i % COLOURS.len()]) {}
                    text x=(label_w + w + 6) y=(y + 18) font-size="14" { (thousands(*value)) }
                }
                @if let Some(s) = scale {
                    @let x = label_w + ((u128::from(s) * u128::from(bar_w)) / u128::from(max)) as u64;
                    line x1=(x) x2=(x) y1="0" y2=(height) stroke="#333" stroke-dasharray="4 3" {}
                }
            }
        }
    }
}

/// Columns by month: for each month, one column per series side by side, scaled to
/// the largest value, with a legend; every few months labelled on the axis.
pub(crate) fn columns(title: &str, months: &[String], series: &[(&str, Vec<u64>)]) -> Markup {
    let max = series
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .max()
        .unwrap_or(0)
        .max(1);
    let (left, top, plot_h, legend_h) = (90u64, 10u64, 200u64, 24u64);
    let per_series = 10u64;
    let group_w = per_series * (series.len() as u64).max(1) + 8;
    let width = left + group_w * (months.len() as u64).max(1) + 20;
    let height = top + plot_h + 40 + legend_h;
    let base = top + plot_h;
    // Label about eight months on the axis, whatever the span.
    let every = months.len().div_ceil(8).max(1);
    html! {
        figure class="chart" {
            figcaption { (title) }
            svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label=(title)
                viewBox={ "0 0 " (width) " " (height) } width="100%" preserveAspectRatio="xMinYMin meet" {
                line x1=(left) x2=(width - 10) y1=(base) y2=(base) stroke="#333" {}
                text x=(left - 6) y=(top + 10) text-anchor="end" font-size="12" { (thousands(max)) }
                text x=(left - 6) y=(base) text-anchor="end" font-size="12" { "0" }
                @for (m, label) in months.iter().enumerate() {
                    @let x0 = left + m as u64 * group_w + 4;
                    @for (k, (_, values)) in series.iter().enumerate() {
                        @let v = values.get(m).copied().unwrap_or(0);
                        @let h = ((u128::from(v) * u128::from(plot_h)) / u128::from(max)) as u64;
                        @if v > 0 {
                            rect x=(x0 + k as u64 * per_series) y=(base - h.max(1)) width=(per_series - 2) height=(h.max(1))
                                fill=(COLOURS[k % COLOURS.len()]) { title { (label) ": " (thousands(v)) } }
                        }
                    }
                    @if m % every == 0 {
                        text x=(x0) y=(base + 16) font-size="12" { (label) }
                    }
                }
                @for (k, (name, _)) in series.iter().enumerate() {
                    @let x = left + k as u64 * 170;
                    rect x=(x) y=(base + 28) width="12" height="12" fill=(COLOURS[k % COLOURS.len()]) {}
                    text x=(x + 18) y=(base + 39) font-size="13" { (name) }
                }
            }
        }
    }
}

/// A number with thin separators between thousands: 1 234 567.
pub(crate) fn thousands(n: impl Into<i128>) -> String {
    let n: i128 = n.into();
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('\u{202f}');
        }
        out.push(c);
    }
    if n < 0 { format!("−{out}") } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_grouped_in_thousands() {
        assert_eq!(thousands(0u64), "0");
        assert_eq!(thousands(999u64), "999");
        assert_eq!(thousands(1_000u64), "1\u{202f}000");
        assert_eq!(thousands(-1_234_567i64), "−1\u{202f}234\u{202f}567");
    }

    #[test]
    fn columns_scale_to_the_largest_and_skip_empty_months() {
        let months = vec!["2008-01".to_owned(), "2008-02".to_owned(), "<m>".to_owned()];
        let svg = columns(
            "t",
            &months,
            &[("in", vec![10, 0, 5]), ("out", vec![0, 0, 2])],
        )
        .into_string();
        assert_eq!(
            svg.matches("<rect").count(),
            3 + 2,
            "three columns and two legend keys: {svg}"
        );
        assert!(
            svg.contains("height=\"200\""),
            "the largest is full height: {svg}"
        );
        assert!(svg.contains("height=\"100\""), "{svg}");
        assert!(svg.contains("&lt;m&gt;") && !svg.contains("<m>"), "{svg}");
    }

    #[test]
    fn bars_escape_their_labels_and_scale_to_the_largest() {
        let svg = bars("<t>", &[("<a>".into(), 10), ("b".into(), 5)], None).into_string();
        assert!(svg.contains("&lt;a&gt;") && !svg.contains("<a>"), "{svg}");
        assert!(svg.contains("width=\"420\""), "{svg}");
        assert!(svg.contains("width=\"210\""), "{svg}");
    }
}
