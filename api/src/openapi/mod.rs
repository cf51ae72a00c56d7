//! The OpenAPI 3 document of every front, served at `/openapi.json`.
//!
//! Each front lists its operations in its own module; the routers' unit tests and the
//! end-to-end tests check the server against these tables, so the document stays true.

mod baton;
mod operator;
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
    /// An HTTP signature, or the scrape token (`Authorization: Bearer BATON_METRICS_TOKEN`).
    SignedOrMetricsToken,
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
    /// Whether it must be given.
    pub required: bool,
    /// The smallest and largest whole number taken.
    pub range: Option<(u64, u64)>,
    /// The only values taken (empty: any).
    pub values: &'static [&'static str],
    /// A pattern text must match.
    pub pattern: Option<&'static str>,
}

impl QueryParam {
    const fn new(name: &'static str, kind: ParamType, description: &'static str) -> Self {
        Self {
            name,
            kind,
            description,
            required: false,
            range: None,
            values: &[],
            pattern: None,
        }
    }

    /// A text parameter.
    pub const fn string(name: &'static str, description: &'static str) -> Self {
        Self::new(name, ParamType::String, description)
    }

    /// A whole-number parameter, from 0 unless [`QueryParam::range`] says otherwise.
    pub const fn integer(name: &'static str, description: &'static str) -> Self {
        Self::new(name, ParamType::Integer, description)
    }

    /// A boolean parameter.
    pub const fn boolean(name: &'static str, description: &'static str) -> Self {
        Self::new(name, ParamType::Boolean, description)
    }

    /// Takes whole numbers from `min` to `max`.
    pub const fn range(mut self, min: u64, max: u64) -> Self {
        self.range = Some((min, max));
        self
    }

    /// Takes only these values.
    pub const fn one_of(mut self, values: &'static [&'static str]) -> Self {
        self.values = values;
        self
    }

    /// Takes text matching `pattern`.
    pub const fn pattern(mut self, pattern: &'static str) -> Self {
        self.pattern = Some(pattern);
        self
    }

    /// Must be given.
    pub const fn required(mut self) -> Self {
        self.required = true;
        self
    }

    /// Its JSON schema.
    fn schema(&self) -> Value {
        match self.kind {
            ParamType::Boolean => json!({"type": "boolean"}),
            ParamType::Integer => {
                let (min, max) = self.range.unwrap_or((0, i64::MAX as u64));
                json!({"type": "integer", "minimum": min, "maximum": max})
            }
            ParamType::String if !self.values.is_empty() => {
                json!({"type": "string", "enum": self.values})
            }
            ParamType::String => match self.pattern {
                Some(pattern) => json!({"type": "string", "pattern": pattern}),
                None => json!({"type": "string"}),
            },
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
    /// Other media types a successful answer may have.
    pub also_produces: &'static [&'static str],
    /// Error statuses it answers beyond those every operation of its kind does (401 and 403
    /// when signed, 404 with path parameters, 400 with a body or query, 413 with a body).
    pub errors: &'static [u16],
    /// The document's tag, when not its front's (Baton's additions to a front's paths).
    pub tag: Option<&'static str>,
    /// A security scheme accepted instead of a signature, if any.
    pub alternative: Option<&'static str>,
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
            also_produces: &[],
            errors: &[],
            tag: None,
            alternative: None,
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

    /// Authenticates with a signature or the metrics scrape token.
    pub const fn metrics_token(mut self) -> Self {
        self.auth = Auth::SignedOrMetricsToken;
        self
    }

    /// Takes, instead of a signature, the credential of the security scheme `scheme` (a task
    /// service's token).
    pub const fn or_scheme(mut self, scheme: &'static str) -> Self {
        self.alternative = Some(scheme);
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

    /// Answers with `media_types` too on success.
    pub const fn or_produces(mut self, media_types: &'static [&'static str]) -> Self {
        self.also_produces = media_types;
        self
    }

    /// Answers these error statuses too.
    pub const fn errors(mut self, statuses: &'static [u16]) -> Self {
        self.errors = statuses;
        self
    }

    /// Is listed under `tag` rather than its front's tag.
    pub const fn tagged(mut self, tag: &'static str) -> Self {
        self.tag = Some(tag);
        self
    }

    /// Its tag in the document: its own, or its front's.
    pub fn tag_in(&self, front: Front) -> &'static str {
        self.tag.unwrap_or_else(|| tag(front))
    }

    /// The names of its path parameters, in order.
    pub fn path_params(&self) -> impl Iterator<Item = &'static str> {
        self.path
            .split('/')
            .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
    }
}

/// Every front with its operations, in the document's order.
pub fn fronts() -> [(Front, &'static [Operation]); 6] {
    [
        (Front::Baton, baton::OPERATIONS),
        (Front::Workflows, workflows::OPERATIONS),
        (Front::Workflows, operator::OPERATIONS),
        (Front::Reports, reports::OPERATIONS),
        (Front::Releases, releases::OPERATIONS),
        (Front::Projects, projects::OPERATIONS),
    ]
}

/// The upper-case name of a documented method.
fn method_name(method: &str) -> &'static str {
    match method {
        "get" => "GET",
        "post" => "POST",
        "put" => "PUT",
        "patch" => "PATCH",
        "delete" => "DELETE",
        _ => "OPTIONS",
    }
}

/// The non-empty segments of a request path, with `/api/v2/` read as `/api/v1/` (the reports
/// front serves both).
fn path_segments(path: &str) -> Vec<&str> {
    let mut segments: Vec<&str> = path.split('/').filter(|part| !part.is_empty()).collect();
    if segments.starts_with(&["api", "v2"]) {
        segments[1] = "v1";
    }
    segments
}

/// Whether a concrete request path is an instance of a documented path template; trailing
/// slashes are optional, as every front serves them.
pub fn path_matches(template: &str, path: &str) -> bool {
    let template = path_segments(template);
    let path = path_segments(path);
    template.len() == path.len()
        && template.iter().zip(&path).all(|(expected, actual)| {
            (expected.starts_with('{') && expected.ends_with('}')) || expected == actual
        })
}

/// How many segments of a path template are literal rather than `{parameters}`.
fn literal_segments(template: &str) -> usize {
    path_segments(template)
        .iter()
        .filter(|segment| !(segment.starts_with('{') && segment.ends_with('}')))
        .count()
}

/// The methods the document lists for a concrete request path (upper case, in the document's
/// order); empty when it documents no such path. When several templates match, the most
/// literal ones name the path (`.../dead-letters/requeue-all` rather than
/// `.../dead-letters/{id}`). A route's `Allow` header comes from here.
pub fn allowed_methods(path: &str) -> Vec<&'static str> {
    let matching: Vec<&Operation> = fronts()
        .into_iter()
        .flat_map(|(_, operations)| operations.iter())
        .filter(|operation| path_matches(operation.path, path))
        .collect();
    let most_literal = matching
        .iter()
        .map(|operation| literal_segments(operation.path))
        .max()
        .unwrap_or(0);
    let mut methods = Vec::new();
    for operation in matching {
        let method = method_name(operation.method);
        if literal_segments(operation.path) == most_literal && !methods.contains(&method) {
            methods.push(method);
        }
    }
    methods
}

/// The document's tag of a front.
fn tag(front: Front) -> &'static str {
    match front {
        Front::Baton | Front::Console => "baton",
        Front::Workflows => "workflows",
        Front::Reports => "reports",
        Front::Releases => "releases",
        Front::Projects => "projects",
    }
}

fn parameters(operation: &Operation) -> Vec<Value> {
    let path = operation.path_params().map(|name| {
        json!({
            "name": name,
            "in": "path",
            "required": true,
            "schema": {"type": "string", "minLength": 1}
        })
    });
    let query = operation.query.iter().map(|param| {
        json!({
            "name": param.name,
            "in": "query",
            "required": param.required,
            "description": param.description,
            "schema": param.schema()
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
        Auth::Signed => match operation.alternative {
            Some(scheme) => Some(json!([{"httpSignature": []}, {scheme: []}])),
            None => Some(json!([{"httpSignature": []}])),
        },
        Auth::SignedOrMetricsToken => Some(json!([{"httpSignature": []}, {"metricsToken": []}])),
    }
}

fn operation_json(front: Front, operation: &Operation) -> Value {
    let mut body = Map::new();
    body.insert("tags".into(), json!([operation.tag_in(front)]));
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
    let mut content = Map::new();
    for media_type in std::iter::once(&operation.produces).chain(operation.also_produces) {
        content.insert((*media_type).into(), json!({}));
    }
    responses.insert(
        operation.success.to_string(),
        json!({"description": "Success", "content": content}),
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
    for status in operation.errors {
        add_error(&status.to_string());
    }
    if let Some(permission) = operation.permission {
        body.insert("x-baton-permission".into(), json!(permission));
    }
    body.insert("responses".into(), Value::Object(responses));
    Value::Object(body)
}

/// The document's tags: one per front (a front listed twice is tagged once), then the tags
/// operations give themselves.
fn tags() -> Vec<Value> {
    let mut seen = Vec::new();
    let mut tags: Vec<Value> = fronts()
        .into_iter()
        .filter(|(front, _)| {
            let new = !seen.contains(front);
            seen.push(*front);
            new
        })
        .map(|(front, _)| {
            json!({"name": tag(front), "description": schemas::front_description(front)})
        })
        .collect();
    let mut own: Vec<&'static str> = Vec::new();
    for (_, operations) in fronts() {
        for name in operations.iter().filter_map(|operation| operation.tag) {
            if !own.contains(&name) {
                own.push(name);
                tags.push(json!({"name": name, "description": schemas::tag_description(name)}));
            }
        }
    }
    tags
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
        "tags": tags(),
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
                },
                "metricsToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "BATON_METRICS_TOKEN, with which a scraper reads /metrics without signing"
                },
                "taskServiceToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A task service's token (TS_XXXXXXXX.SECRET), answered once as `token` by POST /task-services; good for PATCH /tasks/{id} on that service's own tasks, until the service registers again"
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
                assert_eq!(documented["tags"][0], operation.tag_in(front));
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
    fn allowed_methods_come_from_the_documented_paths() {
        assert_eq!(allowed_methods("/healthz"), ["GET"]);
        assert_eq!(allowed_methods("/api/workflows"), ["GET", "POST"]);
        assert_eq!(allowed_methods("/api/workflows/abc/cancel/"), ["POST"]);
        assert_eq!(
            allowed_methods("/releases/RE_1/"),
            ["GET", "PATCH", "DELETE"]
        );
        assert_eq!(allowed_methods("/api/v1/"), ["GET"]);
        assert_eq!(allowed_methods("/api/v2/git/pull"), ["POST"]);
        assert_eq!(
            allowed_methods("/orchestra/api/project/project_information/"),
            ["POST", "GET"]
        );
        assert!(allowed_methods("/nothing").is_empty());
        assert_eq!(
            allowed_methods("/api/queues/q/dead-letters/requeue-all"),
            ["POST"]
        );
        assert_eq!(
            allowed_methods("/api/queues/q/dead-letters/1-0.0"),
            ["DELETE"]
        );
        assert!(allowed_methods("/api/v1/reports/r/versions/v/movies/").is_empty());
    }

    #[test]
    fn every_documented_path_allows_exactly_its_documented_methods() {
        let document = openapi_document();
        let paths = document["paths"].as_object().unwrap();
        for (path, item) in paths {
            let concrete = path.replace(['{', '}'], "");
            let mut documented: Vec<String> = item
                .as_object()
                .unwrap()
                .keys()
                .map(|m| m.to_uppercase())
                .collect();
            let mut allowed: Vec<String> = allowed_methods(&concrete)
                .into_iter()
                .map(String::from)
                .collect();
            documented.sort();
            allowed.sort();
            // A concrete path may also be an instance of another template (a report named
            // `git`), never fewer.
            assert!(
                documented.iter().all(|method| allowed.contains(method)),
                "{path}: {allowed:?} misses some of {documented:?}"
            );
        }
    }

    /// The schema of query parameter `name` of `method path`.
    fn query_schema(document: &Value, method: &str, path: &str, name: &str) -> Value {
        document["paths"][path][method]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|param| param["name"] == name && param["in"] == "query")
            .unwrap_or_else(|| panic!("{method} {path} has no {name}"))["schema"]
            .clone()
    }

    #[test]
    fn page_sizes_and_timeouts_start_at_one() {
        let document = openapi_document();
        for (method, path, name) in [
            ("get", "/api/workflows", "per_page"),
            ("get", "/api/workflows", "page"),
            ("get", "/releases", "limit"),
            ("get", "/events", "limit"),
            ("get", "/orchestra/api/tasks/available", "limit"),
            ("post", "/api/v1/reports/{name}/run/", "timeout"),
        ] {
            let schema = query_schema(&document, method, path, name);
            assert_eq!(schema["minimum"], 1, "{method} {path} {name}");
            assert!(schema["maximum"].is_u64(), "{method} {path} {name}");
        }
        assert_eq!(
            query_schema(&document, "get", "/releases", "offset")["minimum"],
            0
        );
    }

    #[test]
    fn project_information_needs_a_project() {
        let document = openapi_document();
        let path = "/orchestra/api/project/project_information";
        let get = &document["paths"][path]["get"]["parameters"][0];
        assert_eq!(get["name"], "project_id");
        assert_eq!(get["required"], true);
        let post = &document["paths"][path]["post"];
        assert_eq!(post["requestBody"]["required"], true);
        let query = &document["components"]["schemas"]["ProjectQuery"];
        assert_eq!(
            query["oneOf"],
            json!([{"required": ["project_id"]}, {"required": ["project_ids"]}])
        );
        for method in ["get", "post"] {
            assert!(document["paths"][path][method]["responses"]["404"].is_object());
        }
    }

    #[test]
    fn state_dependent_answers_are_documented() {
        let document = openapi_document();
        for (method, path, status) in [
            ("post", "/api/workflows", "404"),
            ("post", "/orchestra/api/project/create_project", "404"),
            ("post", "/orchestra/api/tasks/claim", "404"),
            ("post", "/orchestra/api/tasks/{id}/save", "409"),
            ("post", "/orchestra/api/tasks/{id}/submit", "409"),
            ("post", "/orchestra/api/tasks/{id}/release", "409"),
            (
                "post",
                "/orchestra/api/interface/project_management/end_project",
                "400",
            ),
            (
                "post",
                "/orchestra/api/interface/project_management/assign_task",
                "409",
            ),
            (
                "post",
                "/orchestra/api/interface/project_management/reassign_assignment",
                "409",
            ),
            ("delete", "/api/v1/reports/{key}/kill/", "400"),
            ("post", "/releases/{id}/publish", "400"),
            ("post", "/api/v1/git/pull/", "409"),
        ] {
            assert!(
                document["paths"][path][method]["responses"][status].is_object(),
                "{method} {path} does not document {status}"
            );
        }
    }

    #[test]
    fn downloads_name_the_types_they_are_served_as() {
        let document = openapi_document();
        let content = |path: &str| {
            let content = &document["paths"][path]["get"]["responses"]["200"]["content"];
            let mut types: Vec<String> = content.as_object().unwrap().keys().cloned().collect();
            types.sort();
            types
        };
        assert_eq!(
            content("/api/v1/reports/{name}/versions/{version}/data/{data}/"),
            ["application/octet-stream", "text/csv"]
        );
        assert_eq!(
            content("/api/v1/reports/{name}/versions/{version}/artefacts/{artefact}/"),
            ["*/*", "application/octet-stream"]
        );
        assert_eq!(content("/api/v1/data/csv/{id}/"), ["text/csv"]);
    }

    #[test]
    fn required_texts_are_not_empty_and_optional_ones_may_be_null() {
        let schemas = &openapi_document()["components"]["schemas"];
        for (schema, field) in [
            ("NewWorkflow", "name"),
            ("NewRelease", "name"),
            ("NewEvent", "message"),
            ("NewReleaseNote", "release"),
            ("NewProject", "workflow_slug"),
        ] {
            assert_eq!(
                schemas[schema]["properties"][field]["minLength"], 1,
                "{schema}"
            );
        }
        assert_eq!(schemas["NewEvent"]["properties"]["task"]["nullable"], true);
        assert_eq!(schemas["ReportRun"]["nullable"], true);
        assert!(schemas["ClaimRequest"]["properties"]["queue"]["nullable"].is_null());
        assert_eq!(
            schemas["ClaimRequest"]["properties"]["task_id"]["nullable"],
            true
        );
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
