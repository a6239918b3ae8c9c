//! Edits of a Lambda event's JSON, in either envelope: what the structured fuzz input applies.

use serde_json::Value;

pub(crate) fn set_header(event: &mut Value, v2: bool, name: &str, value: &str) {
    for key in ["headers", "multiValueHeaders"] {
        let Some(headers) = event.get_mut(key).and_then(Value::as_object_mut) else {
            continue;
        };
        // REST API fixtures spell headers in title case; drop any spelling of this one.
        headers.retain(|k, _| !k.eq_ignore_ascii_case(name));
        let header = if key == "headers" {
            Value::from(value)
        } else {
            Value::from(vec![value])
        };
        headers.insert(name.to_owned(), header);
        if v2 {
            break;
        }
    }
}

pub(crate) fn set_query(event: &mut Value, v2: bool, query: &str) {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let single: serde_json::Map<String, Value> = pairs
        .iter()
        .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
        .collect();
    event["queryStringParameters"] = single.into();
    if v2 {
        event["rawQueryString"] = query.into();
    } else {
        let mut multi = serde_json::Map::new();
        for (k, v) in pairs {
            let values = multi.entry(k).or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(values) = values {
                values.push(v.into());
            }
        }
        event["multiValueQueryStringParameters"] = multi.into();
    }
}

/// Sets the value at a JSON pointer, adding the last key to an existing object if needed.
pub(crate) fn set_pointer(root: &mut Value, pointer: &str, value: Value) {
    if pointer.is_empty() {
        *root = value;
    } else if let Some(slot) = root.pointer_mut(pointer) {
        *slot = value;
    } else if let Some((parent, key)) = pointer.rsplit_once('/')
        && let Some(Value::Object(map)) = root.pointer_mut(parent)
    {
        map.insert(key.replace("~1", "/").replace("~0", "~"), value);
    }
}
