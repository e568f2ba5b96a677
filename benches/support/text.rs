//! Deterministic text the size of a long model answer, and a lightly edited copy of it:
//! what the diff and Compare benchmarks feed on.

const WORDS: &[&str] = &[
    "the",
    "change",
    "request",
    "renames",
    "a",
    "log",
    "field",
    "risk",
    "is",
    "low",
    "because",
    "no",
    "consumer",
    "reads",
    "it",
    "rollback",
    "plan",
    "database",
    "migration",
    "requires",
    "downtime",
    "of",
    "about",
    "minutes",
    "policy",
    "section",
    "approval",
    "from",
    "owner",
    "security",
    "review",
    "needed",
    "deploy",
    "window",
    "Friday",
    "customer-facing",
    "impact",
];

/// Deterministic pseudo-random text (a tiny LCG, so the bench needs no rand crate).
pub fn text(seed: u64, bytes: usize) -> String {
    let mut state = seed;
    let mut next = || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) as usize
    };
    let mut out = String::with_capacity(bytes + 16);
    while out.len() < bytes {
        out.push_str(WORDS[next() % WORDS.len()]);
        match next() % 20 {
            0 => out.push_str(".\n"),
            1 => out.push_str(", "),
            _ => out.push(' '),
        }
    }
    out
}

/// `a` with about one word in 40 replaced, and a few sentences inserted or dropped.
pub fn edited(a: &str) -> String {
    let mut out = String::with_capacity(a.len() + 256);
    for (i, line) in a.split_inclusive('\n').enumerate() {
        match i % 37 {
            5 => continue,
            11 => out.push_str("An extra sentence the other variant wrote.\n"),
            _ => {}
        }
        for (j, word) in line.split_inclusive(' ').enumerate() {
            if (i * 31 + j) % 40 == 7 {
                out.push_str("DIFFERENT ");
            } else {
                out.push_str(word);
            }
        }
    }
    out
}
