use super::*;

/// A minimized failure made of one create, as `replay FILE --trace`
/// writes it (bodies cut to what the picture reads).
fn one_create() -> Session {
    let text = [
        r#"{"kind":"header","format":"peek-session","version":1,"recorder":{"tool":"peek-sim","version":"0","mode":"sim"},"world":{"devices":[{"clock":{"offset_ms":0,"shape":"offset"},"model":"electron","name":"d0","profile":0},{"clock":{"offset_ms":139,"shape":"offset"},"model":"electron","name":"d1","profile":0}],"faults":{"device_crash":0.0,"duplicate":0.0,"partition":0.0,"request_lost":0.0,"response_lost":0.0,"restore":0.0,"server_error":0.0,"server_restart":0.0},"images":true,"seed":7,"server_clock":{"offset_ms":0,"shape":"offset"},"servers":1}}"#,
        r#"{"kind":"event","ev":"event","event":{"dev":0,"kind":"text","op":"create","tags":[],"unicode":false},"t":0}"#,
        r#"{"kind":"event","ev":"heal","t":0}"#,
        r#"{"kind":"event","ev":"event","event":{"dev":1,"op":"sync"},"t":100}"#,
        r#"{"kind":"exchange","seq":0,"device":"d1","clock":1769508000240,"at":1769508000101,"server":"s0","request":{"method":"GET","path":"/items","query":"profile=0b5e0000-0000-4000-8000-000000000001"},"response":{"status":200,"body":{"items":[]}},"delivered":1}"#,
        r#"{"kind":"event","dev":1,"ev":"sync-done","summary":"pulled 0, pushed 0, conflicts 0, failed 0","t":102}"#,
        r#"{"kind":"event","ev":"event","event":{"dev":0,"op":"sync"},"t":200}"#,
        r#"{"kind":"exchange","seq":1,"device":"d0","clock":1769508000201,"at":1769508000201,"server":"s0","request":{"method":"POST","path":"/items","query":"profile=0b5e0000-0000-4000-8000-000000000001","body":{"content":"note d0-c1","metadata":{"origin":"d0-c1"},"sync_id":"x","tags":[],"type":"text"}},"response":{"status":200,"body":{"created":true,"id":"47c16b10-f0d3-423b-85b9-05dac24e6e19","status":"created","type":"text","version":1}},"delivered":1}"#,
        r#"{"kind":"event","dev":0,"ev":"sync-done","summary":"pulled 0, pushed 1, conflicts 0, failed 0","t":202}"#,
        r#"{"kind":"event","ev":"event","event":{"dev":1,"op":"sync"},"t":300}"#,
        r#"{"kind":"exchange","seq":2,"device":"d1","clock":1769508000440,"at":1769508000301,"server":"s0","request":{"method":"GET","path":"/items/since/2026-01-27T10%3A00%3A00.240Z","query":"profile=0b5e0000-0000-4000-8000-000000000001"},"response":{"status":200,"body":{"items":[]}},"delivered":1}"#,
        r#"{"kind":"exchange","seq":3,"device":"d1","clock":1769508000441,"at":1769508000302,"server":"s0","request":{"method":"GET","path":"/images/47c16b10-f0d3-423b-85b9-05dac24e6e19"},"response":{"status":404,"body":{"error":"Item not found"}},"delivered":1}"#,
        r#"{"kind":"event","ev":"violation","invariant":"convergence","detail":"d1 lacks server item 47c16b10-f0d3-423b-85b9-05dac24e6e19 (Some(\"note d0-c1\"))","items":["d0-c1"]}"#,
    ]
    .join("\n");
    Session::read(text.as_bytes()).unwrap()
}

/// The committed fixture of a failing Electron world: partitions, lost
/// requests, a proxy 503, a duplicate, six violations.
fn fixture() -> Session {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/sessions/electron-seed-2.jsonl"
    );
    Session::open(Path::new(path)).unwrap()
}

#[test]
fn a_one_create_failure_shows_the_create_the_arrows_and_the_violation() {
    let (html, n) = render(&one_create(), Format::Html);
    assert_eq!(n, 4);
    // One request arrow per exchange, and an answer arrow for each answer.
    assert_eq!(html.matches("class=\"req ").count(), 4, "{html}");
    assert_eq!(html.matches("class=\"resp ").count(), 4);
    // The create is on d0's lane, with the origin the world gave it.
    assert!(html.contains("create d0-c1 text"), "{html}");
    // Statuses and a few words of each body.
    assert!(html.contains("200 · 0 items"));
    assert!(html.contains("200 · status created, version 1"), "{html}");
    assert!(html.contains("404 · Item not found"));
    // Decoded paths: no URL escapes anywhere.
    assert!(html.contains("/items/since/2026-01-27T10:00:00.240Z"));
    assert!(!html.contains("%3A"), "a raw %3A is left");
    // The violation: at the top, at the end, and on the rows with its item
    // (the push naming d0-c1, and the image fetch by the id the push got).
    assert!(html.contains("✖ 1 violation(s)"));
    assert!(html.contains("id=\"violations\""));
    assert!(html.contains("d1 lacks server item 47c16b10-f0d3-423b-85b9-05dac24e6e19"));
    let p = Picture::read(&one_create());
    let rows = &p.violations[0].rows;
    let words: Vec<String> = rows
        .iter()
        .map(|&r| match &p.rows[r].kind {
            model::RowKind::Exchange(a) => a.request.clone(),
            model::RowKind::Mark { text, .. } => text.clone(),
            model::RowKind::Across { text } => text.clone(),
        })
        .collect();
    assert_eq!(
        words,
        ["create d0-c1 text", "POST /items", "GET /images/47c16b10…"],
        "{words:?}"
    );
    assert_eq!(html.matches("class=\"hitrow\"").count(), 3);
    // The time axis: true time offsets, and the epoch in words.
    assert!(html.contains("+0.201 s") && html.contains("2026-01-27 10:00:00.000 UTC"));
    // Lanes name their model and clock.
    assert!(html.contains(">electron<") && html.contains(">clock +139 ms<"));
    // A sync's end, in full in its lane's column.
    assert!(html.contains(">done: pulled 0, pushed 1<"), "{html}");
}

/// One exchange per fault the simulator applies, and a partition.
fn faulted() -> Session {
    let x = |seq: u32, fault: &str, rest: &str| {
        format!(
            r#"{{"kind":"exchange","seq":{seq},"device":"d0","at":{},"server":"s0","request":{{"method":"GET","path":"/items/changes","query":"after=0"}},"fault":"{fault}",{rest}}}"#,
            1_769_508_000_000_i64 + 10 * seq as i64
        )
    };
    let text = [
        r#"{"kind":"header","format":"peek-session","version":1,"recorder":{"tool":"peek-sim","version":"0","mode":"sim"},"world":{"devices":[{"clock":{"offset_ms":0,"shape":"offset"},"model":"reference","name":"d0","profile":0},{"clock":{"offset_ms":-5000,"at_ms":15,"jump_ms":3600000,"shape":"jump"},"model":"reference","name":"d1","profile":0}],"faults":{"device_crash":0.0,"duplicate":0.0,"partition":0.0,"request_lost":0.0,"response_lost":0.0,"restore":0.0,"server_error":0.0,"server_restart":0.0},"seed":1,"server_clock":{"offset_ms":0,"shape":"offset"},"servers":1}}"#.to_string(),
        r#"{"kind":"event","dev":0,"ev":"fault","fault":"partition","ms":5,"t":0}"#.to_string(),
        x(0, "partitioned", r#""error":"could not connect: partitioned","delivered":0"#),
        x(1, "request-lost", r#""error":"request lost","delivered":0"#),
        x(2, "response-lost", r#""response":{"status":200,"body":{"cursor":3,"items":[]}},"error":"response lost","delivered":1"#),
        x(3, "duplicate", r#""response":{"status":200,"body":{"cursor":3,"items":[]}},"delivered":2"#),
        x(4, "server-error", r#""response":{"status":503,"body":{"error":"proxy: upstream unavailable"}},"delivered":0"#),
        r#"{"kind":"event","dev":1,"ev":"crash","t":60}"#.to_string(),
    ]
    .join("\n");
    Session::read(text.as_bytes()).unwrap()
}

#[test]
fn faults_are_drawn_where_they_struck() {
    let (html, n) = render(&faulted(), Format::Html);
    assert_eq!(n, 5);
    // Five requests, the duplicate drawn twice; answers only where one
    // came back (the lost one drawn to its ×).
    assert_eq!(html.matches("class=\"req ").count(), 6);
    assert_eq!(html.matches("class=\"resp ").count(), 3);
    assert_eq!(html.matches("class=\"cross\"").count(), 3);
    for label in [
        "× not sent (partitioned) · could not connect: partition…",
        "the device saw: could not connect: partitioned",
        "× request lost · request lost",
        "× 200 lost on the way back · 0 items, cursor 3",
        "200 (delivered twice) · 0 items, cursor 3",
        "503 from the proxy · proxy: upstream unavailable",
        "delivered twice",
    ] {
        assert!(html.contains(label), "{label}");
    }
    // The partition cuts d0's lane for its 5 ms; d1's clock jump and
    // crash are marks on d1's lane.
    assert!(html.contains("class=\"lane cut\""));
    assert!(html.contains("partition for 5 ms"));
    assert!(html.contains("clock jumps +1 h 00 min"));
    assert!(html.contains("crash (the process dies)"));
    assert!(html.contains("clock −5.0 s, jumps +1 h 00 min at +0.015 s"));
}

#[test]
fn every_violation_item_of_a_real_failure_is_on_the_page() {
    let s = fixture();
    let (html, n) = render(&s, Format::Html);
    assert_eq!(n, s.exchanges().count());
    assert_eq!(html.matches("class=\"req ").count(), n);
    assert!(!html.contains("%3A"));
    let mut seen = 0;
    for line in &s.lines {
        if let crate::session::Line::Event(crate::trace::TraceEvent::Violation { items, .. }) = line
        {
            for it in items {
                assert!(html.contains(&format!("<code>{it}</code>")), "{it}");
                seen += 1;
            }
        }
    }
    assert!(seen > 0);
}

#[test]
fn labels_stay_in_their_column() {
    let p = Picture::read(&fixture());
    let (html, _) = render(&fixture(), Format::Html);
    // Every label drawn in the wire fits its width in cells; the cut
    // ones end in … and keep their full text in the table.
    let wire = ((400.0 - 24.0) / 6.7) as usize;
    for row in &p.rows {
        if let model::RowKind::Exchange(a) = &row.kind {
            let drawn = text::fit(&a.response_label(), wire);
            assert!(text::width(&drawn) <= wire);
            assert!(
                html.contains(&text::esc(&a.full)),
                "full text of #{}",
                a.seq
            );
        }
    }
}

#[test]
fn the_same_trace_draws_the_same_bytes_in_both_formats() {
    for format in [Format::Html, Format::Svg] {
        let (a, _) = render(&fixture(), format);
        let (b, _) = render(&fixture(), format);
        assert_eq!(a, b);
    }
    let (svg, n) = render(&one_create(), Format::Svg);
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert_eq!(svg.matches("class=\"req ").count(), n);
    assert!(svg.contains("create d0-c1 text") && svg.contains("items d0-c1"));
    assert!(!svg.contains("%3A"));
    assert_eq!(Format::of_path(Path::new("x/run.SVG")), Format::Svg);
    assert_eq!(Format::of_path(Path::new("run.html")), Format::Html);
}

#[test]
fn a_long_trace_is_cut_into_folds_at_quiet_points() {
    let p = Picture::read(&fixture());
    if p.rows.len() > 120 {
        assert!(p.folds.len() > 1);
    }
    // The folds cover every row once, in order.
    let mut next = 0;
    for f in &p.folds {
        assert_eq!(f.rows.start, next);
        assert!(f.rows.end > f.rows.start && f.rows.len() <= 60);
        next = f.rows.end;
    }
    assert_eq!(next, p.rows.len());
}

#[test]
fn a_recorded_session_without_a_world_still_draws() {
    let text = [
        r#"{"kind":"header","format":"peek-session","version":1,"recorder":{"tool":"peek-sim","version":"0","mode":"record"}}"#,
        r#"{"kind":"exchange","seq":0,"device":"desktop","clock":1000,"at":1000,"request":{"method":"GET","path":"/"},"response":{"status":200,"body":{"features":["a","b"]}}}"#,
        r#"{"kind":"exchange","seq":1,"device":"desktop","clock":3601500,"at":1500,"request":{"method":"GET","path":"/items"},"error":"upstream: connection reset"}"#,
    ]
    .join("\n");
    let s = Session::read(text.as_bytes()).unwrap();
    let (html, n) = render(&s, Format::Html);
    assert_eq!(n, 2);
    assert!(html.contains(">server<"), "{html}");
    assert!(html.contains("200 · 2 features"));
    assert!(html.contains("× no answer · upstream: connection reset"));
    assert!(html.contains("clock jumped +1 h 00 min"), "{html}");
    assert!(html.contains("No violation is recorded"));
}

#[test]
fn a_create_of_the_same_content_on_two_devices_marks_both_lanes() {
    let text = r#"{"kind":"event","ev":"event","event":{"dev":1,"kind":"url","op":"create-same","other":0},"t":5}"#;
    let s = Session {
        header: one_create().header,
        lines: vec![serde_json::from_str(text).unwrap()],
    };
    let p = Picture::read(&s);
    let marks: Vec<(usize, String)> = p
        .rows
        .iter()
        .filter_map(|r| match &r.kind {
            model::RowKind::Mark { lane, text, .. } => Some((*lane, text.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        marks,
        [
            (1, "create d1-c1 url (same as d0-c1)".to_string()),
            (0, "create d0-c1 url (same as d1-c1)".to_string())
        ]
    );
}
