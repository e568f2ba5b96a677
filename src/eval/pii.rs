//! Personal data and secrets in text: finding them (the `pii` check) and replacing them with
//! typed placeholders (the export step).
//!
//! What is found, and how false positives are kept down:
//!
//! | kind | shape | extra test |
//! | --- | --- | --- |
//! | `email` | `local@domain.tld` | — |
//! | `phone` | `+` and 8-15 digits; `(area)` and 7-15 digits; else 10-15 digits in 2+ groups of 2-5 separated by space, `-` or `.` | not part of a longer run of digits or letters |
//! | `card` | 13-19 digits, optionally grouped by spaces or dashes, starting with 1-6 | Luhn checksum; not all one digit |
//! | `iban` | country code, 2 check digits, 11-30 letters/digits, optionally in groups of 4 | ISO 7064 mod-97 |
//! | `ip` | IPv4 dotted quad (0-255 each); IPv6 as parsed by `std::net::Ipv6Addr` | not inside a longer dotted number or identifier |
//! | `secret` | `sk-…` (chat API keys), `AKIA…`/`ASIA…` (AWS), `ghp_…`/`gho_…`/`github_pat_…`, `xox?-…` (Slack), JWTs, PEM private keys, `Bearer …`, and a 16+ char hex/base64 value labelled `key`/`secret`/`token`/`password` (`api_key: …`, `"token": "…"`) | labelled values need a digit |
//!
//! When matches overlap, the more specific kind wins (secret, email, iban, card, ip, phone).

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

/// What a match is. Ordered from most to least specific: that order settles overlaps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PiiKind {
    Secret,
    Email,
    Iban,
    Card,
    Ip,
    Phone,
}

impl PiiKind {
    pub const ALL: [PiiKind; 6] = [
        PiiKind::Secret,
        PiiKind::Email,
        PiiKind::Iban,
        PiiKind::Card,
        PiiKind::Ip,
        PiiKind::Phone,
    ];

    /// The name used in reasons and counts: `email`, `phone`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            PiiKind::Secret => "secret",
            PiiKind::Email => "email",
            PiiKind::Iban => "iban",
            PiiKind::Card => "card",
            PiiKind::Ip => "ip",
            PiiKind::Phone => "phone",
        }
    }

    /// What [`redact`] puts in place of a match: `[EMAIL]`, `[PHONE]`, ...
    pub fn placeholder(self) -> &'static str {
        match self {
            PiiKind::Secret => "[SECRET]",
            PiiKind::Email => "[EMAIL]",
            PiiKind::Iban => "[IBAN]",
            PiiKind::Card => "[CARD]",
            PiiKind::Ip => "[IP]",
            PiiKind::Phone => "[PHONE]",
        }
    }
}

impl fmt::Display for PiiKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One finding: its kind and its byte range in the text searched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PiiMatch {
    pub kind: PiiKind,
    pub range: Range<usize>,
}

/// How many matches of each kind.
pub type PiiCounts = BTreeMap<PiiKind, usize>;

fn re(p: &str) -> Regex {
    Regex::new(p).expect("static PII regex")
}

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)[a-z0-9](?:[a-z0-9._%+-]{0,63})@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,24}",
    )
});

// Each candidate is checked further in code; the regex crate has no look-around, so
// boundaries are checked there too.
static PHONE: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,5}\)[ .-]?)?\d{1,14}(?:[ .-]\d{1,5}){0,5}")
});

static CARD: LazyLock<Regex> = LazyLock::new(|| re(r"\d(?:[ -]?\d){12,18}"));

static IBAN: LazyLock<Regex> =
    LazyLock::new(|| re(r"[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?"));

static IPV4: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}")
});

static IPV6: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?:[0-9A-Fa-f]{0,4}:){2,7}(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f]{1,4})?")
});

static SECRETS: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    [
        // Chat API keys: sk-..., sk-proj-..., sk-ant-...
        r"\bsk-[A-Za-z0-9_-]{20,}",
        // AWS access key ids.
        r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
        // GitHub tokens.
        r"\bgh[pousr]_[A-Za-z0-9]{30,255}\b",
        r"\bgithub_pat_[A-Za-z0-9_]{22,255}\b",
        // Slack tokens.
        r"\bxox[abposr]-[A-Za-z0-9-]{10,}",
        // JSON Web Tokens.
        r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
        // PEM private keys, whole block when it is closed.
        r"-----BEGIN [A-Z ]*PRIVATE KEY-----(?:[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----)?",
    ]
    .into_iter()
    .map(re)
    .collect()
});

// A labelled value: group 1 is the secret. The label may be a longer identifier
// (`client_secret`, `X-Api-Key`), quoted or not, followed by `:` or `=`.
static LABELLED: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"(?i)(?:[a-z0-9_.-]*(?:key|secret|token|passwd|password|pwd)[a-z0-9_.-]*)["']?\s*[:=]\s*["']?([A-Za-z0-9+/_.=-]{16,})"#,
    )
});

static BEARER: LazyLock<Regex> = LazyLock::new(|| re(r"(?i)\bbearer\s+([A-Za-z0-9._~+/-]{16,}=*)"));

fn prev_char(text: &str, at: usize) -> Option<char> {
    text[..at].chars().next_back()
}

fn next_char(text: &str, at: usize) -> Option<char> {
    text[at..].chars().next()
}

/// True when the match touches a letter, digit or `_` on either side: it is part of a
/// longer token, not a number of its own.
fn glued(text: &str, r: &Range<usize>) -> bool {
    let word = |c: char| c.is_alphanumeric() || c == '_';
    prev_char(text, r.start).is_some_and(word) || next_char(text, r.end).is_some_and(word)
}

/// True when a dot or dash plus digit continues the number on either side (`1.2.3.4.5`,
/// `10.0.0.1-3`), so the match is a piece of something longer.
fn continues_number(text: &str, r: &Range<usize>) -> bool {
    let before = &text[..r.start];
    let after = &text[r.end..];
    let b = before.chars().rev().take(2).collect::<Vec<_>>();
    let a = after.chars().take(2).collect::<Vec<_>>();
    let sep = |c: char| c == '.' || c == '-';
    (b.len() == 2 && sep(b[0]) && b[1].is_ascii_digit())
        || (a.len() == 2 && sep(a[0]) && a[1].is_ascii_digit())
}

fn digits(s: &str) -> impl Iterator<Item = u32> + '_ {
    s.chars().filter_map(|c| c.to_digit(10))
}

/// The Luhn checksum over the digits of `s` (separators ignored).
pub fn luhn_valid(s: &str) -> bool {
    let ds: Vec<u32> = digits(s).collect();
    if ds.is_empty() {
        return false;
    }
    let sum: u32 = ds
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// ISO 13616 IBAN check: move the first four characters to the end, letters to 10..35, and
/// the number mod 97 must be 1. Spaces are ignored; anything else but A-Z and 0-9 fails.
pub fn iban_valid(s: &str) -> bool {
    let compact: Vec<char> = s.chars().filter(|c| *c != ' ').collect();
    if !(15..=34).contains(&compact.len())
        || !compact[..2].iter().all(char::is_ascii_uppercase)
        || !compact[2..4].iter().all(char::is_ascii_digit)
    {
        return false;
    }
    let mut rem: u32 = 0;
    for c in compact[4..].iter().chain(&compact[..4]) {
        let v = match c {
            '0'..='9' => u32::from(*c) - u32::from('0'),
            'A'..='Z' => u32::from(*c) - u32::from('A') + 10,
            _ => return false,
        };
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    rem == 1
}

fn find_emails(text: &str, out: &mut Vec<PiiMatch>) {
    for m in EMAIL.find_iter(text) {
        out.push(PiiMatch {
            kind: PiiKind::Email,
            range: m.range(),
        });
    }
}

fn find_cards(text: &str, out: &mut Vec<PiiMatch>) {
    for m in CARD.find_iter(text) {
        let r = m.range();
        let s = m.as_str();
        if glued(text, &r) || continues_number(text, &r) {
            continue;
        }
        let first = s.chars().next().and_then(|c| c.to_digit(10)).unwrap_or(0);
        let mut ds = digits(s);
        let d0 = ds.next();
        let all_same = ds.all(|d| Some(d) == d0);
        // One kind of separator, used consistently or not at all.
        let seps: Vec<char> = s.chars().filter(|c| !c.is_ascii_digit()).collect();
        let mixed = seps.windows(2).any(|w| w[0] != w[1]);
        if (1..=6).contains(&first) && !all_same && !mixed && luhn_valid(s) {
            out.push(PiiMatch {
                kind: PiiKind::Card,
                range: r,
            });
        }
    }
}

fn find_ibans(text: &str, out: &mut Vec<PiiMatch>) {
    for m in IBAN.find_iter(text) {
        let start = m.start();
        if prev_char(text, start).is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        // The pattern may have swallowed a following word in groups of four: try the
        // longest candidate first, then drop trailing groups.
        let mut s = m.as_str();
        loop {
            let end = start + s.len();
            if iban_valid(s) && !next_char(text, end).is_some_and(char::is_alphanumeric) {
                out.push(PiiMatch {
                    kind: PiiKind::Iban,
                    range: start..end,
                });
                break;
            }
            match s.rfind(' ') {
                Some(i) if i > 4 => s = &s[..i],
                _ => break,
            }
        }
    }
}

fn find_ips(text: &str, out: &mut Vec<PiiMatch>) {
    for m in IPV4.find_iter(text) {
        let r = m.range();
        if !glued(text, &r) && !continues_number(text, &r) {
            out.push(PiiMatch {
                kind: PiiKind::Ip,
                range: r,
            });
        }
    }
    for m in IPV6.find_iter(text) {
        let r = m.range();
        let s = m.as_str();
        let hex_digits = s.chars().filter(char::is_ascii_hexdigit).count();
        // `std::vec`, `12:30:45` and a bare `::` are not addresses; a real one has at least
        // two colons, a few hex digits and stands on its own.
        if s.matches(':').count() < 2 || hex_digits < 3 || glued(text, &r) {
            continue;
        }
        if s.parse::<std::net::Ipv6Addr>().is_ok() {
            out.push(PiiMatch {
                kind: PiiKind::Ip,
                range: r,
            });
        }
    }
}

fn find_phones(text: &str, out: &mut Vec<PiiMatch>) {
    for m in PHONE.find_iter(text) {
        let mut r = m.range();
        let mut s = m.as_str();
        // A trailing separator is not part of the number.
        let trimmed = s.trim_end_matches([' ', '.', '-']);
        r.end -= s.len() - trimmed.len();
        s = trimmed;
        if glued(text, &r) || continues_number(text, &r) {
            continue;
        }
        let n = digits(s).count();
        let plus = s.starts_with('+');
        let parens = s.contains('(');
        let group_lens: Vec<usize> = s
            .split(|c: char| !c.is_ascii_digit())
            .filter(|g| !g.is_empty())
            .map(str::len)
            .collect();
        let groups = group_lens.len();
        let ok = if plus {
            (8..=15).contains(&n)
        } else if parens {
            (7..=15).contains(&n)
        } else {
            // Plain digits: only 10-15 digit numbers written in groups of 2-5 (a lone digit
            // is more likely a code like an ISBN); a dotted run of four small groups is an
            // IP-like version number, not a phone.
            let dotted_quad = s.contains('.') && groups == 4 && n <= 12;
            (10..=15).contains(&n)
                && groups >= 2
                && group_lens.iter().all(|l| (2..=5).contains(l))
                && !dotted_quad
        };
        if ok {
            out.push(PiiMatch {
                kind: PiiKind::Phone,
                range: r,
            });
        }
    }
}

fn find_secrets(text: &str, out: &mut Vec<PiiMatch>) {
    for re in SECRETS.iter() {
        for m in re.find_iter(text) {
            out.push(PiiMatch {
                kind: PiiKind::Secret,
                range: m.range(),
            });
        }
    }
    for re in [&*LABELLED, &*BEARER] {
        for c in re.captures_iter(text) {
            if let Some(v) = c.get(1)
                && v.as_str().chars().any(|c| c.is_ascii_digit())
            {
                out.push(PiiMatch {
                    kind: PiiKind::Secret,
                    range: v.range(),
                });
            }
        }
    }
}

/// Every finding in `text`, sorted by position, none overlapping.
pub fn find_pii(text: &str) -> Vec<PiiMatch> {
    let mut all = Vec::new();
    find_secrets(text, &mut all);
    find_emails(text, &mut all);
    find_ibans(text, &mut all);
    find_cards(text, &mut all);
    find_ips(text, &mut all);
    find_phones(text, &mut all);
    // The most specific kind first, then the longer match; keep what does not overlap
    // anything already kept.
    all.sort_by(|a, b| {
        a.kind
            .cmp(&b.kind)
            .then((b.range.end - b.range.start).cmp(&(a.range.end - a.range.start)))
            .then(a.range.start.cmp(&b.range.start))
    });
    let mut kept: Vec<PiiMatch> = Vec::new();
    for m in all {
        if m.range.is_empty() {
            continue;
        }
        if kept
            .iter()
            .all(|k| m.range.end <= k.range.start || m.range.start >= k.range.end)
        {
            kept.push(m);
        }
    }
    kept.sort_by_key(|m| m.range.start);
    kept
}

/// How many of each kind `matches` holds.
pub fn count_by_kind(matches: &[PiiMatch]) -> PiiCounts {
    let mut counts = PiiCounts::new();
    for m in matches {
        *counts.entry(m.kind).or_insert(0) += 1;
    }
    counts
}

/// `text` with every finding replaced by its placeholder (`[EMAIL]`, `[PHONE]`, `[CARD]`,
/// `[IP]`, `[IBAN]`, `[SECRET]`), and how many of each were replaced.
pub fn redact(text: &str) -> (String, PiiCounts) {
    let matches = find_pii(text);
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for m in &matches {
        out.push_str(&text[at..m.range.start]);
        out.push_str(m.kind.placeholder());
        at = m.range.end;
    }
    out.push_str(&text[at..]);
    (out, count_by_kind(&matches))
}

/// "2 email, 1 card": kinds and counts, never the values themselves.
pub fn describe_counts(counts: &PiiCounts) -> String {
    counts
        .iter()
        .map(|(k, n)| format!("{n} {k}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<(PiiKind, &str)> {
        find_pii(text)
            .into_iter()
            .map(|m| (m.kind, &text[m.range]))
            .collect()
    }

    #[test]
    fn emails() {
        assert_eq!(
            kinds("Write to jane.doe+news@example.co.uk today."),
            [(PiiKind::Email, "jane.doe+news@example.co.uk")]
        );
        assert!(kinds("an @ sign, user@localhost and a@b").is_empty());
    }

    #[test]
    fn phones() {
        for (text, want) in [
            ("Call +1 415 555 2671 now", "+1 415 555 2671"),
            ("Call +14155552671.", "+14155552671"),
            ("tel (555) 123-4567", "(555) 123-4567"),
            ("or 555-123-4567, ok", "555-123-4567"),
            ("or 020 7946 0958", "020 7946 0958"),
            ("+44 20 7946 0958", "+44 20 7946 0958"),
            ("phone: 555.123.4567", "555.123.4567"),
        ] {
            assert_eq!(kinds(text), [(PiiKind::Phone, want)], "{text}");
        }
        for text in [
            "on 2024-01-15 at 12:30",
            "version 1.2.3",
            "order 12345678",
            "it costs 1,234,567.89 dollars",
            "ids 5551234567",
            "ratio 3.14159",
            "call 123-4567",
            "build 2024.01.15.1",
            "ISBN 978-3-16-148410-0",
            "ISBN 978-1-4028-9462-6",
        ] {
            assert!(kinds(text).is_empty(), "{text}: {:?}", kinds(text));
        }
    }

    #[test]
    fn cards_need_luhn() {
        assert!(luhn_valid("4111 1111 1111 1111"));
        assert!(!luhn_valid("4111 1111 1111 1112"));
        assert_eq!(
            kinds("card 4111 1111 1111 1111 exp 12/29"),
            [(PiiKind::Card, "4111 1111 1111 1111")]
        );
        assert_eq!(
            kinds("amex 3782-822463-10005."),
            [(PiiKind::Card, "3782-822463-10005")]
        );
        assert_eq!(
            kinds("5555555555554444"),
            [(PiiKind::Card, "5555555555554444")]
        );
        // Luhn fails, all zeros, a leading 9, a longer digit run.
        for text in [
            "4111 1111 1111 1112",
            "0000 0000 0000 0000",
            "9111111111111111",
            "41111111111111110000000",
        ] {
            assert!(
                !kinds(text).iter().any(|(k, _)| *k == PiiKind::Card),
                "{text}"
            );
        }
    }

    #[test]
    fn ibans_need_mod97() {
        assert!(iban_valid("GB82 WEST 1234 5698 7654 32"));
        assert!(iban_valid("DE89370400440532013000"));
        assert!(!iban_valid("GB82 WEST 1234 5698 7654 33"));
        assert_eq!(
            kinds("Pay GB82 WEST 1234 5698 7654 32 TODAY"),
            [(PiiKind::Iban, "GB82 WEST 1234 5698 7654 32")]
        );
        assert_eq!(
            kinds("IBAN DE89370400440532013000."),
            [(PiiKind::Iban, "DE89370400440532013000")]
        );
        assert!(
            kinds("GB82 WEST 1234 5698 7654 33")
                .iter()
                .all(|(k, _)| *k != PiiKind::Iban)
        );
    }

    #[test]
    fn ips() {
        assert_eq!(
            kinds("host 192.168.1.20:8080"),
            [(PiiKind::Ip, "192.168.1.20")]
        );
        assert_eq!(
            kinds("v6 2001:db8::8a2e:370:7334 up"),
            [(PiiKind::Ip, "2001:db8::8a2e:370:7334")]
        );
        assert_eq!(
            kinds("mapped ::ffff:192.0.2.128"),
            [(PiiKind::Ip, "::ffff:192.0.2.128")]
        );
        for text in [
            "std::vec::Vec and Foo::bar",
            "at 12:30:45",
            "version 1.2.3.4.5",
            "999.1.1.1",
            "a::b",
            "de:ad:be:ef:00:01",
        ] {
            assert!(kinds(text).is_empty(), "{text}: {:?}", kinds(text));
        }
    }

    #[test]
    fn secrets() {
        let cases = [
            "key sk-proj-abcdefghijklmnopqrstuvwxyz012345",
            "AKIAIOSFODNN7EXAMPLE",
            "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
            "xoxb-123456789012-abcdefghij",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        ];
        for text in cases {
            let found = kinds(text);
            assert_eq!(found.len(), 1, "{text}: {found:?}");
            assert_eq!(found[0].0, PiiKind::Secret, "{text}");
        }
        assert_eq!(
            kinds(r#"{"api_key": "a1b2c3d4e5f6a7b8c9d0e1f2"}"#),
            [(PiiKind::Secret, "a1b2c3d4e5f6a7b8c9d0e1f2")]
        );
        assert_eq!(
            kinds("Authorization: Bearer abc123def456ghi789jkl"),
            [(PiiKind::Secret, "abc123def456ghi789jkl")]
        );
        assert_eq!(
            kinds("SECRET_TOKEN=Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA=="),
            [(PiiKind::Secret, "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA==")]
        );
        // An unlabelled hash (a commit id) is not a secret; a labelled word without digits is not either.
        assert!(kinds("commit 3f786850e387550fdab836ed7e6dc881de23001b").is_empty());
        assert!(kinds("token: notarealsecretvalue").is_empty());
        let pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAK\n-----END RSA PRIVATE KEY-----";
        assert_eq!(kinds(pem), [(PiiKind::Secret, pem)]);
    }

    #[test]
    fn redact_replaces_and_counts() {
        let text = "Mail bob@example.com or alice@example.org, card 4111-1111-1111-1111, ip 10.0.0.1, key sk-abcdefghijklmnopqrstuvwxyz123456.";
        let (red, counts) = redact(text);
        assert_eq!(
            red,
            "Mail [EMAIL] or [EMAIL], card [CARD], ip [IP], key [SECRET]."
        );
        assert_eq!(counts.get(&PiiKind::Email), Some(&2));
        assert_eq!(describe_counts(&counts), "1 secret, 2 email, 1 card, 1 ip");
        assert_eq!(redact("nothing here").0, "nothing here");
    }

    proptest::proptest! {
        #[test]
        fn matches_are_sorted_disjoint_and_on_char_boundaries(
            text in r"(\PC|[0-9 .:+()@-]|[A-Z]{2}[0-9]{2}|sk-|key: ){0,80}"
        ) {
            let found = find_pii(&text);
            for w in found.windows(2) {
                proptest::prop_assert!(w[0].range.end <= w[1].range.start);
            }
            for m in &found {
                proptest::prop_assert!(text.is_char_boundary(m.range.start));
                proptest::prop_assert!(text.is_char_boundary(m.range.end));
            }
            let (red, counts) = redact(&text);
            proptest::prop_assert_eq!(counts.values().sum::<usize>(), found.len());
            proptest::prop_assert!(red.len() <= text.len() + 8 * found.len());
        }
    }

    #[test]
    fn weird_input_does_not_panic() {
        let huge = "x@y.zz 4111111111111111 ".repeat(5000);
        assert_eq!(find_pii(&huge).len(), 10_000);
        for text in [
            "",
            "\u{0}\u{fffd}\u{fffd}",
            "é@é.é",
            "+",
            "((((",
            "::::::::",
            "1-",
            "ü4111111111111111ü",
        ] {
            let _ = redact(text);
        }
        let digits: String = "1234567890".repeat(10_000);
        let _ = find_pii(&digits);
    }
}
