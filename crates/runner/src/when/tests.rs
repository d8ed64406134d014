//! Truth tables for the `when:` grammar: operators, precedence, quoting,
//! truthiness and malformed conditions.

use super::*;

fn eval(text: &str, vars: &[(&str, &str)]) -> bool {
    let cond = parse(text).unwrap_or_else(|e| panic!("`{text}` should parse: {e}"));
    let get = |n: &str| {
        vars.iter()
            .find(|(k, _)| *k == n)
            .map(|(_, v)| v.to_string())
    };
    cond.holds(&get)
}

#[test]
fn and_or_truth_table() {
    for (a, b) in [("1", "1"), ("1", "0"), ("0", "1"), ("0", "0")] {
        let (ta, tb) = (a == "1", b == "1");
        let vars = [("A", a), ("B", b)];
        assert_eq!(eval("A && B", &vars), ta && tb, "A={a} B={b}");
        assert_eq!(eval("A || B", &vars), ta || tb, "A={a} B={b}");
        assert_eq!(eval("!A", &vars), !ta, "A={a}");
        assert_eq!(eval("!(A && B)", &vars), !(ta && tb), "A={a} B={b}");
        assert_eq!(eval("!A || !B", &vars), !ta || !tb, "A={a} B={b}");
    }
}

#[test]
fn and_binds_tighter_than_or_and_not_tighter_than_and() {
    for bits in 0..8u8 {
        let (a, b, c) = (bits & 1 != 0, bits & 2 != 0, bits & 4 != 0);
        let s = |x: bool| if x { "true" } else { "false" };
        let vars = [("A", s(a)), ("B", s(b)), ("C", s(c))];
        assert_eq!(eval("A || B && C", &vars), a || (b && c), "{bits:03b}");
        assert_eq!(eval("A && B || C", &vars), (a && b) || c, "{bits:03b}");
        assert_eq!(eval("(A || B) && C", &vars), (a || b) && c, "{bits:03b}");
        assert_eq!(eval("!A && B", &vars), !a && b, "{bits:03b}");
        assert_eq!(eval("!(A || B) || C", &vars), !(a || b) || c, "{bits:03b}");
    }
}

#[test]
fn the_issue_example_is_two_comparisons() {
    let cond = parse("CLOUD == aws && REGION == eu").unwrap();
    assert_eq!(cond.to_string(), "CLOUD == \"aws\" && REGION == \"eu\"");
    assert!(eval(
        "CLOUD == aws && REGION == eu",
        &[("CLOUD", "aws"), ("REGION", "eu")]
    ));
    assert!(!eval(
        "CLOUD == aws && REGION == eu",
        &[("CLOUD", "aws"), ("REGION", "us")]
    ));
    assert!(!eval(
        "CLOUD == aws && REGION == eu",
        &[("CLOUD", "gcp"), ("REGION", "eu")]
    ));
}

#[test]
fn comparisons() {
    let v = [("CLOUD", "aws"), ("OTHER", "aws"), ("EMPTY", "")];
    assert!(eval("CLOUD == aws", &v));
    assert!(!eval("CLOUD != aws", &v));
    assert!(eval("CLOUD != gcp", &v));
    assert!(eval("$CLOUD == \"aws\"", &v));
    assert!(eval("${CLOUD} == 'aws'", &v));
    assert!(eval("CLOUD == $OTHER", &v));
    assert!(eval("EMPTY == \"\"", &v));
    assert!(
        eval("UNSET == ''", &v),
        "an unset variable compares as empty"
    );
    assert!(!eval("UNSET != \"\"", &v));
    assert!(eval("CLOUD==aws", &v), "no spaces needed");
}

#[test]
fn quoted_values_keep_spaces_and_operators() {
    let v = [("MSG", "a && b || !c"), ("NAME", "eu west")];
    assert!(eval("MSG == \"a && b || !c\"", &v));
    assert!(eval("NAME == 'eu west'", &v));
    assert!(!eval("NAME == 'eu'", &v));
}

#[test]
fn bare_names_are_set_and_not_false() {
    for (value, expected) in [
        ("true", true),
        ("1", true),
        ("yes", true),
        ("anything", true),
        ("TRUE", true),
        ("false", false),
        ("False", false),
        ("0", false),
        ("", false),
        ("no", false),
        ("off", false),
    ] {
        assert_eq!(eval("X", &[("X", value)]), expected, "X={value:?}");
        assert_eq!(
            eval("!X", &[("X", value)]),
            !expected,
            "!X with X={value:?}"
        );
    }
    assert!(!eval("X", &[]), "unset");
    assert!(eval("!X", &[]), "unset, negated");
    assert!(eval("!!X", &[("X", "1")]));
}

#[test]
fn display_round_trips() {
    for text in [
        "A",
        "!A",
        "A == \"x\"",
        "A != \"\"",
        "A && B || C",
        "(A || B) && C",
        "!(A && B)",
        "A == $B",
    ] {
        let cond = parse(text).unwrap();
        assert_eq!(parse(&cond.to_string()).unwrap(), cond, "{text}");
    }
}

#[test]
fn malformed_conditions_are_errors_with_offsets() {
    for (text, offset, fragment) in [
        ("", 0, "empty"),
        ("CLOUD = aws", 6, "single `=`"),
        ("A & B", 2, "single `&`"),
        ("A | B", 2, "single `|`"),
        ("A &&", 4, "expected a variable name"),
        ("&& A", 0, "expected a variable name"),
        ("(A || B", 7, "expected `)`"),
        ("A || B)", 6, "unexpected `)`"),
        ("CLOUD == ", 9, "expected a value"),
        ("CLOUD == aws eu", 13, "unexpected `eu`"),
        ("CLOUD aws", 6, "unexpected `aws`"),
        ("NAME == \"open", 8, "never closed"),
        ("\"aws\" == CLOUD", 0, "variable goes on the left"),
        ("1X", 0, "not a variable name"),
        ("${A", 0, "never closed"),
        ("$ == x", 0, "not a variable name"),
        ("A == == B", 5, "expected a value"),
    ] {
        let e = parse(text).expect_err(text);
        assert_eq!(e.offset, offset, "{text}: {e}");
        assert!(e.message.contains(fragment), "{text}: {e}");
    }
}

#[test]
fn variables_are_listed() {
    let cond = parse("A && (B == x || !C) && D != $E").unwrap();
    assert_eq!(cond.variables(), vec!["A", "B", "C", "D", "E"]);
}

#[test]
fn when_implements_from_str_with_a_typed_error() {
    use crate::model::When;
    let when: When = "CI && !SKIP".parse().unwrap();
    assert!(when.holds(|n| (n == "CI").then(|| "1".to_string())));
    assert!(!when.holds(|_| None));
    let e = "A &".parse::<When>().unwrap_err();
    assert_eq!(e.text, "A &");
    assert_eq!(e.source.offset, 2);
    assert!(
        e.to_string()
            .starts_with("`A &` is not a condition: a single `&`"),
        "{e}"
    );
    assert!(std::error::Error::source(&e).is_some());
}
