//! The browser driver against real pages: a form in a `data:` URL filled and submitted, and
//! the real API's `/healthz` over a real socket, each saved as a 1280×800 screenshot under
//! `<target dir>/console/`.

use baton_tests::browser::{HEIGHT, WIDTH};
use baton_tests::{Browser, spawn_app};

/// The width and height in a PNG's header (its IHDR chunk).
fn png_size(png: &[u8]) -> (u32, u32) {
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    assert_eq!(&png[12..16], b"IHDR");
    let number = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
    (number(16), number(20))
}

/// A page with a form whose button writes a greeting for the typed name.
const FORM: &str = "<!doctype html><title>form</title><style>body{font:20px sans-serif;margin:2em}\
    output{display:block;margin-top:1em;color:#064}</style>\
    <h1>Smoke form</h1><form id=f><label>Name <input id=name value=nobody></label> \
    <button id=go type=submit>Greet</button></form><output id=out></output>\
    <script>document.getElementById('f').addEventListener('submit',function(e){e.preventDefault();\
    document.getElementById('out').textContent='Hello, '+document.getElementById('name').value+'!';});\
    </script>";

#[tokio::test]
async fn the_browser_fills_a_form_and_reads_the_api_and_saves_real_screenshots() {
    let app = spawn_app().await;
    let browser = Browser::start().await;

    browser
        .goto(&format!("data:text/html;charset=utf-8,{}", percent(FORM)))
        .await;
    assert_eq!(browser.text("h1").await, "Smoke form");
    browser.fill("#name", "operator").await;
    browser.click("#go").await;
    browser.wait_for_text("#out", "Hello, operator!").await;
    let form = browser.screenshot("smoke-form").await;

    browser.goto(&app.url("/healthz")).await;
    let body = browser.wait_for_text("body", "\"status\":\"ok\"").await;
    assert_eq!(body.text().await.unwrap().trim(), r#"{"status":"ok"}"#);
    assert!(browser.current_url().await.ends_with("/healthz"));
    let health = browser.screenshot("smoke-healthz").await;

    for path in [&form, &health] {
        assert!(
            path.starts_with(browser.screenshot_dir()),
            "{}",
            path.display()
        );
        assert!(browser.screenshot_dir().ends_with("console"));
        let png = std::fs::read(path).unwrap();
        assert_eq!(png_size(&png), (WIDTH, HEIGHT), "{}", path.display());
        // A blank page compresses to a few hundred bytes; text makes it larger.
        assert!(
            png.len() > 2_000,
            "{} is {} bytes",
            path.display(),
            png.len()
        );
    }
    browser.close().await;
}

#[tokio::test]
async fn waiting_for_missing_text_fails_with_what_was_seen() {
    let mut browser = Browser::start().await;
    browser.set_timeout(std::time::Duration::from_millis(500));
    browser
        .goto("data:text/html;charset=utf-8,%3Cp%20id%3Dp%3Eactual%3C%2Fp%3E")
        .await;
    let waited = tokio::spawn(async move {
        browser.wait_for_text("#p", "expected").await;
    })
    .await;
    let panic = waited.expect_err("the wait fails").into_panic();
    let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(message.contains("\"expected\""), "{message}");
    assert!(message.contains("seen: [\"actual\"]"), "{message}");
}

/// Percent-encodes `text` for a `data:` URL.
fn percent(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}
