//! A submitted HTML form (`application/x-www-form-urlencoded`) and a page's query string.

use crate::error::ApiError;

/// Fields of a form or query, in order.
#[derive(Debug, Clone, Default)]
pub struct Form {
    fields: Vec<(String, String)>,
}

impl Form {
    /// Parses a form body; a body that is not a form is a 400.
    pub fn parse(body: &[u8]) -> Result<Self, ApiError> {
        serde_urlencoded::from_bytes(body)
            .map(|fields| Self { fields })
            .map_err(|error| ApiError::bad_request(format!("the form could not be read: {error}")))
    }

    /// Parses the query of a path and query (empty when there is none or it is malformed).
    pub fn query(path_and_query: &str) -> Self {
        let query = path_and_query
            .split_once('?')
            .map_or("", |(_, query)| query);
        Self {
            fields: serde_urlencoded::from_str(query).unwrap_or_default(),
        }
    }

    /// The first value of a field.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The first value of a field, trimmed, `None` when missing or blank.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.get(name)
            .map(str::trim)
            .filter(|value| !value.is_empty())
    }

    /// Every field, in order.
    pub fn fields(&self) -> &[(String, String)] {
        &self.fields
    }
}

/// The URL of page `page` of a filtered list at `path`: the filters that are set, then the
/// page number.
pub fn page_url(path: &str, filters: &[(&str, &str)], page: usize) -> String {
    let mut query: Vec<(&str, String)> = filters
        .iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(name, value)| (*name, (*value).to_owned()))
        .collect();
    query.push(("page", page.to_string()));
    format!(
        "{path}?{}",
        serde_urlencoded::to_string(&query).unwrap_or_default()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_and_queries_are_decoded() {
        let form = Form::parse(b"a=1&b=x+y&c=%2F&a=2").unwrap();
        assert_eq!(form.get("a"), Some("1"));
        assert_eq!(form.get("b"), Some("x y"));
        assert_eq!(form.get("c"), Some("/"));
        assert_eq!(
            Form::query("/ui/runs?status=error&page=").text("page"),
            None
        );
        assert_eq!(
            Form::query("/ui/runs?status=error").get("status"),
            Some("error")
        );
        assert_eq!(
            page_url(
                "/ui/runs",
                &[("status", "error"), ("to", ""), ("q", "a b")],
                2
            ),
            "/ui/runs?status=error&q=a+b&page=2"
        );
    }
}
