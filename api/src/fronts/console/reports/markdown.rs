//! A report's README as HTML: CommonMark (with tables, strikethrough and task lists) rendered
//! by `pulldown-cmark`, with every piece of raw HTML turned into escaped text, so nothing the
//! repository holds runs or styles the console. Links keep only safe schemes, and relative
//! image paths point at the version's previews.

use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, TagEnd, html};

/// Renders `markdown` as HTML safe to put in a console page. Relative image paths are
/// resolved against `preview_base` (the version's preview route, ending in `/`).
pub fn render(markdown: &str, preview_base: &str) -> String {
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    let events = Parser::new_ext(markdown, options).map(|event| match event {
        // Raw HTML is shown as the text it is; a block of it reads as a paragraph.
        Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
        Event::Start(Tag::HtmlBlock) => Event::Start(Tag::Paragraph),
        Event::End(TagEnd::HtmlBlock) => Event::End(TagEnd::Paragraph),
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Link {
            link_type,
            dest_url: safe_link(dest_url),
            title,
            id,
        }),
        Event::Start(Tag::Image {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Image {
            link_type,
            dest_url: image_source(dest_url, preview_base),
            title,
            id,
        }),
        other => other,
    });
    let mut out = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut out, events);
    out
}

/// The scheme of a URL (`https` of `https://x`), if it has one: letters before the first `:`
/// that comes before any `/`, `?` or `#`.
fn scheme(url: &str) -> Option<&str> {
    let end = url.find([':', '/', '?', '#'])?;
    (url.as_bytes()[end] == b':').then(|| &url[..end])
}

/// A link target as written when it is relative, an anchor, or http(s) or mailto; `#`
/// otherwise (`javascript:`, `data:`, ...).
fn safe_link(url: CowStr<'_>) -> CowStr<'_> {
    match scheme(&url) {
        None => url,
        Some(scheme)
            if ["http", "https", "mailto"]
                .iter()
                .any(|safe| scheme.eq_ignore_ascii_case(safe)) =>
        {
            url
        }
        Some(_) => CowStr::Borrowed("#"),
    }
}

/// An image source: a relative path inside the version becomes its preview's URL; an
/// absolute path or an http(s) URL stays (the console's policy decides what loads); anything
/// else, or a path that climbs out with `..`, is dropped.
fn image_source<'a>(url: CowStr<'a>, preview_base: &str) -> CowStr<'a> {
    match scheme(&url) {
        Some(scheme)
            if scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https") =>
        {
            url
        }
        Some(_) => CowStr::Borrowed(""),
        None if url.starts_with('/') || url.starts_with('#') => url,
        None => {
            let path = url.strip_prefix("./").unwrap_or(&url);
            if path.is_empty() || path.split('/').any(|part| part == "..") {
                CowStr::Borrowed("")
            } else {
                CowStr::Boxed(format!("{preview_base}{path}").into_boxed_str())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "/ui/reports/r/versions/v/preview/";

    #[test]
    fn raw_html_in_a_readme_is_shown_as_escaped_text() {
        let html = render(
            "# Title\n\n<script>alert('x')</script>\n\nSome <b onclick=\"x()\">bold</b> **text**.\n\n<img src=x onerror=alert(1)>\n",
            BASE,
        );
        assert!(html.contains("<h1>Title</h1>"), "{html}");
        assert!(html.contains("<strong>text</strong>"), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;")
                || html.contains("&lt;script&gt;alert('x')&lt;/script&gt;"),
            "{html}"
        );
        assert!(
            html.contains("&lt;b onclick=\"x()\"&gt;bold&lt;/b&gt;"),
            "{html}"
        );
        assert!(
            html.contains("&lt;img src=x onerror=alert(1)&gt;"),
            "{html}"
        );
        for raw in ["<script", "<b ", "<img"] {
            assert!(!html.contains(raw), "{raw} in {html}");
        }
    }

    #[test]
    fn links_keep_safe_schemes_and_images_point_at_previews() {
        let html = render(
            "[a](https://example.org/x) [b](javascript:alert(1)) [c](JaVaScRiPt:x) \
             [d](other.md) [e](#part) [f](mailto:x@example.org) [g](data:text/html,x)\n\n\
             ![graph](graph.png) ![up](../secret.png) ![far](https://example.org/i.png) \
             ![js](javascript:x)\n",
            BASE,
        );
        assert!(html.contains("href=\"https://example.org/x\""), "{html}");
        assert!(html.contains("href=\"other.md\""), "{html}");
        assert!(html.contains("href=\"#part\""), "{html}");
        assert!(html.contains("href=\"mailto:x@example.org\""), "{html}");
        assert!(!html.to_ascii_lowercase().contains("javascript:"), "{html}");
        assert!(!html.contains("data:text"), "{html}");
        assert!(
            html.contains("src=\"/ui/reports/r/versions/v/preview/graph.png\""),
            "{html}"
        );
        assert!(html.contains("src=\"https://example.org/i.png\""), "{html}");
        assert!(!html.contains("secret.png\""), "{html}");
    }

    #[test]
    fn tables_and_code_render() {
        let html = render("| a | b |\n|---|---|\n| 1 | 2 |\n\n`<code>`\n", BASE);
        assert!(html.contains("<table>"), "{html}");
        assert!(html.contains("<code>&lt;code&gt;</code>"), "{html}");
    }
}
