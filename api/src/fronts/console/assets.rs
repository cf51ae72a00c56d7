//! The console's static files, compiled into the binary and served under a URL holding a hash
//! of their content, so browsers may keep them forever and never see a stale one.

use std::sync::LazyLock;

use sha2::{Digest, Sha256};
use warp::Reply;
use warp::http::header;

/// One static file.
#[derive(Debug)]
pub struct Asset {
    /// Its name (`console.css`).
    pub name: &'static str,
    /// Its content type.
    pub content_type: &'static str,
    /// Its bytes.
    pub bytes: &'static [u8],
    /// The URL it is served at (`/ui/static/console.3f2a1b4c.css`).
    pub url: String,
}

impl Asset {
    fn new(name: &'static str, content_type: &'static str, bytes: &'static [u8]) -> Self {
        let hash = hex::encode(&Sha256::digest(bytes)[..6]);
        let (stem, extension) = name.rsplit_once('.').unwrap_or((name, ""));
        Self {
            name,
            content_type,
            bytes,
            url: format!("/ui/static/{stem}.{hash}.{extension}"),
        }
    }
}

/// Every static file of the console.
pub static ASSETS: LazyLock<[Asset; 9]> = LazyLock::new(|| {
    [
        Asset::new(
            "console.css",
            "text/css; charset=utf-8",
            include_bytes!("../../../assets/console/console.css"),
        ),
        Asset::new(
            "console.js",
            "text/javascript; charset=utf-8",
            include_bytes!("../../../assets/console/console.js"),
        ),
        Asset::new(
            "htmx.min.js",
            "text/javascript; charset=utf-8",
            include_bytes!("../../../assets/console/htmx.min.js"),
        ),
        Asset::new(
            "reports.css",
            "text/css; charset=utf-8",
            include_bytes!("../../../assets/console/reports.css"),
        ),
        Asset::new(
            "reports.js",
            "text/javascript; charset=utf-8",
            include_bytes!("../../../assets/console/reports.js"),
        ),
        Asset::new(
            "releases.css",
            "text/css; charset=utf-8",
            include_bytes!("../../../assets/console/releases.css"),
        ),
        Asset::new(
            "releases.js",
            "text/javascript; charset=utf-8",
            include_bytes!("../../../assets/console/releases.js"),
        ),
        Asset::new(
            "projects.css",
            "text/css; charset=utf-8",
            include_bytes!("../../../assets/console/projects.css"),
        ),
        Asset::new(
            "projects.js",
            "text/javascript; charset=utf-8",
            include_bytes!("../../../assets/console/projects.js"),
        ),
    ]
});

/// The URL of the asset named `name` (empty for an unknown name, which the tests rule out).
pub fn url_of(name: &str) -> &'static str {
    ASSETS
        .iter()
        .find(|asset| asset.name == name)
        .map_or("", |asset| asset.url.as_str())
}

/// The asset served at `path`, if any.
pub fn find(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|asset| asset.url == path)
}

/// The response serving an asset, cached for a year (its URL changes with its content).
pub fn response(asset: &'static Asset) -> warp::reply::Response {
    let mut response = warp::reply::Response::new(asset.bytes.into());
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(asset.content_type),
    );
    headers.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        header::HeaderValue::from_static("nosniff"),
    );
    response.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_is_found_by_its_hashed_url() {
        for asset in ASSETS.iter() {
            assert!(asset.url.starts_with("/ui/static/"));
            assert_eq!(find(&asset.url).map(|found| found.name), Some(asset.name));
            assert_eq!(url_of(asset.name), asset.url);
        }
        assert!(find("/ui/static/console.css").is_none());
    }
}
