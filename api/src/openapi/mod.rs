//! The OpenAPI 3 document of every front, served at `/openapi.json`.
//!
//! Each front lists its operations in its own module; the routers' unit tests and the
//! end-to-end tests check the server against these tables, so the document stays true.

mod baton;
pub mod projects;
pub mod releases;
pub mod reports;
mod schemas;
mod workflows;

use serde_json::{Map, Value, json};

use crate::error::Front;

/// How an operation's caller proves who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// Nobody needs to.
    Public,
    /// An HTTP signature with an API key (or, on the reports front, a bearer token).
    Signed,
    /// `Authorization: token USER:SECRET` (OrderlyWeb's login).
    UserToken,
}

/// The type of a query parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamType {
    /// Text.
    String,
    /// A whole number.
    Integer,
    /// `true` or `false` (case-insensitive).
    Boolean,
}

/// One query parameter.
#[derive(Debug, Clone, Copy)]
pub struct QueryParam {
    /// Its name.
    pub name: &'static str,
    /// Its type.
    pub kind: ParamType,
    /// What it does.
    pub description: &'static str,
}

impl QueryParam {
    /// A text parameter.
    pub const fn string(name: &'static str, description: &'static str) -> Self {
        Self {
            name,
            kind: ParamType::String,
            description,
        }
    }

    /// A whole-number parameter.
    pub const fn integer(name: &'static str, description: &'static str) -> Self {
        Self {
            name,
            kind: ParamType::Integer,
            description,
        }
    }

    /// A boolean parameter.
    pub const fn boolean(name: &'static str, description: &'static str) -> Self {
        Self {
            name,
            kind: ParamType::Boolean,
            description,
        }
    }
}

/// One documented operation. Path parameters are the `{name}` segments of its path.
#[derive(Debug, Clone, Copy)]
pub struct Operation {
    /// HTTP method, lower case.
    pub method: &'static str,
    /// Path template (`{name}` for parameters).
    pub path: &'static str,
    /// What it does.
    pub summary: &'static str,
    /// How the caller authenticates.
    pub auth: Auth,
    /// The permission it needs (`None`: any authenticated caller).
    pub permission: Option<&'static str>,
    /// Success status.
    pub success: u16,
    /// The component schema of its JSON body, if it takes one.
    pub body: Option<&'static str>,
    /// Whether the body may be left out.
    pub body_optional: bool,
    /// The body's media type.
    pub body_media: &'static str,
    /// Its query parameters.
    pub query: &'static [QueryParam],
    /// The media type of a successful answer.
    pub produces: &'static str,
}

impl Operation {
    const fn new(method: &'static str, path: &'static str, summary: &'static str) -> Self {
        Self {
            method,
            path,
            summary,
            auth: Auth::Signed,
            permission: None,
            success: 200,
            body: None,
            body_optional: false,
            body_media: "application/json",
            query: &[],
            produces: "application/json",
        }
    }

    /// A `GET` operation, signed, answering 200 with JSON.
    pub const fn get(path: &'static str, summary: &'static str) -> Self {
        Self::new("get", path, summary)
    }

    /// A `POST` operation.
    pub const fn post(path: &'static str, summary: &'static str) -> Self {
        Self::new("post", path, summary)
    }

    /// A `PATCH` operation.
    pub const fn patch(path: &'static str, summary: &'static str) -> Self {
        Self::new("patch", path, summary)
    }

    /// A `DELETE` operation.
    pub const fn delete(path: &'static str, summary: &'static str) -> Self {
        Self::new("delete", path, summary)
    }

    /// Needs `permission`.
    pub const fn needs(mut self, permission: &'static str) -> Self {
        self.permission = Some(permission);
        self
    }

    /// Needs no authentication.
    pub const fn public(mut self) -> Self {
        self.auth = Auth::Public;
        self
    }

    /// Authenticates with a user token.
    pub const fn user_token(mut self) -> Self {
        self.auth = Auth::UserToken;
        self
    }

    /// Answers `status` on success.
    pub const fn success(mut self, status: u16) -> Self {
        self.success = status;
        self
    }

    /// Takes a JSON body of the component schema `schema`.
    pub const fn body(mut self, schema: &'static str) -> Self {
        self.body = Some(schema);
        self
    }

    /// Takes an optional JSON body of the component schema `schema`.
    pub const fn optional_body(mut self, schema: &'static str) -> Self {
        self.body = Some(schema);
        self.body_optional = true;
        self
    }

    /// Takes a zip archive as its body.
    pub const fn zip_body(mut self) -> Self {
        self.body = Some("ZipArchive");
        self.body_media = "application/zip";
        self
    }

    /// Takes `query` parameters.
    pub const fn query(mut self, query: &'static [QueryParam]) -> Self {
        self.query = query;
        self
    }

    /// Answers with `media_type` on success.
    pub const fn produces(mut self, media_type: &'static str) -> Self {
        self.produces = media_type;
        self
    }

    /// The names of its path parameters, in order.
    pub fn path_params(&self) -> impl Iterator<Item = &'static str> {
        self.path
            .split('/')
            .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
    }
}

/// Every front with its operations, in the document's order.
pub fn fronts() -> [(Front, &'static [Operation]); 5] {
    [
        (Front::Baton, baton::OPERATIONS),
        (Front::Workflows, workflows::OPERATIONS),
        (Front::Reports, reports::OPERATIONS),
        (Front::Releases, releases::OPERATIONS),
        (Front::Projects, projects::OPERATIONS),
    ]
}

/// The document's tag of a front.
fn tag(front: Front) -> &'static str {
    match front {
        Front::Baton => "baton",
        Front::Workflows => "workflows",
        Front::Reports => "reports",
        Front::Releases => "releases",
        Front::Projects => "projects",
    }
}

fn parameters(operation: &Operation) -> Vec<Value> {
    let path = operation.path_params().map(
        |name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}),
    );
    let query = operation.query.iter().map(|param| {
        let kind = match param.kind {
            ParamType::String => "string",
            ParamType::Integer => "integer",
            ParamType::Boolean => "boolean",
        };
        json!({
            "name": param.name,
            "in": "query",
            "description": param.description,
            "schema": {"type": kind}
        })
    });
    path.chain(query).collect()
}

fn security(front: Front, operation: &Operation) -> Option<Value> {
    match operation.auth {
        Auth::Public => None,
        Auth::UserToken => Some(json!([{"userToken": []}])),
        Auth::Signed if front == Front::Reports => {
            Some(json!([{"httpSignature": []}, {"bearerToken": []}]))
        }
        Auth::Signed => Some(json!([{"httpSignature": []}])),
    }
}

fn operation_json(front: Front, operation: &Operation) -> Value {
    let mut body = Map::new();
    body.insert("tags".into(), json!([tag(front)]));
    body.insert("summary".into(), json!(operation.summary));
    body.insert(
        "operationId".into(),
        json!(format!(
            "{}{}",
            operation.method,
            operation.path.replace(['/', '{', '}', '.', '-'], "_")
        )),
    );
    let parameters = parameters(operation);
    if !parameters.is_empty() {
        body.insert("parameters".into(), Value::Array(parameters));
    }
    if let Some(schema) = operation.body {
        body.insert(
            "requestBody".into(),
            json!({
                "required": !operation.body_optional,
                "content": {operation.body_media: {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}
            }),
        );
    }
    let mut responses = Map::new();
    responses.insert(
        operation.success.to_string(),
        json!({"description": "Success", "content": {operation.produces: {}}}),
    );
    let error_ref = format!("#/components/schemas/{}", schemas::error_schema(front));
    let error = json!({"description": "Error", "content": {"application/json": {"schema": {"$ref": error_ref}}}});
    let mut add_error = |status: &str| {
        responses.insert(status.into(), error.clone());
    };
    if let Some(security) = security(front, operation) {
        add_error("401");
        add_error("403");
        body.insert("security".into(), security);
    }
    if operation.path_params().next().is_some() {
        add_error("404");
    }
    if operation.body.is_some() || !operation.query.is_empty() {
        add_error("400");
    }
    if operation.body.is_some() {
        add_error("413");
    }
    if let Some(permission) = operation.permission {
        body.insert("x-baton-permission".into(), json!(permission));
    }
    body.insert("responses".into(), Value::Object(responses));
    Value::Object(body)
}

/// The whole document.
pub fn openapi_document() -> Value {
    let mut paths = Map::new();
    for (front, operations) in fronts() {
        for operation in operations {
            let item = paths.entry(operation.path).or_insert_with(|| json!({}));
            item[operation.method] = operation_json(front, operation);
        }
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Baton",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Job and workflow orchestration on Redis, behind four fronts: Celery Director's workflows API (/api), OrderlyWeb's reports API (/api/v1, also /api/v2), the Release Coordinator's API (/releases, /tasks, ...) and Orchestra's projects API (/orchestra/api). Requests are signed with HTTP signatures (draft-cavage, hmac-sha256); each front answers errors in its own format."
        },
        "tags": fronts().map(|(front, _)| json!({"name": tag(front), "description": schemas::front_description(front)})),
        "paths": paths,
        "components": {
            "securitySchemes": {
                "httpSignature": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "Signature keyId=\"..\",algorithm=\"hmac-sha256\",headers=\"(request-target) date digest\",signature=\"..\" (the Signature header is accepted too)"
                },
                "bearerToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A token from POST /api/v1/login/ (also ?access_token= on downloads)"
                },
                "userToken": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "token USER:SECRET, as printed by baton-api tokens create"
                }
            },
            "schemas": schemas::components()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_is_documented_once_with_its_front() {
        let document = openapi_document();
        let mut seen = std::collections::HashSet::new();
        for (front, operations) in fronts() {
            for operation in operations {
                assert!(
                    seen.insert((operation.method, operation.path)),
                    "{} {} is listed twice",
                    operation.method,
                    operation.path
                );
                let documented = &document["paths"][operation.path][operation.method];
                assert_eq!(documented["tags"][0], tag(front));
            }
        }
    }

    #[test]
    fn every_referenced_schema_exists() {
        let document = openapi_document();
        let text = document.to_string();
        for reference in text.split("\"#/components/schemas/").skip(1) {
            let name = reference.split('"').next().unwrap();
            assert!(
                document["components"]["schemas"].get(name).is_some(),
                "schema {name} is referenced but not defined"
            );
        }
    }

    #[test]
    fn path_parameters_come_from_the_path() {
        let operation = Operation::get("/a/{name}/b/{version}/", "x");
        assert_eq!(
            operation.path_params().collect::<Vec<_>>(),
            ["name", "version"]
        );
    }
}
