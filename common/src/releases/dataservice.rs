//! The data service that studies are mirrored from, as the Release Coordinator mirrors them
//! from the Kids First dataservice: `GET /studies` pages through every study
//! (`{"results": [...], "_links": {"next": "/studies?after=..."}}`) and `GET /studies/<kf_id>`
//! answers one (`{"results": {...}}`). Every call follows the [outbound
//! policy](crate::outbound); a `next` link is followed only on the data service's own origin,
//! and what the service answers is quoted only as a short, sanitised excerpt.

use std::time::Duration;

use clap::Args;
use reqwest::{Method, Url};
use serde_json::Value;

use crate::outbound::{self, OutboundClient, OutboundError, excerpt};
use crate::releases::IdKind;

/// How many studies a page of the listing asks for.
pub const PAGE_LIMIT: usize = 100;
/// Most pages one listing reads (a data service whose `next` never ends is cut short).
const MAX_PAGES: usize = 1000;
/// How long one call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(15);
/// Longest answer read, in bytes.
const MAX_ANSWER: usize = 8 * 1024 * 1024;
/// Longest study name kept, in characters (the coordinator's column holds 256).
const NAME_CHARS: usize = 256;

/// Where studies are mirrored from; shared by the API (studies a release names first) and
/// the scheduler (periodic sync).
#[derive(Debug, Clone, Default, Args)]
pub struct DataServiceOptions {
    /// Base URL of the data service whose `/studies` are mirrored (the Kids First
    /// dataservice's API). Without it, a study a release names first is made with its id as
    /// its name.
    #[arg(long = "dataservice-url", env = "BATON_DATASERVICE_URL")]
    pub dataservice_url: Option<String>,
}

impl DataServiceOptions {
    /// The data service, when one is set (its URL checked against the outbound policy).
    pub fn data_service(
        &self,
        client: &OutboundClient,
    ) -> Result<Option<DataService>, OutboundError> {
        match self.dataservice_url.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(url) => DataService::new(url, client.clone()).map(Some),
        }
    }
}

/// A study as the data service describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirroredStudy {
    /// `SD_...`.
    pub kf_id: String,
    /// Its name (its `short_name`, or its id, when the service has none).
    pub name: String,
    /// Whether the data service shows it.
    pub visible: bool,
    /// Whether the data service says it was deleted.
    pub deleted: bool,
    /// When the data service created it (Unix ms), if it says.
    pub created_ms: Option<u64>,
}

/// Why a call to the data service failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DataServiceError {
    /// No answer: the policy refused the call, the connection failed, or it timed out.
    #[error("the data service did not answer: {0}")]
    Unreachable(String),
    /// An answer other than 200 (or 404 for one study).
    #[error("the data service answered HTTP {status}{}", if .excerpt.is_empty() { String::new() } else { format!(": {}", .excerpt) })]
    Status {
        /// The status.
        status: u16,
        /// A sanitised excerpt of the body.
        excerpt: String,
    },
    /// A 200 whose body is not what the data service answers.
    #[error("the data service's answer is not understood: {0}")]
    Malformed(String),
}

/// A client of the data service at one base URL. Cheap to clone.
#[derive(Debug, Clone)]
pub struct DataService {
    /// The base URL, with a trailing slash so paths join under it.
    base: Url,
    /// Follows the outbound policy.
    client: OutboundClient,
}

impl DataService {
    /// The data service at `base`, refused when the outbound policy refuses the URL.
    pub fn new(base: &str, client: OutboundClient) -> Result<Self, OutboundError> {
        let mut base = client.check(base.trim())?;
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        base.set_query(None);
        Ok(Self { base, client })
    }

    /// Its base URL, as shown and logged.
    pub fn url(&self) -> String {
        outbound::redact(self.base.as_str())
    }

    /// Every study, page after page, following `_links.next` on the data service's origin.
    pub async fn studies(&self) -> Result<Vec<MirroredStudy>, DataServiceError> {
        let mut next = self.under(&format!("studies?limit={PAGE_LIMIT}"))?;
        let mut seen = std::collections::HashSet::new();
        let mut studies = Vec::new();
        for _ in 0..MAX_PAGES {
            if !seen.insert(next.clone()) {
                return Err(DataServiceError::Malformed(
                    "its next link leads back to a page already read".into(),
                ));
            }
            let page = match self.get(next.clone()).await? {
                (200, page) => page,
                (status, body) => return Err(status_error(status, &body)),
            };
            let page: Value = parse_json(&page)?;
            let results = page
                .get("results")
                .and_then(Value::as_array)
                .ok_or_else(|| DataServiceError::Malformed("a page without 'results'".into()))?;
            studies.extend(results.iter().filter_map(study_of));
            match page.pointer("/_links/next").and_then(Value::as_str) {
                Some(link) if !link.is_empty() => next = self.follow(&next, link)?,
                _ => return Ok(studies),
            }
        }
        Err(DataServiceError::Malformed(format!(
            "more than {MAX_PAGES} pages of studies"
        )))
    }

    /// Study `kf_id`, or `None` when the data service does not know it (404).
    pub async fn study(&self, kf_id: &str) -> Result<Option<MirroredStudy>, DataServiceError> {
        if !IdKind::Study.is_valid(kf_id) {
            return Ok(None);
        }
        let (status, body) = self.get(self.under(&format!("studies/{kf_id}"))?).await?;
        match status {
            200 => {}
            404 => return Ok(None),
            _ => return Err(status_error(status, &body)),
        }
        let answer: Value = parse_json(&body)?;
        // The dataservice wraps one record in `results`; a bare record is read too.
        let record = answer.get("results").unwrap_or(&answer);
        match study_of(record) {
            Some(study) if study.kf_id == kf_id => Ok(Some(study)),
            _ => Err(DataServiceError::Malformed(format!(
                "its answer for {kf_id} is not that study"
            ))),
        }
    }

    /// A URL under the base.
    fn under(&self, path: &str) -> Result<Url, DataServiceError> {
        self.base
            .join(path)
            .map_err(|error| DataServiceError::Malformed(error.to_string()))
    }

    /// The page a `next` link names, resolved against the page that gave it; refused unless
    /// it stays on the data service's origin.
    fn follow(&self, page: &Url, link: &str) -> Result<Url, DataServiceError> {
        let next = page
            .join(link)
            .map_err(|_| DataServiceError::Malformed("its next link is not a URL".into()))?;
        if next.origin() != self.base.origin() {
            return Err(DataServiceError::Malformed(
                "its next link leads to another host".into(),
            ));
        }
        Ok(next)
    }

    /// `GET url`: the status and the body (at most [`MAX_ANSWER`] bytes).
    async fn get(&self, url: Url) -> Result<(u16, Vec<u8>), DataServiceError> {
        let request = self
            .client
            .request(Method::GET, url.as_str())
            .map_err(|refusal| DataServiceError::Unreachable(refusal.to_string()))?;
        let mut response = request
            .header(reqwest::header::ACCEPT, "application/json")
            .timeout(CALL_TIMEOUT)
            .send()
            .await
            .map_err(|error| DataServiceError::Unreachable(outbound::describe(&error)))?;
        let status = response.status().as_u16();
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|error| DataServiceError::Unreachable(outbound::describe(&error)))?
        {
            if body.len() + chunk.len() > MAX_ANSWER {
                return Err(DataServiceError::Malformed(format!(
                    "an answer larger than {MAX_ANSWER} bytes"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        Ok((status, body))
    }
}

fn status_error(status: u16, body: &[u8]) -> DataServiceError {
    DataServiceError::Status {
        status,
        excerpt: excerpt(body, outbound::summary::EXCERPT_CHARS),
    }
}

fn parse_json(body: &[u8]) -> Result<Value, DataServiceError> {
    serde_json::from_slice(body).map_err(|_| {
        DataServiceError::Malformed(format!(
            "not JSON: {}",
            excerpt(body, outbound::summary::EXCERPT_CHARS)
        ))
    })
}

/// A study record of the data service; `None` unless its `kf_id` is a study id (ids end up
/// in key names).
fn study_of(record: &Value) -> Option<MirroredStudy> {
    let kf_id = record.get("kf_id")?.as_str()?;
    if !IdKind::Study.is_valid(kf_id) {
        return None;
    }
    let text = |name: &str| {
        record
            .get(name)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|text| !text.is_empty())
    };
    let name = text("name").or_else(|| text("short_name")).unwrap_or(kf_id);
    let flag =
        |name: &str, default: bool| record.get(name).and_then(Value::as_bool).unwrap_or(default);
    Some(MirroredStudy {
        kf_id: kf_id.to_owned(),
        name: name.chars().take(NAME_CHARS).collect(),
        visible: flag("visible", true),
        deleted: flag("deleted", false),
        created_ms: text("created_at")
            .and_then(|at| chrono::DateTime::parse_from_rfc3339(at).ok())
            .and_then(|at| u64::try_from(at.timestamp_millis()).ok()),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn service(base: &str) -> DataService {
        let allow = crate::outbound::AllowList::parse("127.0.0.1").unwrap();
        DataService::new(base, OutboundClient::new(allow).unwrap()).unwrap()
    }

    #[test]
    fn study_records_are_read_as_the_dataservice_writes_them() {
        let study = study_of(&json!({
            "kf_id": "SD_9PYZAHHE", "name": null, "short_name": "Kids First: Orofacial Cleft",
            "visible": false, "created_at": "2018-05-22T21:12:42.999818+00:00"
        }))
        .unwrap();
        assert_eq!(study.name, "Kids First: Orofacial Cleft");
        assert!(!study.visible && !study.deleted);
        assert_eq!(study.created_ms, Some(1_527_023_562_999));
        let bare = study_of(&json!({"kf_id": "SD_DYPMEHHF", "deleted": true})).unwrap();
        assert_eq!(bare.name, "SD_DYPMEHHF");
        assert!(bare.visible && bare.deleted);
        assert_eq!(bare.created_ms, None);
        assert_eq!(
            study_of(&json!({"kf_id": "SD_x}:{rel}", "name": "n"})),
            None
        );
        assert_eq!(study_of(&json!({"name": "n"})), None);
    }

    #[test]
    fn next_links_resolve_on_the_data_services_origin_only() {
        let data = service("http://127.0.0.1:9/api");
        let first = data.under("studies?limit=100").unwrap();
        assert_eq!(first.as_str(), "http://127.0.0.1:9/api/studies?limit=100");
        assert_eq!(
            data.follow(&first, "/api/studies?after=1.5")
                .unwrap()
                .as_str(),
            "http://127.0.0.1:9/api/studies?after=1.5"
        );
        assert_eq!(
            data.follow(&first, "studies?after=2").unwrap().as_str(),
            "http://127.0.0.1:9/api/studies?after=2"
        );
        assert!(
            data.follow(&first, "http://127.0.0.1:9/api/studies?after=3")
                .is_ok()
        );
        for elsewhere in [
            "http://169.254.169.254/latest/meta-data",
            "//evil.example/studies",
            "https://127.0.0.1:9/api/studies",
        ] {
            assert!(data.follow(&first, elsewhere).is_err(), "{elsewhere}");
        }
    }

    #[test]
    fn the_base_url_follows_the_outbound_policy() {
        let client = OutboundClient::new(crate::outbound::AllowList::default()).unwrap();
        assert!(DataService::new("http://127.0.0.1:9", client.clone()).is_err());
        assert!(DataService::new("ftp://dataservice.example", client.clone()).is_err());
        let options = DataServiceOptions {
            dataservice_url: Some("  ".into()),
        };
        assert!(options.data_service(&client).unwrap().is_none());
    }
}
