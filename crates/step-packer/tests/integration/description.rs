//! The descriptions `runner explain` shows: every property documented, and
//! each YAML example builds a step.

use serde_json::Value;

/// Properties the runner handles itself (not passed to the step).
const COMMON: &[&str] = &[
    "id",
    "name",
    "cwd",
    "timeout",
    "retries",
    "continue_on_error",
    "when",
];

#[test]
fn examples_parse_and_build_their_steps() {
    for kind in step_packer::kinds() {
        let d = kind.description();
        assert!(!d.summary.is_empty() && !d.doc.is_empty(), "{}", d.kind);
        let steps: Vec<Value> = serde_saphyr::from_str(&d.example)
            .unwrap_or_else(|e| panic!("{} example is not YAML: {e}\n{}", d.kind, d.example));
        let own = steps
            .iter()
            .filter_map(|s| s.as_object())
            .find_map(|s| s.get(&d.kind))
            .unwrap_or_else(|| panic!("{} example does not use the kind", d.kind));
        let mut props = own.as_object().cloned().unwrap_or_default();
        props.retain(|k, _| !COMMON.contains(&k.as_str()));
        for name in props.keys() {
            assert!(
                d.find_property(name).is_some(),
                "{}: example property {name} is not documented",
                d.kind
            );
        }
        kind.build(Value::Object(props))
            .unwrap_or_else(|e| panic!("{} example does not build: {e}", d.kind));
    }
}

#[test]
fn documented_and_accepted_properties_are_the_same() {
    // A property the config accepts but the description misses would be
    // invisible in `runner explain`; an unknown one is rejected by name.
    for kind in step_packer::kinds() {
        let d = kind.description();
        for p in &d.properties {
            let mut props = serde_json::Map::new();
            props.insert("template".into(), Value::String("t.json".into()));
            let value = match p.ty {
                step_core::PropertyType::Bool => Value::Bool(true),
                step_core::PropertyType::Integer => Value::from(2),
                step_core::PropertyType::Map => serde_json::json!({"a": "b"}),
                step_core::PropertyType::Duration => Value::String("30s".into()),
                _ if p.name == "on_error" => Value::String("abort".into()),
                _ if p.name == "version" => Value::String("~> 1.6".into()),
                _ => Value::String("x".into()),
            };
            props.insert(p.name.clone(), value);
            kind.build(Value::Object(props)).unwrap_or_else(|e| {
                panic!("{}: documented property {} is refused: {e}", d.kind, p.name)
            });
        }
        let e = match kind.build(serde_json::json!({"template": "t.json", "tempalte": "x"})) {
            Ok(_) => panic!("{}: a misspelt property was accepted", d.kind),
            Err(e) => e,
        };
        assert_eq!(e.property.as_deref(), Some("tempalte"));
        // serde lists the fields it accepts: each must be documented.
        let accepted: Vec<&str> = e
            .message
            .split("expected one of ")
            .nth(1)
            .unwrap_or_else(|| panic!("unexpected message: {}", e.message))
            .split(", ")
            .map(|f| f.trim_matches('`'))
            .collect();
        let mut documented: Vec<&str> = d.properties.iter().map(|p| p.name.as_str()).collect();
        let mut accepted_sorted = accepted.clone();
        accepted_sorted.sort_unstable();
        documented.sort_unstable();
        assert_eq!(accepted_sorted, documented, "{}", d.kind);
    }
}
