//! The console's review pages as people use them: a real headless Chromium, driven over
//! WebDriver, against the real API, a worker and the scheduler over a real Redis. A person
//! with `projects.work` submits a human step that requires review; a person with
//! `projects.review` claims its review, sends it back with comments, then accepts it once
//! reworked; nobody else sees the review. Each test saves screenshots (1280×800) of the pages
//! it checked under `<target dir>/console/`.

use std::time::Duration;

use baton_tests::wait::wait_for;
use baton_tests::{Browser, TestApp};
use common::auth::signing::sign::Signer;
use serde_json::{Value, json};
use tokio::sync::Semaphore;

/// Chromium sessions open at once (each is a few processes; the machine has two cores).
static BROWSERS: Semaphore = Semaphore::const_new(1);

/// A person writes a text, another reviews it, then a machine step publishes what was
/// accepted (its result is what it was given).
const EDIT: &str = r#"
slug: edit
description: Write a text, have another person review it, then publish it.
steps:
  - slug: write
    description: Write the note
    type: human
    review: true
    form:
      type: object
      required: [text]
      properties:
        text: {type: string, format: textarea, description: The note as it will be published}
        comments: {type: string, format: textarea, description: The reviewer's comments}
  - slug: publish
    description: Publish the note
    type: machine
    depends_on: [write]
    executor: {type: command, argv: ["sh", "-c", "cat > \"$BATON_RESULT\""]}
"#;

/// An app with the workflow, a worker and the scheduler, and a key that creates projects.
struct Reviews {
    app: TestApp,
    creator: Signer,
}

impl Reviews {
    async fn start() -> Self {
        let app = TestApp::builder()
            .project("edit.yml", EDIT)
            .workers(1)
            .scheduler(true)
            .spawn()
            .await;
        let creator = app.key("creator", "projects.read,projects.write").await;
        Self { app, creator }
    }

    /// Creates a project of the workflow and returns its id.
    async fn create(&self, description: &str, priority: i64, data: Value) -> u64 {
        let answer = self
            .app
            .client(self.creator.clone())
            .post(
                "/orchestra/api/project/create_project",
                &json!({
                    "workflow_slug": "edit",
                    "description": description,
                    "priority": priority,
                    "project_data": data,
                    "task_class": "real",
                }),
            )
            .await;
        assert_eq!(answer.status, 200, "{answer:?}");
        answer.body["project_id"].as_u64().unwrap()
    }

    /// The project's `project_information`.
    async fn information(&self, id: u64) -> Value {
        let answer = self
            .app
            .client(self.creator.clone())
            .get(&format!(
                "/orchestra/api/project/project_information?project_id={id}"
            ))
            .await;
        assert_eq!(answer.status, 200, "{answer:?}");
        answer.body
    }

    /// The status of the `write` task of project `id`, in Orchestra's words.
    async fn write_status(&self, id: u64) -> Value {
        self.information(id).await["tasks"]["write"]["status"].clone()
    }

    /// Waits until the `write` step of project `id` waits for someone; returns its task id.
    async fn wait_for_task(&self, id: u64) -> u64 {
        wait_for(
            Duration::from_secs(30),
            "the human task to wait for someone",
            || async {
                let info = self.information(id).await;
                let task = &info["tasks"]["write"];
                (task["status"] == "Awaiting Processing").then(|| task["id"].as_u64().unwrap())
            },
        )
        .await
    }

    /// `person` claims task `task` and submits `data` through the API.
    async fn claim_and_submit(&self, person: &Signer, task: u64, data: Value) {
        let client = self.app.client(person.clone());
        let claimed = client
            .post("/orchestra/api/tasks/claim", &json!({"task_id": task}))
            .await;
        assert_eq!(claimed.status, 200, "{claimed:?}");
        let submitted = client
            .post(
                &format!("/orchestra/api/tasks/{task}/submit"),
                &json!({"task_data": data}),
            )
            .await;
        assert_eq!(submitted.status, 200, "{submitted:?}");
        assert_eq!(submitted.body["status"], "Pending Review", "{submitted:?}");
    }
}

/// A browser, holding the [`BROWSERS`] permit while it lives.
async fn browser() -> (Browser, tokio::sync::SemaphorePermit<'static>) {
    let permit = BROWSERS.acquire().await.unwrap();
    let mut browser = Browser::start().await;
    browser.set_timeout(Duration::from_secs(30));
    (browser, permit)
}

/// Signs in through the form and waits for the page the key lands on (its `h1`).
async fn sign_in(browser: &Browser, app: &TestApp, key_id: &str, secret: &str, landing: &str) {
    browser
        .sign_in(&app.url("/ui/login"), key_id, secret, landing)
        .await;
}

/// Signs out through the header's button (of the page the key lands on), then signs in as
/// someone else.
async fn switch_to(browser: &Browser, app: &TestApp, key_id: &str, secret: &str, landing: &str) {
    browser.goto(&app.url("/ui/")).await;
    browser.click("form.signout button[type=submit]").await;
    browser.wait_for("#key_id").await;
    sign_in(browser, app, key_id, secret, landing).await;
}

/// The value of the form field `css` as the page holds it now.
async fn value_of(browser: &Browser, css: &str) -> Value {
    browser
        .execute(
            "return document.querySelector(arguments[0]).value;",
            vec![json!(css)],
        )
        .await
}

#[tokio::test]
async fn work_is_reviewed_sent_back_with_comments_reworked_and_accepted() {
    let reviews = Reviews::start().await;
    let app = &reviews.app;
    let alice_secret = app
        .create_key("alice", "projects.work,projects.review,projects.read", &[])
        .await;
    let bob_secret = app.create_key("bob", "projects.review", &[]).await;
    let writer = app.key("erin", "projects.work").await;
    let id = reviews
        .create(
            "The launch note",
            5,
            json!({"product": "Baton", "audience": "operators"}),
        )
        .await;
    let other = reviews.create("The release note", 1, json!({})).await;
    let task = reviews.wait_for_task(id).await;
    let other_task = reviews.wait_for_task(other).await;
    // Someone else's work waits for review too, on a less urgent project.
    reviews
        .claim_and_submit(
            &writer,
            other_task,
            json!({"text": "Version 2 is out: faster claims, a review cycle and a new console page for reviewers."}),
        )
        .await;

    let (browser, _permit) = browser().await;
    // Alice works and reviews: she lands on her work page, and the nav offers both.
    sign_in(&browser, app, "alice", &alice_secret, "My work").await;
    assert!(browser.exists("nav a[href='/ui/reviews']").await);
    browser.click(&format!("#claim-{task}")).await;
    browser.wait_for("#task-form").await;
    browser
        .fill("#field-text", "Baton now reviews human work.")
        .await;
    browser.click("#submit-work").await;
    browser
        .wait_for_text(".notice", "Submitted for review")
        .await;
    assert_eq!(reviews.write_status(id).await, "Pending Review");
    // Her task page says it waits for review (not "processing"), and takes no more work.
    browser.goto(&app.url(&format!("/ui/work/{task}"))).await;
    browser
        .wait_for_text("#task-closed", "waiting for review")
        .await;
    assert!(!browser.exists("#task-form").await);
    // Her work page lists it as submitted for review, not among the tasks to work on.
    browser.goto(&app.url("/ui/work")).await;
    browser
        .wait_for_text(
            &format!("#in-review tr[data-task='{task}']"),
            "waiting for a reviewer",
        )
        .await;
    assert!(
        !browser
            .exists(&format!("#held tr[data-task='{task}']"))
            .await
    );

    // She may review, but not her own work: the page offers only Erin's, and a crafted
    // claim of her own is refused.
    browser.goto(&app.url("/ui/reviews")).await;
    browser
        .wait_for_text(&format!("#waiting-{other_task}"), "Version 2 is out")
        .await;
    assert!(!browser.exists(&format!("#waiting-{task}")).await);
    let csrf = browser.page_csrf().await;
    let own = format!("/ui/reviews/{task}/claim");
    assert_eq!(browser.post_form(&own, &format!("csrf={csrf}")).await, 403);
    assert_eq!(reviews.write_status(id).await, "Pending Review");

    // Bob reviews only: he lands on the reviews, the most urgent first, with the work and
    // who did it.
    switch_to(&browser, app, "bob", &bob_secret, "Reviews").await;
    assert!(!browser.exists("nav a[href='/ui/work']").await);
    let offer = format!("#waiting-{task}");
    browser
        .wait_for_text(&offer, "Baton now reviews human work.")
        .await;
    browser
        .wait_for_text(&format!("{offer} .claimant"), "alice")
        .await;
    browser.wait_for_text(&offer, "priority 5").await;
    let order = browser
        .execute(
            "return Array.from(document.querySelectorAll('#waiting li.offer')).map(function (li) { return li.dataset.task; });",
            vec![],
        )
        .await;
    assert_eq!(
        order,
        json!([task.to_string(), other_task.to_string()]),
        "{order}"
    );
    assert!(browser.exists("#no-yours").await);

    // He claims the review: the submitted work is in the step's form.
    browser.click(&format!("#review-{task}")).await;
    browser
        .wait_for_text(".notice", "You review this task now")
        .await;
    browser.wait_for_text("#claimant", "alice").await;
    assert_eq!(
        value_of(&browser, "#field-text").await,
        "Baton now reviews human work."
    );
    browser
        .wait_for_text("#rounds .round[data-kind='submitted']", "alice")
        .await;
    browser.wait_for_text("#project-data", "operators").await;
    assert_eq!(reviews.write_status(id).await, "Reviewing");

    // He sends it back with a comment.
    browser
        .fill("#field-comments", "Say what changes for operators.")
        .await;
    browser.click("#send-back").await;
    browser.wait_for_text(".notice", "Sent back").await;
    assert!(
        browser
            .current_url()
            .await
            .ends_with("/ui/reviews?done=sent-back")
    );
    let mine = format!("#yours tr[data-task='{task}']");
    browser.wait_for_text(&mine, "waiting for alice").await;
    assert_eq!(
        browser
            .execute(
                "return document.querySelector(arguments[0]).dataset.state;",
                vec![json!(mine)]
            )
            .await,
        "sent-back"
    );
    assert!(browser.exists(&format!("#waiting-{other_task}")).await);
    browser.screenshot("projects-reviews").await;
    assert_eq!(reviews.write_status(id).await, "Post-review Processing");
    // While it is back with Alice, his review page shows it without actions.
    browser.goto(&app.url(&format!("/ui/reviews/{task}"))).await;
    browser
        .wait_for_text("#review-closed", "You sent this task back to alice")
        .await;
    assert!(!browser.exists("#review-form").await);

    // Alice finds it back on her work page, marked, with Bob's comment above the form.
    switch_to(&browser, app, "alice", &alice_secret, "My work").await;
    let held = format!("#held tr[data-task='{task}']");
    browser
        .wait_for_text(&held, "sent back by the reviewer")
        .await;
    browser.click(&format!("{held} a")).await;
    browser
        .wait_for_text("#review-note", "Sent back by bob")
        .await;
    browser
        .wait_for_text(
            "#review-note [data-name='comments']",
            "Say what changes for operators.",
        )
        .await;
    assert_eq!(
        value_of(&browser, "#field-text").await,
        "Baton now reviews human work."
    );
    assert_eq!(
        value_of(&browser, "#field-comments").await,
        "Say what changes for operators."
    );
    browser.screenshot("projects-task-sent-back").await;
    browser
        .fill(
            "#field-text",
            "Baton now reviews human work: operators see who reviews what, and why it came back.",
        )
        .await;
    browser.fill("#field-comments", "Done.").await;
    browser.click("#submit-work").await;
    browser
        .wait_for_text(".notice", "Submitted for review")
        .await;
    assert!(!browser.exists(&held).await);
    // It goes straight back to Bob, and her work page says so.
    assert_eq!(reviews.write_status(id).await, "Reviewing");
    browser.goto(&app.url("/ui/work")).await;
    browser
        .wait_for_text(
            &format!("#in-review tr[data-task='{task}']"),
            "being reviewed by bob",
        )
        .await;
    browser.screenshot("projects-work-in-review").await;
    browser.goto(&app.url(&format!("/ui/work/{task}"))).await;
    browser
        .wait_for_text("#task-closed", "being reviewed by bob")
        .await;

    // Bob sees it among his reviews again, with every round so far.
    switch_to(&browser, app, "bob", &bob_secret, "Reviews").await;
    let mine_again = format!("#yours tr[data-task='{task}'][data-state='reviewing']");
    browser.wait_for_text(&mine_again, "yours to review").await;
    browser.click(&format!("{mine_again} a")).await;
    browser.wait_for("#review-form").await;
    let kinds = browser
        .execute(
            "return Array.from(document.querySelectorAll('#rounds .round')).map(function (r) { return r.dataset.kind; });",
            vec![],
        )
        .await;
    assert_eq!(kinds, json!(["submitted", "rejected", "submitted"]));
    browser
        .wait_for_text(
            "#rounds .round[data-kind='rejected']",
            "Say what changes for operators.",
        )
        .await;
    assert!(
        value_of(&browser, "#field-text")
            .await
            .as_str()
            .unwrap()
            .contains("why it came back")
    );
    browser.screenshot("projects-review").await;
    // At a phone's width the context and the form stack, and nothing overflows.
    browser.client().set_window_size(390, 844).await.unwrap();
    browser.assert_no_sideways_scroll().await;
    browser.client().set_window_size(1280, 800).await.unwrap();

    // Accepting checks the step's form: without the required text (the browser's check
    // taken away), the server's problem comes back next to the field, and nothing changes.
    browser
        .execute(
            "document.getElementById('field-text').removeAttribute('required');",
            vec![],
        )
        .await;
    browser.fill("#field-text", "").await;
    browser.click("#accept-review").await;
    browser.wait_for_text("#error-text", "required").await;
    browser
        .wait_for_text("#form-problems", "cannot be accepted")
        .await;
    assert!(browser.current_url().await.ends_with("/accept"));
    assert_eq!(reviews.write_status(id).await, "Reviewing");

    browser
        .fill("#field-text", "Baton reviews human work, round by round.")
        .await;
    browser.click("#accept-review").await;
    browser.wait_for_text(".notice", "Accepted").await;
    assert!(
        !browser
            .exists(&format!("#yours tr[data-task='{task}']"))
            .await
    );
    wait_for(
        Duration::from_secs(20),
        "the project to complete",
        || async {
            (reviews.information(id).await["project"]["status"] == "completed").then_some(())
        },
    )
    .await;
    let info = reviews.information(id).await;
    assert_eq!(
        info["tasks"]["write"]["latest_data"],
        json!({"text": "Baton reviews human work, round by round.", "comments": "Done."})
    );
    assert_eq!(
        info["tasks"]["publish"]["latest_data"]["parents"][0]["text"],
        "Baton reviews human work, round by round."
    );

    // Alice (who reads projects) sees the step complete on the project's page.
    switch_to(&browser, app, "alice", &alice_secret, "My work").await;
    browser.goto(&app.url(&format!("/ui/projects/{id}"))).await;
    browser
        .wait_for_text("#step-write .step-status", "Complete")
        .await;
    browser.wait_for_text("#project-status", "completed").await;
    // The step shows its reviewer and every round: submissions and decisions, by time.
    browser
        .wait_for_text("#step-write .review-assignment", "bob")
        .await;
    browser
        .wait_for_text("#step-write", "Rejected by bob")
        .await;
    browser
        .wait_for_text("#step-write", "Accepted by bob")
        .await;
    browser
        .wait_for_text("#step-write", "Submitted by alice")
        .await;
    browser.screenshot("projects-project-reviewed").await;
    browser.goto(&app.url(&format!("/ui/work/{task}"))).await;
    browser
        .wait_for_text("#task-closed", "accepted by bob")
        .await;
    browser.close().await;
}

#[tokio::test]
async fn only_the_reviewer_sees_a_review_and_keys_without_projects_review_are_refused() {
    let reviews = Reviews::start().await;
    let app = &reviews.app;
    let alice = app.key("alice", "projects.work").await;
    let bob = app.key("bob", "projects.review").await;
    let carol_secret = app.create_key("carol", "projects.review", &[]).await;
    let dave_secret = app.create_key("dave", "projects.work", &[]).await;
    let id = reviews.create("A note for Bob", 0, json!({})).await;
    let task = reviews.wait_for_task(id).await;
    reviews
        .claim_and_submit(&alice, task, json!({"text": "Reviewed by Bob only."}))
        .await;
    let claimed = app
        .client(bob.clone())
        .post("/orchestra/api/reviews/claim", &json!({"task_id": task}))
        .await;
    assert_eq!(claimed.status, 200, "{claimed:?}");

    let (browser, _permit) = browser().await;
    // Carol reviews too, but Bob holds this one: it is not offered, and its page is a 403.
    sign_in(&browser, app, "carol", &carol_secret, "Reviews").await;
    assert!(browser.exists("#no-waiting").await);
    assert!(browser.exists("#no-yours").await);
    browser.goto(&app.url(&format!("/ui/reviews/{task}"))).await;
    browser.wait_for_text("h1", "403").await;
    browser
        .wait_for_text(".error-message", "reviewed by someone else")
        .await;
    browser.goto(&app.url("/ui/reviews")).await;
    let csrf = browser.page_csrf().await;
    for action in ["accept", "reject"] {
        let path = format!("/ui/reviews/{task}/{action}");
        let body = format!("csrf={csrf}&text=Carol%27s+take");
        assert_eq!(browser.post_form(&path, &body).await, 403, "{action}");
    }
    // A claim of a task someone reviews is a conflict; without the CSRF token, refused.
    let claim = format!("/ui/reviews/{task}/claim");
    assert_eq!(
        browser.post_form(&claim, &format!("csrf={csrf}")).await,
        409
    );
    assert_eq!(browser.post_form(&claim, "csrf=forged").await, 403);
    assert_eq!(reviews.write_status(id).await, "Reviewing");
    let info = reviews.information(id).await;
    assert_eq!(info["tasks"]["write"]["assignments"][1]["worker"], "bob");
    // Unknown tasks and machine steps are the console's 404 page.
    browser.goto(&app.url("/ui/reviews/987654")).await;
    browser.wait_for_text("h1", "404").await;
    let publish = task + 1;
    browser
        .goto(&app.url(&format!("/ui/reviews/{publish}")))
        .await;
    browser.wait_for_text("h1", "404").await;
    browser
        .wait_for_text(".error-message", "machine step")
        .await;

    // Dave works but does not review: no link, and the pages and actions are 403s.
    switch_to(&browser, app, "dave", &dave_secret, "My work").await;
    assert!(!browser.exists("nav a[href='/ui/reviews']").await);
    browser.goto(&app.url("/ui/reviews")).await;
    browser.wait_for_text("h1", "403").await;
    browser
        .wait_for_text(".error-message", "projects.review")
        .await;
    browser.goto(&app.url("/ui/work")).await;
    let csrf = browser.page_csrf().await;
    let accept = format!("/ui/reviews/{task}/accept");
    assert_eq!(
        browser
            .post_form(&accept, &format!("csrf={csrf}&text=x"))
            .await,
        403
    );
    assert_eq!(reviews.write_status(id).await, "Reviewing");
    browser.close().await;
}
