//! Reads a JUnit report back with a real XML parser and checks the shape
//! CI systems read: `testsuites` > `testsuite` > `testcase`, the counts
//! and times on both levels agreeing with the cases, at most one outcome
//! element per case. Shared by the simulator's and the conformance
//! suite's tests (the latter includes this file by path).

#![allow(dead_code)]

/// One case as read back.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadCase {
    pub suite: String,
    pub classname: String,
    pub name: String,
    /// `passed`, `failure`, `error` or `skipped`.
    pub outcome: String,
    pub message: String,
    pub kind: String,
    pub text: String,
    pub output: String,
}

fn count(n: roxmltree::Node, attr: &str) -> usize {
    n.attribute(attr)
        .unwrap_or_else(|| panic!("<{}> lacks {attr}", n.tag_name().name()))
        .parse()
        .unwrap_or_else(|e| panic!("<{}> {attr}: {e}", n.tag_name().name()))
}

fn seconds(n: roxmltree::Node) -> f64 {
    let t: f64 = n
        .attribute("time")
        .unwrap_or_else(|| panic!("<{}> lacks time", n.tag_name().name()))
        .parse()
        .expect("time is a number");
    assert!(t >= 0.0 && t.is_finite());
    t
}

/// Every case of the report, in file order; panics on a shape error.
pub fn read(xml: &str) -> Vec<ReadCase> {
    let doc = roxmltree::Document::parse(xml).expect("well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    let mut cases = Vec::new();
    let mut totals = [0usize; 4];
    let mut time = 0.0;
    for suite in root.children().filter(|n| n.is_element()) {
        assert_eq!(suite.tag_name().name(), "testsuite");
        let name = suite.attribute("name").expect("suite name").to_string();
        let mut mine = [0usize; 4];
        for case in suite.children().filter(|n| n.is_element()) {
            assert_eq!(case.tag_name().name(), "testcase");
            if case.attribute("time").is_some() {
                seconds(case);
            }
            let mut read = ReadCase {
                suite: name.clone(),
                classname: case.attribute("classname").expect("classname").into(),
                name: case.attribute("name").expect("name").into(),
                outcome: "passed".into(),
                message: String::new(),
                kind: String::new(),
                text: String::new(),
                output: String::new(),
            };
            let mut outcomes = 0;
            for child in case.children().filter(|n| n.is_element()) {
                match child.tag_name().name() {
                    tag @ ("failure" | "error" | "skipped") => {
                        outcomes += 1;
                        read.outcome = tag.into();
                        read.message = child.attribute("message").expect("message").into();
                        read.kind = child.attribute("type").unwrap_or("").into();
                        read.text = child.text().unwrap_or("").into();
                    }
                    "system-out" => read.output = child.text().unwrap_or("").into(),
                    other => panic!("unexpected <{other}> in a testcase"),
                }
            }
            assert!(outcomes <= 1, "{read:?}: more than one outcome");
            mine[0] += 1;
            match read.outcome.as_str() {
                "failure" => mine[1] += 1,
                "error" => mine[2] += 1,
                "skipped" => mine[3] += 1,
                _ => {}
            }
            cases.push(read);
        }
        let attrs = ["tests", "failures", "errors", "skipped"];
        for (i, a) in attrs.iter().enumerate() {
            assert_eq!(count(suite, a), mine[i], "suite {name}: {a}");
            totals[i] += mine[i];
        }
        time += seconds(suite);
    }
    for (i, a) in ["tests", "failures", "errors", "skipped"]
        .iter()
        .enumerate()
    {
        assert_eq!(count(root, a), totals[i], "testsuites {a}");
    }
    assert!((seconds(root) - time).abs() < 0.01 * (1.0 + time));
    cases
}
