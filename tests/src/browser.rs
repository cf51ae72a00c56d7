//! A real headless Chromium for the console's tests, driven over WebDriver.
//!
//! [`Browser::start`] runs `chromedriver` (Debian's `chromium-driver`) on a port it picks
//! itself, opens a session of headless Chromium (Debian's `chromium`) with a 1280×800 window
//! and a private profile, and connects to it with `fantoccini`. Helpers wait for elements
//! and text with a deadline instead of sleeping, and [`Browser::screenshot`] saves PNGs
//! under `<target dir>/console/`. Dropping the browser kills `chromedriver` and the browser
//! it started (their process group).
//!
//! The programs come from `BATON_TEST_CHROMEDRIVER` and `BATON_TEST_CHROMIUM` when set, else
//! `/usr/bin/chromedriver` and `/usr/bin/chromium`; `scripts/test` installs them when missing.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use serde_json::{Value, json};
use tempfile::TempDir;

/// The window (and screenshot) width, in CSS pixels.
pub const WIDTH: u32 = 1280;
/// The window (and screenshot) height, in CSS pixels.
pub const HEIGHT: u32 = 800;
/// How long the waits wait by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long `chromedriver` may take to say which port it listens on.
const DRIVER_START_TIMEOUT: Duration = Duration::from_secs(20);
/// Times the driver is started when the port it picked was taken before it could bind it.
const DRIVER_START_ATTEMPTS: usize = 3;
/// What `chromedriver` prints once it listens, followed by the port and a full stop.
const DRIVER_READY: &str = "was started successfully on port ";

/// A headless Chromium session and the `chromedriver` serving it.
pub struct Browser {
    /// The WebDriver session.
    client: Client,
    /// Where screenshots go: `<target dir>/console`.
    screenshots: PathBuf,
    /// How long the waits wait.
    timeout: Duration,
    /// The driver serving the session (dropped after it).
    driver: Driver,
}

impl std::fmt::Debug for Browser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Browser")
            .field("driver_pid", &self.driver.child.id())
            .field("screenshots", &self.screenshots)
            .finish_non_exhaustive()
    }
}

impl Browser {
    /// Starts `chromedriver` and a headless Chromium session (1280×800, no sandbox, no GPU).
    ///
    /// Panics, with the driver's log, when either does not start.
    pub async fn start() -> Self {
        let (driver, port) = Driver::start_listening().await;
        let profile = driver.dir.path().join("profile");
        let chromium = program("BATON_TEST_CHROMIUM", "/usr/bin/chromium");
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("browserName".into(), json!("chrome"));
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium.display().to_string(),
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    format!("--window-size={WIDTH},{HEIGHT}"),
                    format!("--user-data-dir={}", profile.display()),
                    "--no-first-run",
                    "--no-default-browser-check",
                ],
            }),
        );
        // chromedriver listens on loopback, over plain HTTP.
        let connected = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await;
        let client = connected.unwrap_or_else(|error| {
            panic!(
                "cannot open a Chromium session: {error}; chromedriver's log:\n{}",
                driver.log()
            )
        });
        let browser = Self {
            client,
            screenshots: screenshot_dir(),
            timeout: DEFAULT_TIMEOUT,
            driver,
        };
        browser.fit_viewport().await;
        browser
    }

    /// Grows the window by what its frame takes, so that the page itself (and each
    /// screenshot) is exactly 1280×800.
    async fn fit_viewport(&self) {
        let inner = || async {
            let size = self
                .execute(
                    "return [window.innerWidth, window.innerHeight];",
                    Vec::new(),
                )
                .await;
            let dimension = |index: usize| {
                size[index]
                    .as_u64()
                    .and_then(|value| u32::try_from(value).ok())
                    .unwrap_or_else(|| panic!("the browser reports no viewport size: {size}"))
            };
            (dimension(0), dimension(1))
        };
        let (width, height) = inner().await;
        if (width, height) == (WIDTH, HEIGHT) {
            return;
        }
        let (_, _, outer_width, outer_height) = self
            .client
            .get_window_rect()
            .await
            .expect("the browser reports its window");
        // The frame is what the window has beyond its viewport.
        let grown = |outer: u64, inside: u32, wanted: u32| {
            u32::try_from(outer.saturating_sub(u64::from(inside)) + u64::from(wanted))
                .expect("a window size fits in u32")
        };
        self.client
            .set_window_size(
                grown(outer_width, width, WIDTH),
                grown(outer_height, height, HEIGHT),
            )
            .await
            .expect("the browser resizes its window");
        let fitted = inner().await;
        assert_eq!(
            fitted,
            (WIDTH, HEIGHT),
            "the browser's viewport cannot be made {WIDTH}x{HEIGHT}"
        );
    }

    /// Changes how long the waits wait (default 10 s).
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// The WebDriver client, for what the helpers do not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Opens `url` and waits until the page has loaded.
    pub async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|error| panic!("cannot open {url}: {error}"));
    }

    /// The current page's URL.
    pub async fn current_url(&self) -> String {
        self.client
            .current_url()
            .await
            .map(|url| url.to_string())
            .expect("the browser answers")
    }

    /// The current page's HTML as the browser holds it now.
    pub async fn source(&self) -> String {
        self.client.source().await.expect("the browser answers")
    }

    /// Waits until an element matches `css` and returns the first.
    ///
    /// Panics, with the page's URL, when none appears within the timeout.
    pub async fn wait_for(&self, css: &str) -> Element {
        match self
            .client
            .wait()
            .at_most(self.timeout)
            .for_element(Locator::Css(css))
            .await
        {
            Ok(element) => element,
            Err(error) => panic!(
                "no element matched `{css}` within {:?} on {}: {error}",
                self.timeout,
                self.current_url().await
            ),
        }
    }

    /// Waits until an element matching `css` contains `text` (in its rendered text) and
    /// returns it; the page may change meanwhile (live updates).
    ///
    /// Panics, with the texts last seen, when none does within the timeout.
    pub async fn wait_for_text(&self, css: &str, text: &str) -> Element {
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            let mut seen = Vec::new();
            if let Ok(elements) = self.client.find_all(Locator::Css(css)).await {
                for element in elements {
                    // An element replaced since it was found is simply looked up again.
                    if let Ok(content) = element.text().await {
                        if content.contains(text) {
                            return element;
                        }
                        seen.push(content);
                    }
                }
            }
            if tokio::time::Instant::now() >= deadline {
                panic!(
                    "no element matching `{css}` showed {text:?} within {:?} on {}; seen: {seen:?}",
                    self.timeout,
                    self.current_url().await
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The rendered text of the first element matching `css` (waiting for it).
    pub async fn text(&self, css: &str) -> String {
        self.wait_for(css)
            .await
            .text()
            .await
            .unwrap_or_else(|error| panic!("cannot read the text of `{css}`: {error}"))
    }

    /// Whether an element matches `css` now (no waiting).
    pub async fn exists(&self, css: &str) -> bool {
        self.client
            .find_all(Locator::Css(css))
            .await
            .is_ok_and(|elements| !elements.is_empty())
    }

    /// Clicks the first element matching `css` (waiting for it). An element that live
    /// updates replace between finding and clicking it is looked up again.
    pub async fn click(&self, css: &str) {
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            match self.wait_for(css).await.click().await {
                Ok(_) => return,
                Err(error)
                    if error.is_stale_element_reference()
                        && tokio::time::Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(error) => panic!("cannot click `{css}`: {error}"),
            }
        }
    }

    /// Replaces the value of the first field matching `css` (waiting for it) with `value`.
    pub async fn fill(&self, css: &str, value: &str) {
        let field = self.wait_for(css).await;
        field
            .clear()
            .await
            .unwrap_or_else(|error| panic!("cannot clear `{css}`: {error}"));
        field
            .send_keys(value)
            .await
            .unwrap_or_else(|error| panic!("cannot type into `{css}`: {error}"));
    }

    /// Signs in to the console through its form at `login_url` with `key_id` and `secret`,
    /// and waits for the page the key lands on (its `h1` showing `landing`).
    pub async fn sign_in(&self, login_url: &str, key_id: &str, secret: &str, landing: &str) {
        self.goto(login_url).await;
        self.fill("#key_id", key_id).await;
        self.fill("#secret", secret).await;
        self.click("form button[type=submit]").await;
        self.wait_for_text("h1", landing).await;
    }

    /// Asserts that the page is no wider than the window (nothing to scroll sideways, as a
    /// phone's user would have to).
    pub async fn assert_no_sideways_scroll(&self) {
        let overflow = self
            .execute(
                "return document.documentElement.scrollWidth - window.innerWidth;",
                vec![],
            )
            .await;
        assert!(
            overflow.as_i64().unwrap_or(i64::MAX) <= 0,
            "the page is wider than the window by {overflow} px"
        );
    }

    /// Accepts the confirmation dialog a destructive button opens (waiting for it).
    pub async fn accept_confirmation(&self) {
        for _ in 0..100 {
            if self.client.accept_alert().await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no confirmation dialog appeared");
    }

    /// The console session's CSRF token, as the page's sign-out form carries it.
    pub async fn page_csrf(&self) -> String {
        self.execute(
            "return document.querySelector('form.signout input[name=csrf]').value;",
            vec![],
        )
        .await
        .as_str()
        .expect("the page carries a CSRF token")
        .to_owned()
    }

    /// Posts the form `body` (urlencoded) to `path` from the page, with its cookies, as a
    /// crafted request would; returns the answer's status (a redirect is not followed).
    pub async fn post_form(&self, path: &str, body: &str) -> u64 {
        self.execute(
            "return fetch(arguments[0], {method: 'POST', redirect: 'manual', \
             headers: {'Content-Type': 'application/x-www-form-urlencoded'}, \
             body: arguments[1]}).then(function (r) { return r.status; });",
            vec![Value::from(path), Value::from(body)],
        )
        .await
        .as_u64()
        .expect("a status")
    }

    /// Runs `script` (a function body; `arguments` holds `args`) in the page and returns what
    /// it returns.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|error| panic!("the script failed: {error}"))
    }

    /// Saves a PNG of the window (1280×800) as `<target dir>/console/<name>.png` and returns
    /// its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        assert!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')),
            "a screenshot name is letters, digits, '-', '_' and '.': {name:?}"
        );
        let png = self
            .client
            .screenshot()
            .await
            .unwrap_or_else(|error| panic!("cannot take the screenshot {name}: {error}"));
        std::fs::create_dir_all(&self.screenshots).unwrap_or_else(|error| {
            panic!("cannot create {}: {error}", self.screenshots.display())
        });
        let path = self.screenshots.join(format!("{name}.png"));
        std::fs::write(&path, png)
            .unwrap_or_else(|error| panic!("cannot write {}: {error}", path.display()));
        path
    }

    /// The folder screenshots go to: `<target dir>/console`.
    pub fn screenshot_dir(&self) -> &Path {
        &self.screenshots
    }

    /// Ends the session (closing Chromium) and stops `chromedriver`.
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }

    /// `chromedriver`'s output so far.
    pub fn driver_log(&self) -> String {
        self.driver.log()
    }
}

/// A running `chromedriver` in its own process group, with its log and the browser's profile
/// in a temporary directory. Dropping it kills the group (the driver and the browser it
/// started) and reaps the driver.
struct Driver {
    /// The `chromedriver` process, leader of its process group.
    child: Child,
    /// Its output.
    log_path: PathBuf,
    /// Holds the log and the browser's profile.
    dir: TempDir,
}

impl Driver {
    /// Starts `chromedriver --port=0` (it picks a free port and says which).
    fn start() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("baton-browser-")
            .tempdir()
            .expect("cannot create a temporary directory for the browser");
        let log_path = dir.path().join("chromedriver.log");
        let log = File::create(&log_path).expect("cannot create the chromedriver log");
        let log_err = log.try_clone().expect("cannot clone the chromedriver log");
        let program = program("BATON_TEST_CHROMEDRIVER", "/usr/bin/chromedriver");
        let child = Command::new(&program)
            .arg("--port=0")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            // Its own process group, so that dropping the browser ends Chromium too.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|error| {
                panic!(
                    "cannot start {}: {error} (install Debian's chromium and chromium-driver; \
                     scripts/test does)",
                    program.display()
                )
            });
        Self {
            child,
            log_path,
            dir,
        }
    }

    /// The driver's output so far.
    fn log(&self) -> String {
        std::fs::read(&self.log_path)
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_default()
    }

    /// A driver listening, and its port. With `--port=0` the driver picks a free port and then
    /// binds it, which another process may take in between: such a start is tried again.
    async fn start_listening() -> (Self, u16) {
        for _ in 1..DRIVER_START_ATTEMPTS {
            let mut driver = Self::start();
            match driver.port().await {
                Ok(port) => return (driver, port),
                Err(log) if log.contains("bind() failed") => continue,
                Err(log) => panic!("{log}"),
            }
        }
        let mut driver = Self::start();
        match driver.port().await {
            Ok(port) => (driver, port),
            Err(log) => panic!("{log}"),
        }
    }

    /// Waits until the driver says which port it listens on; what went wrong, with its log,
    /// when it exits or takes too long.
    async fn port(&mut self) -> Result<u16, String> {
        let deadline = tokio::time::Instant::now() + DRIVER_START_TIMEOUT;
        loop {
            if let Some(port) = driver_port_in(&self.log()) {
                return Ok(port);
            }
            let exited = self.child.try_wait().ok().flatten();
            if exited.is_some() || tokio::time::Instant::now() >= deadline {
                return Err(format!(
                    "chromedriver did not start ({exited:?}); its log:\n{}",
                    self.log()
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- chromedriver log ---\n{}\n--- end ---", self.log());
        }
        if self.child.try_wait().ok().flatten().is_none() {
            if let Ok(pid) = i32::try_from(self.child.id()) {
                // The group is the driver's own (process_group(0)), and the driver is not
                // reaped yet, so its id still names it.
                let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
            }
            let _ = self.child.wait();
        }
    }
}

/// The port in `chromedriver`'s log line "... was started successfully on port N.".
fn driver_port_in(log: &str) -> Option<u16> {
    log.lines().find_map(|line| {
        let rest = &line[line.find(DRIVER_READY)? + DRIVER_READY.len()..];
        rest.trim().trim_end_matches('.').parse().ok()
    })
}

/// The program named by `variable`, else `default`.
fn program(variable: &str, default: &str) -> PathBuf {
    std::env::var_os(variable).map_or_else(|| PathBuf::from(default), PathBuf::from)
}

/// `<target dir>/console`, the target dir being the one holding the running test executable's
/// profile folder (`target/debug/deps/...`).
fn screenshot_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("cannot locate the running executable");
    let profile = crate::process::profile_dir(&exe);
    profile
        .parent()
        .map_or_else(|| profile.clone(), Path::to_path_buf)
        .join("console")
}
