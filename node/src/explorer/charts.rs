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
    fn bars_escape_their_labels_and_scale_to_the_largest() {
        let svg = bars("<t>", &[("<a>".into(), 10), ("b".into(), 5)], None).into_string();
        assert!(svg.contains("&lt;a&gt;") && !svg.contains("<a>"), "{svg}");
        assert!(svg.contains("width=\"420\""), "{svg}");
        assert!(svg.contains("width=\"210\""), "{svg}");
    }
}
