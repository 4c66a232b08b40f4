//! Checks on the built document: every local `$ref` must point at something.

use serde_json::Value;

/// Every local `$ref` (`#/…`) of `doc`, with the JSON pointer of where it is written.
pub fn local_refs(doc: &Value) -> Vec<(String, String)> {
    fn walk(v: &Value, at: &mut String, out: &mut Vec<(String, String)>) {
        match v {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    if r.starts_with("#/") {
                        out.push((at.clone(), r.clone()));
                    }
                }
                for (k, child) in map {
                    let len = at.len();
                    at.push('/');
                    at.push_str(&k.replace('~', "~0").replace('/', "~1"));
                    walk(child, at, out);
                    at.truncate(len);
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    let len = at.len();
                    at.push_str(&format!("/{i}"));
                    walk(child, at, out);
                    at.truncate(len);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(doc, &mut String::new(), &mut out);
    out
}

/// The local `$ref`s of `doc` that point at nothing, as `"<where> -> <ref>"`.
pub fn dangling_refs(doc: &Value) -> Vec<String> {
    local_refs(doc)
        .into_iter()
        .filter(|(_, r)| doc.pointer(&r[1..]).is_none())
        .map(|(at, r)| format!("{at} -> {r}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_refs_that_point_at_nothing() {
        let doc = json!({
            "paths": {"/a": {"get": {"schema": {"$ref": "#/components/schemas/A"}}}},
            "components": {"schemas": {
                "A": {"items": [{"$ref": "#/components/schemas/B"}]},
                "C~/": {"$ref": "#/components/schemas/C~0~1"}
            }}
        });
        assert_eq!(
            dangling_refs(&doc),
            vec!["/components/schemas/A/items/0 -> #/components/schemas/B".to_string()]
        );
        assert_eq!(local_refs(&doc).len(), 3);
    }
}
