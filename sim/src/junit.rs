//! JUnit XML: the test-report file CI systems read (GitLab, Jenkins,
//! Buildkite, GitHub Actions reporters, Azure Pipelines), so that an
//! exploration or a conformance run shows up like any test run, each
//! failure with its repro command. Only the shape they all read:
//! `testsuites` > `testsuite` > `testcase`, a case holding at most one
//! `failure`, `error` or `skipped`, counts (`tests`, `failures`, `errors`,
//! `skipped`) and `time` in seconds on both levels.
//!
//! Written by hand: a dozen elements and one escaping function do not
//! need an XML library.

use std::fmt::Write as _;

/// One `<testsuite>`.
#[derive(Debug, Clone, PartialEq)]
pub struct Suite {
    pub name: String,
    /// Seconds; when absent, the sum of the cases' times.
    pub time: Option<f64>,
    pub cases: Vec<Case>,
}

/// One `<testcase>`.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    pub classname: String,
    pub name: String,
    /// Seconds, when measured.
    pub time: Option<f64>,
    pub outcome: Outcome,
    /// Shown by CI next to the case (`<system-out>`).
    pub output: Option<String>,
}

/// How a case ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Passed,
    /// Not run, or not held against the run (a known failure).
    Skipped {
        message: String,
    },
    /// The tested thing broke: `message` is the one-line reason, `text`
    /// the details (with the command that reproduces it).
    Failure {
        message: String,
        kind: String,
        text: String,
    },
    /// The test itself could not run (setup, a panic).
    Error {
        message: String,
        kind: String,
        text: String,
    },
}

impl Case {
    pub fn new(classname: &str, name: &str, outcome: Outcome) -> Self {
        Self {
            classname: classname.to_string(),
            name: name.to_string(),
            time: None,
            outcome,
            output: None,
        }
    }
}

/// Counts of a set of cases, as the attributes carry them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub tests: usize,
    pub failures: usize,
    pub errors: usize,
    pub skipped: usize,
}

impl Counts {
    pub fn of<'a>(cases: impl IntoIterator<Item = &'a Case>) -> Self {
        let mut c = Counts::default();
        for case in cases {
            c.tests += 1;
            match case.outcome {
                Outcome::Passed => {}
                Outcome::Skipped { .. } => c.skipped += 1,
                Outcome::Failure { .. } => c.failures += 1,
                Outcome::Error { .. } => c.errors += 1,
            }
        }
        c
    }
}

impl Suite {
    fn seconds(&self) -> f64 {
        self.time
            .unwrap_or_else(|| self.cases.iter().filter_map(|c| c.time).sum())
    }
}

pub use crate::markup::escape;

/// Element text: like [`escape`], but line breaks stay as they are, so
/// that a failure's text reads as written in CI's raw view.
fn text(s: &str) -> String {
    escape(s)
        .replace("&#10;", "\n")
        .replace("&#13;", "\r")
        .replace("&#9;", "\t")
}

fn counts_attrs(c: Counts, seconds: f64) -> String {
    format!(
        "tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{seconds:.3}\"",
        c.tests, c.failures, c.errors, c.skipped
    )
}

/// The whole file: `<testsuites name=…>` around every suite.
pub fn render(name: &str, suites: &[Suite]) -> String {
    let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let all = Counts::of(suites.iter().flat_map(|s| &s.cases));
    let seconds: f64 = suites.iter().map(Suite::seconds).sum();
    let _ = writeln!(
        s,
        "<testsuites name=\"{}\" {}>",
        escape(name),
        counts_attrs(all, seconds)
    );
    for suite in suites {
        let _ = writeln!(
            s,
            "  <testsuite name=\"{}\" {}>",
            escape(&suite.name),
            counts_attrs(Counts::of(&suite.cases), suite.seconds())
        );
        for case in &suite.cases {
            let _ = write!(
                s,
                "    <testcase classname=\"{}\" name=\"{}\"",
                escape(&case.classname),
                escape(&case.name)
            );
            if let Some(t) = case.time {
                let _ = write!(s, " time=\"{t:.3}\"");
            }
            let body = match &case.outcome {
                Outcome::Passed => String::new(),
                Outcome::Skipped { message } => {
                    format!("      <skipped message=\"{}\"/>\n", escape(message))
                }
                Outcome::Failure {
                    message,
                    kind,
                    text: t,
                } => format!(
                    "      <failure message=\"{}\" type=\"{}\">{}</failure>\n",
                    escape(message),
                    escape(kind),
                    text(t)
                ),
                Outcome::Error {
                    message,
                    kind,
                    text: t,
                } => format!(
                    "      <error message=\"{}\" type=\"{}\">{}</error>\n",
                    escape(message),
                    escape(kind),
                    text(t)
                ),
            };
            let out = case
                .output
                .as_ref()
                .map(|o| format!("      <system-out>{}</system-out>\n", text(o)))
                .unwrap_or_default();
            if body.is_empty() && out.is_empty() {
                s.push_str("/>\n");
            } else {
                let _ = write!(s, ">\n{body}{out}    </testcase>\n");
            }
        }
        s.push_str("  </testsuite>\n");
    }
    s.push_str("</testsuites>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_markup_quotes_breaks_and_unencodable_characters() {
        assert_eq!(
            escape(r#"a<b & "c" 'd'>"#),
            "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;"
        );
        assert_eq!(escape("x\ny\tz\r"), "x&#10;y&#9;z&#13;");
        assert_eq!(
            escape("nul\u{0}bell\u{7}\u{FFFF}"),
            "nul\u{FFFD}bell\u{FFFD}\u{FFFD}"
        );
        assert_eq!(escape("ünïcødé ✓"), "ünïcødé ✓");
        assert_eq!(text("a\n<b>"), "a\n&lt;b&gt;");
    }

    #[test]
    fn counts_and_times_are_summed_per_suite_and_overall() {
        let mut pass = Case::new("c", "p", Outcome::Passed);
        pass.time = Some(1.5);
        let mut fail = Case::new(
            "c",
            "f",
            Outcome::Failure {
                message: "m".into(),
                kind: "k".into(),
                text: "t".into(),
            },
        );
        fail.time = Some(0.25);
        let skip = Case::new(
            "c",
            "s",
            Outcome::Skipped {
                message: "known".into(),
            },
        );
        let suites = [
            Suite {
                name: "a".into(),
                time: None,
                cases: vec![pass, fail, skip],
            },
            Suite {
                name: "b".into(),
                time: Some(2.0),
                cases: vec![],
            },
        ];
        let xml = render("all", &suites);
        assert!(xml.contains(
            r#"<testsuites name="all" tests="3" failures="1" errors="0" skipped="1" time="3.750">"#
        ));
        assert!(xml.contains(
            r#"<testsuite name="a" tests="3" failures="1" errors="0" skipped="1" time="1.750">"#
        ));
        assert!(xml.contains(r#"<testcase classname="c" name="p" time="1.500"/>"#));
        assert!(xml.contains(r#"<skipped message="known"/>"#));
        assert!(xml.contains(r#"<failure message="m" type="k">t</failure>"#));
    }
}
