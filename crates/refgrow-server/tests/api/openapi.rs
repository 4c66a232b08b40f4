//! The OpenAPI document: valid JSON, every registered route documented, bearer auth.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::spawn_app;

/// `(METHOD, /full/path)` of every `.route("…", web::method()…)` in `src/routes/*.rs`.
fn registered_routes() -> BTreeSet<(String, String)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/routes");
    let mut out = BTreeSet::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let file = path.file_name().unwrap().to_string_lossy().to_string();
        let mut rest = text.as_str();
        while let Some(i) = rest.find(".route(") {
            rest = rest[i + 7..].trim_start();
            let Some(stripped) = rest.strip_prefix('"') else {
                continue;
            };
            rest = stripped;
            let end = rest.find('"').unwrap();
            let route = &rest[..end];
            let after = &rest[end..];
            let m = after.find("web::").unwrap();
            let method: String = after[m + 5..]
                .chars()
                .take_while(|c| c.is_ascii_alphabetic())
                .collect();
            // Everything is under /v1 but the operational endpoints and the public link.
            let public = file == "health.rs" || route.starts_with("/r/");
            let full = if public {
                route.to_string()
            } else {
                format!("/v1{route}")
            };
            out.insert((method.to_uppercase(), full));
        }
    }
    out.insert(("GET".into(), "/v1/openapi.json".into()));
    out
}

#[tokio::test]
async fn every_registered_route_is_documented() {
    let app = spawn_app().await;
    let res = app
        .http
        .get(format!("{}/v1/openapi.json", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let doc: Value = res.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.insert((method.to_uppercase(), path.clone()));
        }
    }
    let routes = registered_routes();
    assert!(routes.len() > 40, "{routes:?}");
    let missing: Vec<_> = routes.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "registered but not documented: {missing:?}"
    );
    let stale: Vec<_> = documented.difference(&routes).collect();
    assert!(stale.is_empty(), "documented but not registered: {stale:?}");
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let create = &doc["paths"]["/v1/affiliates"]["post"];
    assert!(create["responses"]["201"].is_object());
    assert!(create["responses"]["409"].is_object());
    assert!(doc["components"]["schemas"]["CreateAffiliate"].is_object());
}
