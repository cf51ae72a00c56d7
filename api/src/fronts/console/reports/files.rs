//! A version's files from the console: downloads and the zip of a version are the reports
//! front's own answers (the same checks, streamed the same way) with the console's headers;
//! previews are artefacts shown inline in a sandbox the console's pages may frame.

use warp::http::{HeaderValue, header};

use crate::error::ApiError;
use crate::fronts::console::html::secure;
use crate::fronts::reports::files as front_files;
use crate::fronts::reports::route::FileKind;
use crate::request::RequestParts;
use crate::state::AppState;

/// The policy a preview is sent with: a sandbox (no script, no same origin, no forms), no
/// fetching but its own images and inline styles, framed by the console only.
pub const PREVIEW_POLICY: &str = "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; frame-ancestors 'self'";

/// How the version page shows an artefact inline, by its file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreviewKind {
    /// In an `<img>`.
    Image,
    /// In a sandboxed `<iframe>`.
    Html,
}

impl PreviewKind {
    /// The preview for a file named `name`, if it has one.
    pub fn of(name: &str) -> Option<Self> {
        let extension = name.rsplit_once('.')?.1.to_ascii_lowercase();
        match extension.as_str() {
            "png" | "jpg" | "jpeg" | "gif" | "svg" | "webp" => Some(Self::Image),
            "html" | "htm" => Some(Self::Html),
            _ => None,
        }
    }
}

/// `GET /ui/reports/{name}/versions/{version}/{kind}/{file}`: the file as a download.
pub async fn download(
    state: &AppState,
    request: &RequestParts,
    name: &str,
    version: &str,
    kind: FileKind,
    file: &str,
) -> Result<warp::reply::Response, ApiError> {
    let response = front_files::download(state, request, name, version, kind, file).await?;
    Ok(secure(response))
}

/// `GET /ui/reports/{name}/versions/{version}/zip`: every file of the version in one zip.
pub async fn zip(
    state: &AppState,
    request: &RequestParts,
    name: &str,
    version: &str,
) -> Result<warp::reply::Response, ApiError> {
    let response = front_files::zip(state, request, name, version).await?;
    Ok(secure(response))
}

/// `GET /ui/reports/{name}/versions/{version}/preview/{file}`: an image or HTML artefact
/// shown inline under [`PREVIEW_POLICY`]; any other file has no preview (404).
pub async fn preview(
    state: &AppState,
    request: &RequestParts,
    name: &str,
    version: &str,
    file: &str,
) -> Result<warp::reply::Response, ApiError> {
    if PreviewKind::of(file).is_none() {
        return Err(ApiError::NotFound(format!("'{file}' has no preview")));
    }
    let response =
        front_files::download(state, request, name, version, FileKind::Artefacts, file).await?;
    Ok(as_preview(response, file))
}

/// Turns a download of `file` into its preview: inline, sandboxed, frameable by the console.
pub fn as_preview(mut response: warp::reply::Response, file: &str) -> warp::reply::Response {
    let headers = response.headers_mut();
    let base_name: String = file
        .rsplit('/')
        .next()
        .unwrap_or(file)
        .chars()
        .filter(|c| c.is_ascii_graphic() && *c != '"' && *c != '\\')
        .collect();
    if let Ok(value) = HeaderValue::from_str(&format!("inline; filename=\"{base_name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PREVIEW_POLICY),
    );
    headers.insert(
        header::X_FRAME_OPTIONS,
        HeaderValue::from_static("SAMEORIGIN"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previews_are_inline_sandboxed_and_framed_by_the_console_only() {
        let mut download =
            warp::reply::Response::new(bytes::Bytes::from_static(b"<p>x</p>").into());
        download
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
        download.headers_mut().insert(
            header::CONTENT_DISPOSITION,
            HeaderValue::from_static("attachment; filename=\"report.html\""),
        );
        let preview = as_preview(download, "pages/report.html");
        let headers = preview.headers();
        assert_eq!(
            headers[header::CONTENT_SECURITY_POLICY],
            "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; frame-ancestors 'self'"
        );
        assert_eq!(headers[header::X_FRAME_OPTIONS], "SAMEORIGIN");
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(
            headers[header::CONTENT_DISPOSITION],
            "inline; filename=\"report.html\""
        );
        assert_eq!(headers[header::CONTENT_TYPE], "text/html");
    }

    #[test]
    fn only_images_and_html_have_previews() {
        assert_eq!(PreviewKind::of("graph.PNG"), Some(PreviewKind::Image));
        assert_eq!(PreviewKind::of("a/b.svg"), Some(PreviewKind::Image));
        assert_eq!(PreviewKind::of("report.html"), Some(PreviewKind::Html));
        assert_eq!(PreviewKind::of("out.csv"), None);
        assert_eq!(PreviewKind::of("README"), None);
    }
}
