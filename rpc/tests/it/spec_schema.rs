//! A small JSON-schema checker for the execution-apis result schemas in
//! `schemas/execution-apis.json`: `type`, `required`, `properties`, `additionalProperties`
//! (false or a schema), `items`, `pattern`, `const`, `oneOf` (exactly one), `anyOf`, `allOf`
//! and local `$ref`s, which is all those schemas use.

use std::sync::OnceLock;

use serde_json::Value;

fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| {
        serde_json::from_str(include_str!("schemas/execution-apis.json"))
            .expect("schemas/execution-apis.json is JSON")
    })
}

/// Checks `value` against the definition `name`; panics with every violation found.
pub fn assert_matches(name: &str, value: &Value) {
    let schema = &document()["definitions"][name];
    assert!(!schema.is_null(), "no schema {name}");
    let mut errors = Vec::new();
    check(schema, value, "$", &mut errors);
    assert!(
        errors.is_empty(),
        "{name}: {value} violates the spec schema:\n{}",
        errors.join("\n")
    );
}

/// The violations of `schema` by `value` (empty if it matches).
pub fn violations(name: &str, value: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    check(&document()["definitions"][name], value, "$", &mut errors);
    errors
}

fn resolve(schema: &Value) -> &Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(path) => {
            let name = path
                .strip_prefix("#/definitions/")
                .unwrap_or_else(|| panic!("unsupported $ref {path}"));
            let target = &document()["definitions"][name];
            assert!(!target.is_null(), "dangling $ref {path}");
            resolve(target)
        }
        None => schema,
    }
}

fn type_matches(kind: &str, value: &Value) -> bool {
    match kind {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        "number" => value.is_number(),
        "integer" => value.is_i64() || value.is_u64(),
        other => panic!("unsupported type {other}"),
    }
}

fn check(schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    let schema = resolve(schema);
    if let Some(kind) = schema.get("type").and_then(Value::as_str)
        && !type_matches(kind, value)
    {
        errors.push(format!("{at}: {value} is not of type {kind}"));
        return;
    }
    if let Some(expected) = schema.get("const")
        && expected != value
    {
        errors.push(format!("{at}: {value} is not {expected}"));
    }
    if let (Some(pattern), Some(text)) = (
        schema.get("pattern").and_then(Value::as_str),
        value.as_str(),
    ) {
        let regex = regex::Regex::new(pattern).expect("schema pattern is a regex");
        if !regex.is_match(text) {
            errors.push(format!("{at}: {text:?} does not match {pattern}"));
        }
    }
    if let Some(object) = value.as_object() {
        for name in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = name.as_str().expect("required names are strings");
            if !object.contains_key(name) {
                errors.push(format!("{at}: required field {name} is missing"));
            }
        }
        let properties = schema.get("properties").and_then(Value::as_object);
        for (name, field) in object {
            let at = format!("{at}.{name}");
            match properties.and_then(|p| p.get(name)) {
                Some(property) => check(property, field, &at, errors),
                None => match schema.get("additionalProperties") {
                    Some(Value::Bool(false)) => {
                        errors.push(format!("{at}: field not allowed by the schema"))
                    }
                    Some(extra @ Value::Object(_)) => check(extra, field, &at, errors),
                    _ => {}
                },
            }
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (i, item) in array.iter().enumerate() {
            check(items, item, &format!("{at}[{i}]"), errors);
        }
    }
    for part in schema
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        check(part, value, at, errors);
    }
    let matching = |options: &Vec<Value>| {
        options
            .iter()
            .filter(|option| {
                let mut inner = Vec::new();
                check(option, value, at, &mut inner);
                inner.is_empty()
            })
            .count()
    };
    if let Some(options) = schema.get("oneOf").and_then(Value::as_array) {
        let n = matching(options);
        if n != 1 {
            errors.push(format!(
                "{at}: {value} matches {n} of oneOf's schemas, not one"
            ));
        }
    }
    if let Some(options) = schema.get("anyOf").and_then(Value::as_array) {
        if matching(options) == 0 {
            errors.push(format!("{at}: {value} matches none of anyOf's schemas"));
        }
    }
}

#[test]
fn the_checker_rejects_what_the_schemas_forbid() {
    use serde_json::json;
    assert!(violations("uint", &json!("0x0")).is_empty());
    assert!(!violations("uint", &json!("0x01")).is_empty());
    assert!(!violations("hash32", &json!("0xAB")).is_empty());
    let entry = json!({"address": format!("0x{}", "11".repeat(20)), "storageKeys": []});
    assert!(violations("AccessListEntry", &entry).is_empty());
    let mut extra = entry.clone();
    extra["other"] = json!(1);
    assert!(!violations("AccessListEntry", &extra).is_empty());
    assert!(!violations("AccessListResult", &json!({"accessList": []})).is_empty());
    let failure = json!({"status": "0x0", "returnData": "0x", "gasUsed": "0x5208",
        "error": {"code": 3, "message": "out of gas"}});
    assert!(!violations("CallResultFailure", &failure).is_empty());
}
