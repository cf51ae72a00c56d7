//! Forms drawn from a JSON Schema of an object, one implementation for every form the console
//! builds from a schema: a workflow's start form (its payload schema) and a human task's form
//! (its step's `form`). Each property becomes one field ([`fields_of`]); a filled form is read
//! back into the JSON it stands for ([`read_form`]); saved data is shown in the fields again
//! ([`show_values`]); and the problems the server's schema check names are put next to their
//! fields ([`place_problems`]). The fields are drawn by `console/schema_fields.html`.
//!
//! | property | field |
//! |---|---|
//! | `enum` (any type) | a select of its values |
//! | `type: string` | a text input; a text area with `format: textarea` or a `maxLength` over [`LONG_TEXT`] |
//! | `type: integer`, `type: number` | a text input for numbers (`inputmode`, a `pattern`) |
//! | `type: boolean` | a checkbox |
//! | `type: array` of `items: {type: string}` | repeated text inputs, added and removed by `projects.js` |
//!
//! Fields carry the HTML constraints their schema allows (`required`, `minlength`,
//! `maxlength`, `pattern`) and the rest as `data-` attributes that `projects.js` checks
//! (`minimum`, `maximum`, the schema's own `pattern`, item counts); a schema with any other
//! kind of property is written as JSON instead ([`fields_of`] answers `None`). Whatever the
//! browser checked, the server's check against the schema is the one that counts.

use serde_json::{Map, Value};

use super::form::Form;

/// Strings whose `maxLength` is over this get a text area.
pub const LONG_TEXT: u64 = 200;

/// What input a field is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// One line of text.
    Text,
    /// Text over several lines.
    LongText,
    /// A whole number.
    Integer,
    /// A number.
    Number,
    /// Yes or no.
    Boolean,
    /// One of the schema's `enum` values.
    Choice,
    /// A list of strings, one input each.
    TextList,
}

impl FieldKind {
    /// Its name, as the template tells kinds apart.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::LongText => "textarea",
            Self::Integer => "integer",
            Self::Number => "number",
            Self::Boolean => "boolean",
            Self::Choice => "choice",
            Self::TextList => "list",
        }
    }
}

/// The constraints of a field the browser checks before the server does.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Limits {
    /// Shortest text (`minLength`; of each item for a list).
    pub min_length: Option<u64>,
    /// Longest text (`maxLength`; of each item for a list).
    pub max_length: Option<u64>,
    /// Smallest number (`minimum`), as written.
    pub minimum: Option<String>,
    /// Largest number (`maximum`), as written.
    pub maximum: Option<String>,
    /// The schema's regular expression (`pattern`; of each item for a list).
    pub pattern: Option<String>,
    /// Fewest items of a list (`minItems`).
    pub min_items: Option<u64>,
    /// Most items of a list (`maxItems`).
    pub max_items: Option<u64>,
}

/// One input of a form, made from a property of the schema.
#[derive(Debug, Clone)]
pub struct Field {
    /// The property's name (the input's name).
    pub name: String,
    /// What input it is.
    pub kind: FieldKind,
    /// True when the schema requires the property.
    pub required: bool,
    /// Its label: the schema's `title`, else its name.
    pub label: String,
    /// The schema's `description`.
    pub description: String,
    /// The `enum` values as shown (a choice's options).
    pub choices: Vec<String>,
    /// The `enum` values themselves, in the order of [`Field::choices`].
    choice_values: Vec<Value>,
    /// The value shown (every kind but lists; `"true"` for a checked box).
    pub value: String,
    /// The values shown by a list, ending with an empty one to fill in.
    pub values: Vec<String>,
    /// What the server found wrong with it.
    pub error: Option<String>,
    /// Its constraints.
    pub limits: Limits,
}

/// A JSON value as a field shows it: text as it is, anything else as JSON.
fn shown(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn unsigned(property: &Value, name: &str) -> Option<u64> {
    property.get(name).and_then(Value::as_u64)
}

fn number_text(property: &Value, name: &str) -> Option<String> {
    property
        .get(name)
        .filter(|value| value.is_number())
        .map(Value::to_string)
}

/// The field of property `name`, when its schema is one a field can stand for.
fn field_of(name: &str, property: &Value, required: bool) -> Option<Field> {
    let choice_values: Vec<Value> = property
        .get("enum")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let text_limits = |schema: &Value| Limits {
        min_length: unsigned(schema, "minLength"),
        max_length: unsigned(schema, "maxLength"),
        pattern: schema
            .get("pattern")
            .and_then(Value::as_str)
            .map(str::to_owned),
        ..Limits::default()
    };
    let (kind, limits) = match property.get("type").and_then(Value::as_str) {
        _ if !choice_values.is_empty() => (FieldKind::Choice, Limits::default()),
        Some("string") => {
            let limits = text_limits(property);
            let long = property.get("format").and_then(Value::as_str) == Some("textarea")
                || limits.max_length.is_some_and(|max| max > LONG_TEXT);
            let kind = if long {
                FieldKind::LongText
            } else {
                FieldKind::Text
            };
            (kind, limits)
        }
        Some(kind @ ("integer" | "number")) => (
            if kind == "integer" {
                FieldKind::Integer
            } else {
                FieldKind::Number
            },
            Limits {
                minimum: number_text(property, "minimum"),
                maximum: number_text(property, "maximum"),
                ..Limits::default()
            },
        ),
        Some("boolean") => (FieldKind::Boolean, Limits::default()),
        Some("array") => {
            let items = property.get("items")?;
            let plain_strings = items.get("type").and_then(Value::as_str) == Some("string")
                && items.get("enum").is_none();
            if !plain_strings {
                return None;
            }
            (
                FieldKind::TextList,
                Limits {
                    min_items: unsigned(property, "minItems"),
                    max_items: unsigned(property, "maxItems"),
                    ..text_limits(items)
                },
            )
        }
        _ => return None,
    };
    let default = property.get("default");
    let mut field = Field {
        name: name.to_owned(),
        kind,
        required,
        label: property
            .get("title")
            .and_then(Value::as_str)
            .unwrap_or(name)
            .to_owned(),
        description: property
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        choices: choice_values.iter().map(shown).collect(),
        choice_values,
        value: String::new(),
        values: Vec::new(),
        error: None,
        limits,
    };
    field.show(default);
    Some(field)
}

impl Field {
    /// Shows `value` (none: an empty field).
    fn show(&mut self, value: Option<&Value>) {
        match (self.kind, value) {
            (FieldKind::TextList, value) => {
                self.values = match value {
                    Some(Value::Array(items)) => items.iter().map(shown).collect(),
                    Some(other) => vec![shown(other)],
                    None => Vec::new(),
                };
                self.values.push(String::new());
            }
            (FieldKind::Boolean, value) => {
                self.value = if value == Some(&Value::Bool(true)) {
                    "true".into()
                } else {
                    String::new()
                };
            }
            (_, value) => self.value = value.map(shown).unwrap_or_default(),
        }
    }

    /// The value a filled-in `text` stands for (`None` when left empty). Text that does not
    /// read as the field's type is kept as text, so that the schema check names it.
    fn read(&self, text: &str) -> Option<Value> {
        let keep = || Value::String(text.to_owned());
        match self.kind {
            FieldKind::Boolean => Some(Value::Bool(text == "true")),
            _ if text.is_empty() => None,
            FieldKind::Integer => Some(
                text.parse::<i64>()
                    .map(Value::from)
                    .unwrap_or_else(|_| keep()),
            ),
            FieldKind::Number => Some(
                text.parse::<i64>()
                    .map(Value::from)
                    .ok()
                    .or_else(|| {
                        text.parse::<f64>()
                            .ok()
                            .and_then(serde_json::Number::from_f64)
                            .map(Value::Number)
                    })
                    .unwrap_or_else(keep),
            ),
            FieldKind::Choice => Some(
                self.choices
                    .iter()
                    .position(|choice| choice == text)
                    .map(|index| self.choice_values[index].clone())
                    .unwrap_or_else(keep),
            ),
            FieldKind::Text | FieldKind::LongText | FieldKind::TextList => Some(keep()),
        }
    }
}

/// The fields of an object schema, one per property, in `order` first (the names a file
/// listed them in) and then by name; no schema is no field. `None` when the schema names no
/// properties (any object goes) or one of a kind no field stands for: the data must then be
/// written as JSON.
pub fn fields_of(schema: Option<&Value>, order: &[String]) -> Option<Vec<Field>> {
    let Some(schema) = schema else {
        return Some(Vec::new());
    };
    // An object schema naming no property takes any object: it is written as JSON.
    let properties = schema.get("properties")?.as_object()?;
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut names: Vec<&String> = properties.keys().collect();
    names.sort_by_key(|name| {
        (
            order
                .iter()
                .position(|listed| listed == *name)
                .unwrap_or(usize::MAX),
            name.as_str(),
        )
    });
    names
        .into_iter()
        .map(|name| field_of(name, &properties[name], required.contains(&name.as_str())))
        .collect()
}

/// The JSON object a filled form stands for: each non-empty field as its schema's type (a
/// checkbox is always there, `true` or `false`; a list holds its non-empty inputs). The
/// fields keep what was typed, to be shown again.
pub fn read_form(fields: &mut [Field], form: &Form) -> Value {
    let mut data = Map::new();
    for field in fields.iter_mut() {
        if field.kind == FieldKind::TextList {
            let items: Vec<String> = form
                .fields()
                .iter()
                .filter(|(name, _)| *name == field.name)
                .map(|(_, value)| value.trim().to_owned())
                .filter(|value| !value.is_empty())
                .collect();
            field.values = items.clone();
            field.values.push(String::new());
            if !items.is_empty() {
                data.insert(
                    field.name.clone(),
                    Value::Array(items.into_iter().map(Value::String).collect()),
                );
            }
            continue;
        }
        let raw = form.get(&field.name).unwrap_or_default();
        // A text area keeps its lines' indentation, its lines ending as in JSON (browsers
        // send CRLF); every other field is trimmed.
        let text = if field.kind == FieldKind::LongText {
            raw.trim_end().replace("\r\n", "\n")
        } else {
            raw.trim().to_owned()
        };
        if let Some(value) = field.read(&text) {
            data.insert(field.name.clone(), value);
        }
        field.value = text;
    }
    Value::Object(data)
}

/// Shows `data` (saved work, a submission) in the fields: each field its property's value.
pub fn show_values(fields: &mut [Field], data: &Value) {
    for field in fields.iter_mut() {
        field.show(data.get(&field.name));
    }
}

/// Hands each problem of the server's check to the field it names (`ROOT/NAME: ...` or
/// `ROOT/NAME/...: ...`, `ROOT` being `root`); the rest are answered, to be shown above the
/// form.
pub fn place_problems(fields: &mut [Field], problems: Vec<String>, root: &str) -> Vec<String> {
    let mut general = Vec::new();
    for problem in problems {
        let named = problem
            .strip_prefix(root)
            .and_then(|rest| rest.strip_prefix('/'))
            .and_then(|rest| rest.split_once([':', '/']))
            .map(|(name, _)| name.replace("~1", "/").replace("~0", "~"));
        match named.and_then(|name| fields.iter_mut().find(|field| field.name == name)) {
            Some(field) => {
                let text = problem
                    .split_once(": ")
                    .map_or(problem.as_str(), |(_, text)| text);
                // A list's items may each have one: keep them all.
                field.error = Some(match field.error.take() {
                    Some(earlier) => format!("{earlier}; {text}"),
                    None => text.to_owned(),
                });
            }
            None => general.push(problem),
        }
    }
    general
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn kinds(fields: &[Field]) -> Vec<(&str, &str)> {
        fields
            .iter()
            .map(|field| (field.name.as_str(), field.kind.as_str()))
            .collect()
    }

    #[test]
    fn every_supported_property_becomes_its_field_in_the_files_order() {
        let schema = json!({
            "type": "object",
            "required": ["title", "verdict"],
            "properties": {
                "title": {"type": "string", "title": "Headline", "maxLength": 80},
                "body": {"type": "string", "format": "textarea"},
                "summary": {"type": "string", "maxLength": 1000},
                "verdict": {"enum": ["accept", "reject"], "description": "Your call"},
                "level": {"enum": [1, 2, 3]},
                "score": {"type": "integer", "minimum": 1, "maximum": 5, "default": 3},
                "ratio": {"type": "number"},
                "urgent": {"type": "boolean", "default": true},
                "tags": {"type": "array", "items": {"type": "string", "maxLength": 20}, "maxItems": 4}
            }
        });
        let order: Vec<String> = ["verdict", "title"].map(String::from).to_vec();
        let fields = fields_of(Some(&schema), &order).unwrap();
        assert_eq!(
            kinds(&fields),
            [
                ("verdict", "choice"),
                ("title", "text"),
                ("body", "textarea"),
                ("level", "choice"),
                ("ratio", "number"),
                ("score", "integer"),
                ("summary", "textarea"),
                ("tags", "list"),
                ("urgent", "boolean"),
            ]
        );
        let title = &fields[1];
        assert!(title.required);
        assert_eq!(title.label, "Headline");
        assert_eq!(title.limits.max_length, Some(80));
        assert_eq!(fields[0].description, "Your call");
        let score = fields.iter().find(|field| field.name == "score").unwrap();
        assert_eq!(score.value, "3");
        assert_eq!(score.limits.minimum.as_deref(), Some("1"));
        let tags = fields.iter().find(|field| field.name == "tags").unwrap();
        assert_eq!(tags.values, [""]);
        assert_eq!(tags.limits.max_items, Some(4));
        assert_eq!(tags.limits.max_length, Some(20));
        let urgent = fields.iter().find(|field| field.name == "urgent").unwrap();
        assert_eq!(urgent.value, "true");
    }

    #[test]
    fn schemas_no_field_can_stand_for_are_written_as_json() {
        for property in [
            json!({"type": "object"}),
            json!({"type": "array", "items": {"type": "integer"}}),
            json!({"type": "array", "items": {"enum": ["a"], "type": "string"}}),
            json!({"type": ["string", "null"]}),
        ] {
            let schema = json!({"type": "object", "properties": {"x": property}});
            assert!(fields_of(Some(&schema), &[]).is_none(), "{schema}");
        }
        assert_eq!(fields_of(None, &[]).map(|fields| fields.len()), Some(0));
        assert!(fields_of(Some(&json!({"type": "object"})), &[]).is_none());
        let empty = json!({"type": "object", "properties": {}});
        assert_eq!(fields_of(Some(&empty), &[]).map(|f| f.len()), Some(0));
    }

    #[test]
    fn a_filled_form_reads_as_typed_json_and_shows_again() {
        let schema = json!({"type": "object", "properties": {
            "name": {"type": "string"},
            "count": {"type": "integer"},
            "ratio": {"type": "number"},
            "level": {"enum": [1, "1", "two"]},
            "dry": {"type": "boolean"},
            "notes": {"type": "string", "format": "textarea"},
            "tags": {"type": "array", "items": {"type": "string"}}
        }});
        let mut fields = fields_of(Some(&schema), &[]).unwrap();
        let form = Form::parse(
            b"name=+x+&count=many&ratio=2.5&level=1&notes=++indented%0D%0Aline%0D%0A&tags=a&tags=&tags=+b",
        )
        .unwrap();
        let data = read_form(&mut fields, &form);
        assert_eq!(
            data,
            json!({"name": "x", "count": "many", "ratio": 2.5, "level": 1, "dry": false,
                   "notes": "  indented\nline", "tags": ["a", "b"]})
        );
        let tags = fields.iter().find(|field| field.name == "tags").unwrap();
        assert_eq!(tags.values, ["a", "b", ""]);

        let mut fields = fields_of(Some(&schema), &[]).unwrap();
        show_values(
            &mut fields,
            &json!({"name": "y", "count": 4, "dry": true, "level": "1", "tags": ["c"]}),
        );
        let value = |name: &str| {
            let field = fields.iter().find(|field| field.name == name).unwrap();
            (field.value.clone(), field.values.clone())
        };
        assert_eq!(value("name").0, "y");
        assert_eq!(value("count").0, "4");
        assert_eq!(value("dry").0, "true");
        assert_eq!(value("level").0, "1");
        assert_eq!(value("ratio").0, "");
        assert_eq!(value("tags").1, ["c", ""]);
    }

    #[test]
    fn problems_find_their_fields_under_their_root() {
        let schema = json!({"type": "object", "properties": {
            "count": {"type": "integer"},
            "tags": {"type": "array", "items": {"type": "string", "maxLength": 2}}
        }});
        let mut fields = fields_of(Some(&schema), &[]).unwrap();
        let general = place_problems(
            &mut fields,
            vec![
                "task_data/count: \"many\" is not of type \"integer\"".into(),
                "task_data/tags/0: \"abc\" is longer than 2 characters".into(),
                "task_data/tags/1: \"xyz\" is longer than 2 characters".into(),
                "task_data: something else".into(),
                "payload/count: under another root".into(),
            ],
            "task_data",
        );
        assert_eq!(
            general,
            [
                "task_data: something else",
                "payload/count: under another root"
            ]
        );
        assert_eq!(
            fields[0].error.as_deref(),
            Some("\"many\" is not of type \"integer\"")
        );
        assert_eq!(
            fields[1].error.as_deref(),
            Some("\"abc\" is longer than 2 characters; \"xyz\" is longer than 2 characters")
        );
    }
}
