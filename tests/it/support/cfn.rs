//! Reading CloudFormation/SAM templates as YAML: resources, intrinsic tags, scalars. Shared by
//! the single-account and the organization template tests.

use serde_yaml::Value;

pub fn resource<'a>(t: &'a Value, name: &str) -> &'a Value {
    let r = &t["Resources"][name];
    assert!(!r.is_null(), "resource {name} is missing");
    r
}

pub fn resources_of_type<'a>(t: &'a Value, ty: &str) -> Vec<(&'a str, &'a Value)> {
    t["Resources"]
        .as_mapping()
        .expect("Resources")
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some(ty))
        .map(|(k, r)| (k.as_str().expect("resource name"), r))
        .collect()
}

/// `!Tag value` as (tag, value), e.g. `!Ref Mode` → ("Ref", "Mode").
pub fn tagged(v: &Value) -> Option<(String, &Value)> {
    match v {
        Value::Tagged(t) => Some((
            t.tag.to_string().trim_start_matches('!').to_string(),
            &t.value,
        )),
        _ => None,
    }
}

pub fn is_ref(v: &Value, target: &str) -> bool {
    matches!(tagged(v), Some((tag, inner)) if tag == "Ref" && inner.as_str() == Some(target))
}

/// A scalar as text (YAML numbers and booleans included).
pub fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

pub fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::Sequence(items) => items.iter().filter_map(scalar).collect(),
        other => scalar(other).into_iter().collect(),
    }
}

/// The topic ARN expression: the created topic, or the existing one.
pub fn is_topic_arn(v: &Value) -> bool {
    let Some((tag, args)) = tagged(v) else {
        return false;
    };
    let args = args.as_sequence().map(Vec::as_slice).unwrap_or_default();
    tag == "If"
        && args.len() == 3
        && args[0].as_str() == Some("CreateTopic")
        && is_ref(&args[1], "Topic")
        && is_ref(&args[2], "ExistingTopicArn")
}
