//! An embedded worker with a Rust handler: submits a two-task run (`greet` then `shout`) and
//! executes it in the same process, printing the result.
//!
//! Run it against any Redis (for example the one `scripts/run` starts on port 6390):
//!
//! ```sh
//! BATON_REDIS_URL=redis://127.0.0.1:6390 cargo run -p worker --example embedded
//! ```

use std::time::Duration;

use clap::Parser;
use common::engine::model::{QueueName, RunKind, RunSpec, RunStatus, TaskSpec};
use common::store::Store;
use serde_json::json;
use tokio_util::sync::CancellationToken;
use worker::{HandlerRegistry, TaskError, Worker, WorkerOptions};

fn handler_task(key: &str, handler: &str, depends_on: Vec<usize>) -> TaskSpec {
    TaskSpec {
        key: key.into(),
        executor: json!({"type": "handler", "name": handler}),
        depends_on,
        queue: Some(QueueName::parse("embedded").expect("valid queue name")),
        max_retries: 2,
        timeout_secs: Some(10),
        is_hook: false,
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let options = WorkerOptions::parse_from(["embedded", "--queues", "embedded"]);

    let mut handlers = HandlerRegistry::new();
    handlers.register("greet", |ctx| async move {
        let name = ctx.input["payload"]["name"]
            .as_str()
            .unwrap_or("world")
            .to_owned();
        ctx.log(format!("greeting {name}"));
        ctx.progress(50);
        Ok(Some(json!(format!("hello, {name}"))))
    });
    handlers.register("shout", |ctx| async move {
        // A task receives its parents' results, in dependency order.
        let greeting = ctx.input["parents"][0]
            .as_str()
            .ok_or_else(|| TaskError::Invalid("expected a greeting from the parent task".into()))?;
        Ok(Some(json!(greeting.to_uppercase())))
    });

    let store = Store::connect(&options.store).await?;
    let run_id = store
        .create_run(&RunSpec {
            id: None,
            definition: "example.GREETING".into(),
            kind: RunKind::Workflow,
            payload: json!({"name": "baton"}),
            tasks: vec![
                handler_task("GREET", "greet", vec![]),
                handler_task("SHOUT", "shout", vec![0]),
            ],
            queue: QueueName::default(),
            priority: Default::default(),
            periodic: false,
            not_before_ms: None,
            hooks: Default::default(),
        })
        .await?;

    let shutdown = CancellationToken::new();
    let worker = tokio::spawn(Worker::new(options, handlers).await?.run(shutdown.clone()));
    let run = loop {
        let run = store.get_run(&run_id).await?.ok_or("the run vanished")?;
        if run.status.is_finished() {
            break run;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    shutdown.cancel();
    worker.await??;

    println!("run {run_id}: {}", run.status);
    for task in &run.tasks {
        println!(
            "  {} {} -> {}",
            task.key,
            task.status,
            task.result.clone().unwrap_or_default()
        );
    }
    if run.status == RunStatus::Success {
        Ok(())
    } else {
        Err("the run did not succeed".into())
    }
}
