//! The kind's description: every property documented is a property of the
//! config and the other way round, and the YAML example builds.

use std::collections::BTreeSet;

use serde_json::Value;
use step_dockerbench::DockerBenchConfig;

#[test]
fn the_description_documents_every_property_and_output() {
    let kinds = step_dockerbench::kinds();
    assert_eq!(kinds.len(), 1);
    let d = kinds[0].description();
    assert_eq!(d.kind, "dockerbench");
    assert!(!d.summary.is_empty() && !d.doc.is_empty());
    let documented: BTreeSet<String> = d.properties.iter().map(|p| p.name.clone()).collect();
    let Value::Object(fields) =
        serde_json::to_value(DockerBenchConfig::default()).expect("serialize")
    else {
        panic!("config is not an object");
    };
    let actual: BTreeSet<String> = fields.keys().cloned().collect();
    assert_eq!(documented, actual);
    assert!(d.properties.iter().all(|p| !p.doc.is_empty()));
    let outputs: BTreeSet<&str> = d.outputs.iter().map(|o| o.name.as_str()).collect();
    for name in [
        "pass",
        "warn",
        "info",
        "note",
        "total",
        "score",
        "ignored",
        "warn_counted",
        "log",
        "format",
    ] {
        assert!(outputs.contains(name), "output {name} undocumented");
    }
}

#[test]
fn the_example_builds() {
    let d = step_dockerbench::kinds()[0].description();
    let steps: Vec<Value> = serde_saphyr::from_str(&d.example).expect("example is YAML");
    assert_eq!(steps.len(), 2);
    for step in steps {
        let mut props = step
            .get("dockerbench")
            .cloned()
            .expect("a dockerbench entry");
        // Common properties (id, name, …) belong to the runner.
        if let Value::Object(map) = &mut props {
            map.remove("id");
        }
        if let Err(e) = step_dockerbench::kinds()[0].build(props.clone()) {
            panic!("example step {props} does not build: {e}");
        }
    }
}
