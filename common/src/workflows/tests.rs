//! What the unit tests of the workflow modules share (compiling a text, reading the compiled
//! tasks), and the tests that span them: where errors point, and the example definitions.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::definition::WorkflowDefinition;
use super::error::DefinitionError;
use super::load::{compile_documents, load_dir, load_documents};
use crate::engine::executor::ExecutorSpec;
use crate::engine::model::TaskSpec;

/// Compiles `text` as `workflows.yml`, whatever handlers its tasks name (what names a
/// handler must have is tested on its own, with `load_str`).
pub(super) fn load(text: &str) -> Result<Vec<WorkflowDefinition>, DefinitionError> {
    compile_documents(Path::new(""), &[("workflows.yml".into(), text.to_owned())])
        .map(|(workflows, _)| workflows)
}

pub(super) fn workflow<'a>(
    workflows: &'a [WorkflowDefinition],
    name: &str,
) -> &'a WorkflowDefinition {
    workflows
        .iter()
        .find(|workflow| workflow.fullname == name)
        .unwrap_or_else(|| panic!("no workflow {name}"))
}

pub(super) fn keys(workflow: &WorkflowDefinition) -> Vec<&str> {
    let tasks = &workflow.definition.tasks;
    tasks.iter().map(|task| task.key.as_str()).collect()
}

pub(super) fn deps(workflow: &WorkflowDefinition) -> Vec<Vec<usize>> {
    let tasks = &workflow.definition.tasks;
    tasks.iter().map(|task| task.depends_on.clone()).collect()
}

pub(super) fn error(text: &str) -> String {
    load(text).unwrap_err().to_string()
}

pub(super) fn error_in(dir: &Path, text: &str) -> String {
    load_documents(dir, &[(PathBuf::from("x.yml"), text.to_owned())])
        .unwrap_err()
        .to_string()
}

pub(super) fn examples() -> Vec<WorkflowDefinition> {
    load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/definitions")).unwrap()
}

#[test]
fn errors_name_the_file_and_line() {
    let cases = [
        ("p.A:\n  tasks: [X\n", "workflows.yml:3:1: invalid YAML: "),
        (
            "p.A:\n  tasks: [X]\n  tasks: [Y]\n",
            "workflows.yml:2:3: invalid YAML: p.A: duplicate entry with key \"tasks\"",
        ),
        (
            "- p.A\n",
            "workflows.yml: a definition file must be a mapping",
        ),
        (
            "p.A:\n  tasks: []\n",
            "workflows.yml:1:1: workflow 'p.A': 'tasks' must be a non-empty list",
        ),
        (
            "p.A:\n  tasks: [X]\n\n# a comment\np.B:\n  tasks:\n    - G: {type: chord, tasks: [X]}\n",
            "workflows.yml:5:1: workflow 'p.B': 'G' has the unknown type 'chord': only 'group' is known",
        ),
        (
            "p.A:\n  tasks:\n    - G: {type: group}\n",
            "workflows.yml:1:1: workflow 'p.A': group 'G' has no tasks",
        ),
        (
            "p.A:\n  tasks:\n    - G: {type: group, tasks: []}\n",
            "workflows.yml:1:1: workflow 'p.A': group 'G' has no tasks",
        ),
        ("p.A:\n  tasks:\n    - G: {tasks: [X]}\n", "'G' has no type"),
        (
            "p.A:\n  tasks:\n    - G: {type: group, tasks: [X], mode: fast}\n",
            "unknown key 'mode' in group 'G'",
        ),
        (
            "p.A:\n  tasks:\n    - G: {type: group, tasks: [X, []]}\n",
            "an empty list (chain) inside a group",
        ),
        (
            "p.A:\n  tasks: [[X, Y]]\n",
            "a list among the workflow's tasks",
        ),
        (
            "p.A:\n  tasks: [X, 3]\n",
            "a task must be a name or a group, not a number",
        ),
        (
            "p.A:\n  tasks: [X]\n  periodic: {crontab: \"61 * * * *\"}\n",
            "workflows.yml:1:1: workflow 'p.A': invalid cron expression '61 * * * *'",
        ),
        (
            "p.A:\n  tasks: [X]\n  periodic: {schedule: \"0 0 9 * *\"}\n",
            "workflows.yml:1:1: workflow 'p.A': ",
        ),
        (
            "p.A:\n  tasks: [X]\n  periodic: {schedule: \"0 0 *\"}\n",
            "invalid legacy schedule",
        ),
        (
            "p.A:\n  tasks: [X]\n  periodic: {interval: 60, crontab: \"* * * * *\"}\n",
            "exactly one of 'interval', 'crontab' and 'schedule'",
        ),
        (
            "p.A:\n  tasks: [X]\n  periodic: {interval: 0}\n",
            "'interval' must be a positive",
        ),
        (
            "p.A:\n  tasks: [X]\n  periodic: {interval: 1.5}\n",
            "'interval' must be a positive",
        ),
        (
            "p.A:\n  tasks: [X]\n  periodic: {every: 60}\n",
            "unknown key 'every' in 'periodic'",
        ),
        (
            "nodot:\n  tasks: [X]\n",
            "workflows.yml:1:1: workflow 'nodot': a workflow's name must be 'project.NAME'",
        ),
        (
            "a.b.c:\n  tasks: [X]\n",
            "workflow 'a.b.c': a workflow's name must be",
        ),
        (
            ".A:\n  tasks: [X]\n",
            "workflow '.A': a workflow's name must be",
        ),
        (
            "p.A:\n  tasks: [X]\n  queue: \"bad queue\"\n",
            "invalid queue name 'bad queue'",
        ),
        (
            "p.A:\n  tasks: [X]\n  queue: {default: q1, customs: {X: \"a:b\"}}\n",
            "invalid queue name 'a:b'",
        ),
        (
            "p.A:\n  tasks: [X]\n  queue: human\n",
            "queue 'human' is a human queue",
        ),
        (
            "p.A:\n  tasks: [X]\n  queue: {customs: {X: human.review}}\n",
            "queue 'human.review' is a human queue",
        ),
        (
            "p.A:\n  tasks: [X]\n  queue: {customs: {Y: q2}}\n",
            "custom queue for 'Y', which is not a task of the workflow",
        ),
        (
            "p.A:\n  tasks: [X]\n  colour: red\n",
            "unknown key 'colour' in a workflow",
        ),
        (
            "p.A:\n  tasks: [\"two words\"]\n",
            "invalid task name 'two words'",
        ),
        (
            "p.A:\n  tasks: [X]\n  retention: {offset: -1}\n",
            "'retention.offset' must be",
        ),
        (
            "p.A:\n  tasks: [X]\nexecutors:\n  X: {type: command, argv: [\"true\"]}\n  Y: {type: teleport}\n",
            "workflows.yml:5:3: executor 'Y': unknown type 'teleport'",
        ),
        (
            "executors:\n  X:\n    type: report\n    report: r\n",
            "workflows.yml:2:3: executor 'X': unknown type 'report'",
        ),
        (
            "executors:\n  X: {argv: [\"true\"]}\n",
            "executor 'X': needs a 'type'",
        ),
        (
            "executors:\n  X: {type: command, argv: []}\n",
            "'argv' needs at least the program",
        ),
        (
            "executors:\n  X: {type: command, argv: [\"true\"], shell: true}\n",
            "executor 'X': unknown field `shell`",
        ),
        (
            "executors:\n  X: {type: http, url: u, retries: -1}\n",
            "'retries' must be a whole number",
        ),
        (
            "executors:\n  X: {type: http, url: u, timeout: 0}\n",
            "'timeout' must be a positive",
        ),
        (
            "executors: [X]\n",
            "workflows.yml:1:1: 'executors' must map task names",
        ),
    ];
    for (text, expected) in cases {
        let error = error(text);
        assert!(
            error.contains(expected),
            "{text:?}\n  got: {error}\n  expected: {expected}"
        );
    }
}

#[test]
fn the_example_definitions_load() {
    let workflows = examples();
    let names: Vec<&str> = workflows.iter().map(|w| w.fullname.as_str()).collect();
    assert_eq!(
        names,
        ["example.ETL", "example.HEARTBEAT", "example.RANDOMS"]
    );

    let etl = workflow(&workflows, "example.ETL");
    assert_eq!(
        keys(etl),
        ["EXTRACT", "TRANSFORM", "LOAD", "NOTIFY", "NOTIFY"]
    );
    assert_eq!(&deps(etl)[..3], [vec![], vec![0], vec![1]]);
    let schema = etl.schema.as_ref().expect("the ETL schema").json();
    assert_eq!(schema["type"], "object");
    assert!(
        schema.get("required").is_none(),
        "an empty payload is valid"
    );

    let randoms = workflow(&workflows, "example.RANDOMS");
    assert_eq!(keys(randoms), ["RANDOM", "RANDOM", "ADD"]);
    assert_eq!(deps(randoms), vec![vec![], vec![], vec![0, 1]]);

    let heartbeat = workflow(&workflows, "example.HEARTBEAT");
    let periodic = heartbeat.definition.periodic.as_ref().unwrap();
    assert_eq!(periodic.interval, Some(60));
    assert_eq!(periodic.payload, json!({"dry_run": false}));

    for w in &workflows {
        assert!(
            w.definition.run_spec(json!({})).validate().is_ok(),
            "{}",
            w.fullname
        );
        for task in &w.definition.tasks {
            assert_eq!(task.executor["type"], "command", "{}", task.key);
        }
    }
}

/// Runs a command task as the worker does: input in `BATON_PAYLOAD` and on stdin, result
/// file in `BATON_RESULT`. Returns the result, if it wrote one.
#[cfg(unix)]
fn run_example_task(task: &TaskSpec, scratch: &Path, input: &Value) -> Option<Value> {
    use std::io::Write;
    use std::process::{Command, Stdio};

    let ExecutorSpec::Command(command) = serde_json::from_value(task.executor.clone()).unwrap()
    else {
        panic!("{} is not a command", task.key);
    };
    let result = scratch.join("result.json");
    let _ = std::fs::remove_file(&result);
    let mut child = Command::new(&command.argv[0])
        .args(&command.argv[1..])
        .envs(&command.env)
        .env("BATON_PAYLOAD", input.to_string())
        .env("BATON_RESULT", &result)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let _ = stdin.write_all(input.to_string().as_bytes());
    drop(stdin);
    let status = child.wait().unwrap();
    assert!(status.success(), "{} failed: {status}", task.key);
    let text = std::fs::read_to_string(&result).ok()?;
    Some(
        serde_json::from_str(&text)
            .unwrap_or_else(|error| panic!("{} wrote {text:?}: {error}", task.key)),
    )
}

#[cfg(unix)]
#[test]
fn the_example_commands_run_under_sh() {
    let scratch = tempfile::tempdir().unwrap();
    for w in examples() {
        // Tasks come in dependency order: run each with its parents' results.
        let mut results: Vec<Value> = Vec::new();
        for task in &w.definition.tasks {
            let parents: Vec<Value> = task
                .depends_on
                .iter()
                .map(|&dep| results[dep].clone())
                .collect();
            let input = json!({
                "run_id": "run-1",
                // A payload with its own "parents" must not fool the scripts.
                "payload": {"source": "s3://bucket/key", "parents": [9]},
                "parents": parents,
            });
            let result = run_example_task(task, scratch.path(), &input);
            results.push(result.unwrap_or(Value::Null));
        }
        match w.fullname.as_str() {
            "example.ETL" => {
                assert_eq!(
                    results[..3],
                    [json!([1, 2, 3]), json!([2, 4, 6]), json!({"loaded": 3})]
                );
            }
            "example.RANDOMS" => {
                let (a, b) = (results[0].as_u64().unwrap(), results[1].as_u64().unwrap());
                assert!(a < 100 && b < 100, "{results:?}");
                assert_eq!(results[2], json!(a + b));
            }
            _ => {}
        }
    }
}
