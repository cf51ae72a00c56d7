//! The console's Projects section as people use it: a real headless Chromium, driven over
//! WebDriver, against the real API, a worker and the scheduler over a real Redis. People with
//! `projects.work` claim human tasks on the work page, fill in their step's form, save and
//! submit it; people with `projects.read` follow the projects. Each test saves screenshots
//! (1280×800) of the pages it checked under `<target dir>/console/`.

use std::time::Duration;

use baton_tests::signed_http::Answer;
use baton_tests::wait::wait_for;
use baton_tests::{Browser, TestApp};
use common::auth::signing::sign::Signer;
use fantoccini::Locator;
use serde_json::{Value, json};
use tokio::sync::Semaphore;

/// Chromium sessions open at once (each is a few processes; the machine has two cores).
static BROWSERS: Semaphore = Semaphore::const_new(1);

/// A machine step prepares a draft, a person reviews it through the step's form, then a
/// machine step publishes the review (its result is what it was given).
const REVIEW: &str = r#"
slug: review
description: Prepare a draft, have a person review it, then publish the review.
steps:
  - slug: prepare
    description: Prepare the draft
    type: machine
    executor: {type: command, argv: ["sh", "-c", "cat > /dev/null; echo '{\"draft\": \"The quick brown fox\"}' > \"$BATON_RESULT\""]}
  - slug: check
    description: Review the draft
    type: human
    depends_on: [prepare]
    form:
      type: object
      required: [verdict, summary]
      properties:
        verdict: {enum: [accept, reject], description: Accept the draft or send it back}
        summary: {type: string, maxLength: 80, description: One line for the editor}
        reason: {type: string, description: Why it goes back (needed to reject)}
        notes: {type: string, format: textarea}
        score: {type: integer, minimum: 1, maximum: 5}
        tags: {type: array, items: {type: string, maxLength: 20}}
        urgent: {type: boolean}
      if: {properties: {verdict: {const: reject}}}
      then: {required: [reason]}
  - slug: publish
    description: Publish the review
    type: machine
    depends_on: [check]
    executor: {type: command, argv: ["sh", "-c", "cat > \"$BATON_RESULT\""]}
"#;

/// One human step without a form (its data is written as JSON), on a human queue of its own.
const DECIDE: &str = r#"
slug: decide
description: A person decides.
steps:
  - slug: decide
    description: Decide
    type: human
    queue: human.decisions
"#;

/// An app with both workflows, a worker and the scheduler, and a key that creates projects.
struct Projects {
    app: TestApp,
    creator: Signer,
}

impl Projects {
    async fn start() -> Self {
        let app = TestApp::builder()
            .project("review.yml", REVIEW)
            .project("decide.yml", DECIDE)
            .workers(1)
            .scheduler(true)
            .spawn()
            .await;
        let creator = app.key("creator", "projects.read,projects.write").await;
        Self { app, creator }
    }

    /// Creates a project of `workflow` and returns its id.
    async fn create(&self, workflow: &str, description: &str, priority: i64, data: Value) -> u64 {
        let answer = self
            .app
            .client(self.creator.clone())
            .post(
                "/orchestra/api/project/create_project",
                &json!({
                    "workflow_slug": workflow,
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

    /// Waits until the human step `step` of project `id` waits for someone; returns its task id.
    async fn wait_for_human_task(&self, id: u64, step: &str) -> u64 {
        wait_for(
            Duration::from_secs(30),
            "the human task to wait for someone",
            || async {
                let info = self.information(id).await;
                let task = &info["tasks"][step];
                (task["status"] == "Awaiting Processing").then(|| task["id"].as_u64().unwrap())
            },
        )
        .await
    }

    /// Claims task `task` through the API as `person`.
    async fn claim(&self, person: &Signer, task: u64) -> Answer {
        self.app
            .client(person.clone())
            .post("/orchestra/api/tasks/claim", &json!({"task_id": task}))
            .await
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

/// Creates a key with `permissions` and returns its secret.
async fn person(app: &TestApp, id: &str, permissions: &str) -> String {
    app.create_key(id, permissions, &[]).await
}

/// The value of the form field `css` as the page holds it now.
async fn value_of(browser: &Browser, css: &str) -> Value {
    browser
        .execute(
            "var field = document.querySelector(arguments[0]); \
             return field.type === 'checkbox' ? field.checked : field.value;",
            vec![json!(css)],
        )
        .await
}

/// Selects `value` in the select `css`.
async fn choose(browser: &Browser, css: &str, value: &str) {
    browser
        .wait_for(css)
        .await
        .select_by_value(value)
        .await
        .unwrap_or_else(|error| panic!("cannot choose {value} in {css}: {error}"));
}

#[tokio::test]
async fn a_person_claims_saves_reloads_and_submits_a_task_and_the_project_completes() {
    let projects = Projects::start().await;
    let app = &projects.app;
    let secret = person(app, "alice", "projects.work,projects.read").await;
    let low = projects
        .create(
            "decide",
            "A quick decision",
            -1,
            json!({"question": "lunch?"}),
        )
        .await;
    let id = projects
        .create(
            "review",
            "Review the launch post",
            5,
            json!({"title": "Launch", "words": 420}),
        )
        .await;
    let task = projects.wait_for_human_task(id, "check").await;
    projects.wait_for_human_task(low, "decide").await;

    let (browser, _permit) = browser().await;
    // A key that may work but not read workflows lands on the work page.
    sign_in(&browser, app, "alice", &secret, "My work").await;

    // The projects: both, with their workflow, priority, status and progress.
    browser.goto(&app.url("/ui/projects")).await;
    let row = format!("#projects tr[data-project='{id}']");
    browser.wait_for_text(&row, "Review the launch post").await;
    let text = browser.text(&row).await;
    for part in ["review", "5", "active", "1/3"] {
        assert!(text.contains(part), "{part} in {text:?}");
    }
    browser
        .wait_for_text(&format!("#projects tr[data-project='{low}']"), "decide")
        .await;
    browser.screenshot("projects-list").await;

    // The project: the machine step's result, the human step waiting for someone.
    browser.click(&format!("{row} a")).await;
    browser.wait_for_text("h1", "Review the launch post").await;
    browser
        .wait_for_text("#step-prepare .step-result", "The quick brown fox")
        .await;
    browser
        .wait_for_text("#step-check .step-status", "Awaiting Processing")
        .await;
    browser
        .wait_for_text("#step-publish", "Waits for check")
        .await;
    browser.wait_for_text("#project-data", "Launch").await;
    browser.screenshot("projects-project").await;

    // The work page: the higher priority first, with its data and the step before's result.
    browser.goto(&app.url("/ui/work")).await;
    let offer = format!("#offer-{task}");
    browser
        .wait_for_text(&offer, "Review the launch post")
        .await;
    let order = browser
        .execute(
            "return Array.from(document.querySelectorAll('#offers li.offer')).map(function (li) { return li.dataset.task; });",
            vec![],
        )
        .await;
    assert_eq!(order[0], json!(task.to_string()), "{order}");
    assert!(order.as_array().unwrap().len() >= 2, "{order}");
    browser
        .wait_for_text(&format!("{offer} .prerequisite"), "The quick brown fox")
        .await;
    browser
        .wait_for_text(&format!("{offer} .project-data"), "420")
        .await;
    assert!(browser.exists("#no-held").await);
    browser.screenshot("projects-work").await;

    // Claim it; type into its form and save.
    browser.click(&format!("#claim-{task}")).await;
    browser.wait_for_text(".notice", "The task is yours").await;
    assert!(
        browser
            .current_url()
            .await
            .contains(&format!("/ui/work/{task}"))
    );
    browser.wait_for_text("#work-title", "Your work").await;
    choose(&browser, "#field-verdict", "accept").await;
    browser
        .fill("#field-summary", "Ready with two typos fixed")
        .await;
    browser
        .fill(
            "#field-notes",
            "Paragraph two repeats itself.\nOtherwise fine.",
        )
        .await;
    browser.fill("#field-score", "4").await;
    browser
        .fill("#field-tags .repeat-item input", "launch")
        .await;
    browser.click("#field-tags [data-add]").await;
    browser
        .fill("#field-tags .repeat-item:nth-child(2) input", "blog")
        .await;
    browser.click("#field-urgent").await;
    browser.click("#save-work").await;
    browser.wait_for_text(".notice", "progress is saved").await;
    browser.wait_for_text("#saved-at", "Saved").await;

    // A reload (a new visit, without the notice) shows the saved work again.
    browser.goto(&app.url(&format!("/ui/work/{task}"))).await;
    browser.wait_for_text("#saved-at", "Saved").await;
    assert_eq!(value_of(&browser, "#field-verdict").await, "accept");
    assert_eq!(
        value_of(&browser, "#field-summary").await,
        "Ready with two typos fixed"
    );
    assert_eq!(
        value_of(&browser, "#field-notes").await,
        "Paragraph two repeats itself.\nOtherwise fine."
    );
    assert_eq!(value_of(&browser, "#field-score").await, "4");
    assert_eq!(
        value_of(&browser, "#field-tags .repeat-item:nth-child(2) input").await,
        "blog"
    );
    assert_eq!(value_of(&browser, "#field-urgent").await, true);
    // The same save is the API's: the project shows it as the work in progress.
    let info = projects.information(id).await;
    let assignment = &info["tasks"]["check"]["assignments"][0];
    assert_eq!(assignment["worker"], "alice");
    assert_eq!(
        assignment["in_progress_task_data"],
        json!({"verdict": "accept", "summary": "Ready with two typos fixed",
               "notes": "Paragraph two repeats itself.\nOtherwise fine.", "score": 4,
               "tags": ["launch", "blog"], "urgent": true})
    );
    browser.screenshot("projects-task-form").await;

    // The work page lists it as theirs, and no longer offers it.
    browser.goto(&app.url("/ui/work")).await;
    browser
        .wait_for_text(&format!("#held tr[data-task='{task}']"), "Review the draft")
        .await;
    assert!(!browser.exists(&format!("#offer-{task}")).await);

    // Submit: the project goes on and completes with the review.
    browser.goto(&app.url(&format!("/ui/work/{task}"))).await;
    browser.click("#submit-work").await;
    browser.wait_for_text(".notice", "Submitted").await;
    assert!(
        browser
            .current_url()
            .await
            .ends_with("/ui/work?done=submitted")
    );
    assert!(
        !browser
            .exists(&format!("#held tr[data-task='{task}']"))
            .await
    );
    browser.goto(&app.url(&format!("/ui/projects/{id}"))).await;
    browser.wait_for_text("#project-status", "completed").await;
    browser
        .wait_for_text("#step-check .step-snapshot", "two typos fixed")
        .await;
    browser
        .wait_for_text("#step-publish .step-result", "two typos fixed")
        .await;
    browser
        .wait_for_text("#step-check .assignment", "alice")
        .await;
    browser.screenshot("projects-completed").await;
    let info = projects.information(id).await;
    assert_eq!(info["project"]["status"], "completed");
    assert_eq!(
        info["tasks"]["publish"]["latest_data"]["parents"][0]["summary"],
        "Ready with two typos fixed"
    );

    // The submitted task shows what was submitted, and takes no more work.
    browser.goto(&app.url(&format!("/ui/work/{task}"))).await;
    browser.wait_for_text("#task-closed", "submitted").await;
    browser
        .wait_for_text("#submission", "two typos fixed")
        .await;
    assert!(!browser.exists("#task-form").await);
    browser.close().await;
}

#[tokio::test]
async fn a_second_person_cannot_take_a_task_someone_claimed() {
    let projects = Projects::start().await;
    let app = &projects.app;
    let alice = app.key("alice", "projects.work").await;
    let bob_secret = person(app, "bob", "projects.work,projects.read").await;
    let first = projects
        .create(
            "decide",
            "Where to meet",
            3,
            json!({"options": ["park", "café"]}),
        )
        .await;
    let second = projects
        .create("decide", "When to meet", 1, json!({}))
        .await;
    let taken = projects.wait_for_human_task(first, "decide").await;
    let free = projects.wait_for_human_task(second, "decide").await;

    let (browser, _permit) = browser().await;
    sign_in(&browser, app, "bob", &bob_secret, "My work").await;
    browser.goto(&app.url("/ui/work")).await;
    browser
        .wait_for_text(&format!("#offer-{taken}"), "Where to meet")
        .await;

    // Alice claims the task while Bob's page still offers it.
    let claimed = projects.claim(&alice, taken).await;
    assert_eq!(claimed.status, 200, "{claimed:?}");
    assert_eq!(claimed.body["task"]["assignment"]["worker"], "alice");
    // Claiming it again through the API is refused too, saying why.
    let bob = Signer::new("bob", bob_secret.clone().into_bytes());
    let again = projects.claim(&bob, taken).await;
    assert_eq!(again.status, 409, "{again:?}");
    assert!(
        again
            .body
            .to_string()
            .contains("already claimed by someone else"),
        "{again:?}"
    );

    browser.click(&format!("#claim-{taken}")).await;
    browser
        .wait_for_text("#work-problem", "already claimed by someone else")
        .await;
    assert!(!browser.exists(&format!("#offer-{taken}")).await);
    assert!(browser.exists(&format!("#offer-{free}")).await);
    browser.screenshot("projects-claim-refused").await;

    // Alice's task is hers alone: Bob can neither see it nor save to it.
    browser.goto(&app.url(&format!("/ui/work/{taken}"))).await;
    browser.wait_for_text("h1", "403").await;
    browser
        .wait_for_text(".error-message", "claimed by someone else")
        .await;
    browser.goto(&app.url("/ui/work")).await;
    let csrf = browser.page_csrf().await;
    let save = format!("/ui/work/{taken}/save");
    let body = format!("csrf={csrf}&task_data=%7B%7D");
    assert_eq!(browser.post_form(&save, &body).await, 403);

    // Bob claims the other one; its step has no form, so he writes JSON, checked as he types.
    browser.click(&format!("#claim-{free}")).await;
    browser.wait_for("#task-data").await;
    browser.fill("#task-data", "{\"when\": ").await;
    browser
        .wait_for_text("#task-data-error", "not valid JSON")
        .await;
    browser.click("#submit-work").await;
    // The browser kept the form: nothing was sent.
    assert!(
        browser
            .current_url()
            .await
            .contains(&format!("/ui/work/{free}"))
    );
    assert!(browser.exists("#task-data-error:not([hidden])").await);
    browser.fill("#task-data", "{\"when\": \"noon\"}").await;
    browser.click("#submit-work").await;
    browser.wait_for_text(".notice", "Submitted").await;
    let info = projects.information(second).await;
    assert_eq!(
        info["tasks"]["decide"]["latest_data"],
        json!({"when": "noon"})
    );
    wait_for(
        Duration::from_secs(20),
        "the second project to complete",
        || async {
            (projects.information(second).await["project"]["status"] == "completed").then_some(())
        },
    )
    .await;

    // Alice still finishes hers.
    let submitted = app
        .client(alice.clone())
        .post(
            &format!("/orchestra/api/tasks/{taken}/submit"),
            &json!({"task_data": {"where": "park"}}),
        )
        .await;
    assert_eq!(submitted.status, 200, "{submitted:?}");
    browser.close().await;
}

#[tokio::test]
async fn a_form_declared_in_yaml_renders_its_fields_and_shows_the_servers_problems() {
    let projects = Projects::start().await;
    let app = &projects.app;
    let secret = person(app, "carol", "projects.work").await;
    let id = projects
        .create("review", "Review the pricing page", 0, json!({}))
        .await;
    let task = projects.wait_for_human_task(id, "check").await;

    let (browser, _permit) = browser().await;
    sign_in(&browser, app, "carol", &secret, "My work").await;
    browser.click(&format!("#claim-{task}")).await;
    browser.wait_for("#task-form").await;

    // Every property is its field, in the file's order, with its constraints.
    let fields = browser
        .execute(
            "return Array.from(document.querySelectorAll('#task-form [data-field]')).map(function (f) { return f.dataset.field + ':' + f.dataset.kind; });",
            vec![],
        )
        .await;
    assert_eq!(
        fields,
        json!([
            "verdict:choice",
            "summary:text",
            "reason:text",
            "notes:textarea",
            "score:integer",
            "tags:list",
            "urgent:boolean"
        ])
    );
    let options = browser
        .execute(
            "return Array.from(document.querySelectorAll('#field-verdict option')).map(function (o) { return o.value; });",
            vec![],
        )
        .await;
    assert_eq!(options, json!(["", "accept", "reject"]));
    let summary = browser.wait_for("#field-summary").await;
    assert_eq!(
        summary.attr("maxlength").await.unwrap().as_deref(),
        Some("80")
    );
    assert!(summary.attr("required").await.unwrap().is_some());
    let notes = browser.wait_for("#field-notes").await;
    assert_eq!(notes.tag_name().await.unwrap(), "textarea");
    browser
        .wait_for_text("#hint-verdict", "Accept the draft or send it back")
        .await;
    assert!(browser.exists("#field-tags [data-add]:not([hidden])").await);

    // The browser refuses what the form says is wrong before anything is sent.
    choose(&browser, "#field-verdict", "reject").await;
    browser.fill("#field-summary", "Needs another pass").await;
    browser.fill("#field-score", "9").await;
    let valid = browser
        .execute(
            "return document.getElementById('field-score').validity.valid;",
            vec![],
        )
        .await;
    assert_eq!(valid, json!(false), "a score over the maximum is invalid");
    browser.click("#submit-work").await;
    assert!(
        browser
            .current_url()
            .await
            .ends_with(&format!("/ui/work/{task}?done=claimed"))
    );
    browser.fill("#field-score", "2").await;

    // Rejecting needs a reason, which only the server's check knows: its problem is shown
    // next to the field, and what was typed is kept.
    browser.click("#submit-work").await;
    browser.wait_for_text("#error-reason", "required").await;
    assert!(browser.current_url().await.ends_with("/submit"));
    assert_eq!(
        value_of(&browser, "#field-summary").await,
        "Needs another pass"
    );
    assert_eq!(value_of(&browser, "#field-verdict").await, "reject");
    assert_eq!(value_of(&browser, "#field-score").await, "2");
    browser
        .wait_for_text("#form-problems", "fix the field marked below")
        .await;
    browser.screenshot("projects-task-form-problems").await;
    let info = projects.information(id).await;
    assert_eq!(info["tasks"]["check"]["status"], "Processing");

    // The API's submit runs the same check.
    let carol = Signer::new("carol", secret.clone().into_bytes());
    let refused = app
        .client(carol)
        .post(
            &format!("/orchestra/api/tasks/{task}/submit"),
            &json!({"task_data": {"verdict": "maybe", "summary": "x"}}),
        )
        .await;
    assert_eq!(refused.status, 400, "{refused:?}");
    assert!(
        refused.body.to_string().contains("task_data/verdict"),
        "{refused:?}"
    );

    // At a phone's width the task's context and its form stack, and nothing overflows.
    browser.client().set_window_size(390, 844).await.unwrap();
    browser.assert_no_sideways_scroll().await;
    browser.screenshot("projects-task-phone").await;
    browser
        .fill("#field-reason", "The prices in the table are last year's.")
        .await;
    browser.click("#submit-work").await;
    browser.wait_for_text(".notice", "Submitted").await;
    wait_for(
        Duration::from_secs(20),
        "the project to complete",
        || async {
            let info = projects.information(id).await;
            (info["project"]["status"] == "completed").then_some(info)
        },
    )
    .await;
    let info = projects.information(id).await;
    assert_eq!(
        info["tasks"]["check"]["latest_data"],
        json!({"verdict": "reject", "summary": "Needs another pass", "score": 2,
               "reason": "The prices in the table are last year's.", "urgent": false})
    );
    browser.close().await;
}

#[tokio::test]
async fn a_key_without_projects_work_gets_a_403_page_at_work() {
    let projects = Projects::start().await;
    let app = &projects.app;
    let secret = person(app, "viewer", "projects.read").await;
    let id = projects
        .create("decide", "Something to decide", 0, json!({}))
        .await;
    let task = projects.wait_for_human_task(id, "decide").await;

    let (browser, _permit) = browser().await;
    sign_in(&browser, app, "viewer", &secret, "Projects").await;
    assert!(
        !browser.exists("nav a[href='/ui/work']").await,
        "no link to a page the key may not use"
    );
    browser.goto(&app.url("/ui/work")).await;
    browser.wait_for_text("h1", "403").await;
    browser
        .wait_for_text(".error-message", "projects.work")
        .await;
    browser.goto(&app.url(&format!("/ui/work/{task}"))).await;
    browser.wait_for_text("h1", "403").await;

    browser.goto(&app.url("/ui/projects")).await;
    let csrf = browser.page_csrf().await;
    let claim = format!("/ui/work/{task}/claim");
    assert_eq!(
        browser.post_form(&claim, &format!("csrf={csrf}")).await,
        403
    );
    // Nothing was claimed.
    let info = projects.information(id).await;
    assert_eq!(info["tasks"]["decide"]["status"], "Awaiting Processing");
    // Unknown projects are the console's 404 page.
    browser.goto(&app.url("/ui/projects/987654")).await;
    browser.wait_for_text("h1", "404").await;
    let found = browser
        .client()
        .find(Locator::Css("main"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(found.contains("no project 987654"), "{found}");
    browser.close().await;
}
