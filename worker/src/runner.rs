//! The worker's loops: read jobs, start them, execute them concurrently, record their outcomes
//! in batches, and keep the worker visible while it runs.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use common::engine::failure::Failure;
use common::engine::model::{Priority, QueueName, RunStatus, TaskStatus};
use common::error::StoreError;
use common::keys::Shard;
use common::store::RedisConnection;
use common::store::engine::jobs::take::Taken;
use common::store::engine::jobs::{
    AttemptOutcome, FinishOutcome, Job, JobsRead, OutcomeCounts, StartOutcome, StartedTask,
};
use common::store::engine::runs::TaskReport;
use common::store::engine::timings::JobTiming;
use common::store::engine::workers::WorkerRecord;
use common::store::{Store, patiently};
use common::time::now_ms;
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::WorkerOptions;
use crate::context::{TaskContext, TaskEvent};
use crate::execute::{Executors, outcome_of};
use crate::executors::report::ReportSettings;
use crate::handlers::HandlerRegistry;
use crate::inflight::{InFlightSet, StopReason};
use crate::paused::{PAUSED_REFRESH, PausedQueues};
use crate::slots::{Slot, SlotPool};
use common::reports::artefacts::ArtefactStore;
use common::reports::repo::ReportsRepo;

/// Most outcomes recorded in one batch.
const FINISH_BATCH: usize = 512;
/// How often a reader queued for slots behind others asks its shard for more urgent work.
const RANK_RECHECK: Duration = Duration::from_millis(100);
/// How long a busy worker waits for more outcomes before recording a batch.
const FINISH_LINGER: Duration = Duration::from_millis(2);
/// Outcomes in one batch from which the worker counts as busy.
const BUSY_BATCH: usize = 8;
/// Most jobs one reader reads and starts at once.
const READ_BATCH: usize = 512;
/// Most reports (log lines, progress) recorded in one batch.
const REPORT_BATCH: usize = 512;
/// Pause before retrying after Redis failed.
const REDIS_RETRY_PAUSE: Duration = Duration::from_millis(500);

/// Why the worker could not run.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// Redis failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The settings are invalid.
    #[error(transparent)]
    Invalid(#[from] common::error::InvalidInput),
    /// The outbound HTTP client could not be built.
    #[error(transparent)]
    Outbound(#[from] common::outbound::OutboundBuildError),
}

/// An attempt that ended, on its way to be recorded.
struct Completion {
    job: Job,
    /// The task's name, for the logs.
    key: String,
    outcome: Option<AttemptOutcome>,
    timing: JobTiming,
    /// Held until the outcome is recorded, then freed with the batch's others.
    slot: Slot,
}

/// A worker: consumes queues and executes their jobs. Build it with [`Worker::new`], register
/// handlers before, and run it with [`Worker::run`].
#[derive(Debug)]
pub struct Worker {
    store: Store,
    options: WorkerOptions,
    queues: Vec<QueueName>,
    id: String,
    executors: Executors,
    inflight: InFlightSet,
    done: Arc<AtomicU64>,
    /// Attempts started and not yet ended: while none is, the outcomes to record are all in,
    /// and the recorder does not wait for more.
    executing: AtomicUsize,
    /// Reports (log lines, progress) tasks have sent, and how many of them are written: an
    /// outcome is recorded only once every report sent before it is written.
    reports_sent: Arc<AtomicU64>,
    reports_written: watch::Sender<u64>,
}

impl Worker {
    /// Connects to Redis and prepares the queues; `handlers` serve `handler` tasks.
    pub async fn new(
        options: WorkerOptions,
        handlers: HandlerRegistry,
    ) -> Result<Self, WorkerError> {
        let queues = options.queue_names()?;
        let patience = options.startup.connect_patience();
        let store = Store::connect_patiently(&options.store, patience).await?;
        let redis = common::store::redacted_url(&options.store.redis_url);
        patiently(&redis, "preparing the queues", patience, || async {
            for queue in &queues {
                store.ensure_queue(queue).await?;
            }
            Ok(())
        })
        .await?;
        let host = hostname::get()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        let id = options.worker_id.clone().unwrap_or_else(|| {
            format!(
                "{host}-{}-{}",
                std::process::id(),
                &uuid::Uuid::new_v4().simple().to_string()[..6]
            )
        });
        Ok(Self {
            store: store.clone(),
            queues,
            id,
            executors: Executors {
                handlers,
                http: options.outbound.client()?,
                reports: report_settings(&options)?,
                store,
            },
            inflight: InFlightSet::default(),
            done: Arc::default(),
            executing: AtomicUsize::new(0),
            reports_sent: Arc::default(),
            reports_written: watch::Sender::new(0),
            options,
        })
    }

    /// This worker's id (its consumer name in every group).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Runs until `shutdown` is cancelled, then stops reading, lets in-flight jobs finish
    /// within the grace period, stops the rest (leaving their jobs pending for another
    /// worker) and returns.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), WorkerError> {
        let worker = Arc::new(self);
        tracing::info!(worker = %worker.id, queues = ?worker.options.queues, concurrency = worker.options.concurrency, "worker started");
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        let background = CancellationToken::new();
        let started_ms = now_ms();

        let reporter = tokio::spawn(record_reports(
            worker.store.clone(),
            events_rx,
            worker.reports_written.clone(),
        ));
        let completer = tokio::spawn(Arc::clone(&worker).record_outcomes(done_rx));
        let heartbeat =
            tokio::spawn(Arc::clone(&worker).keep_alive(started_ms, background.clone()));
        let listener = tokio::spawn(Arc::clone(&worker).listen_for_cancels(background.clone()));

        let executions = TaskTracker::new();
        let slots = SlotPool::new(worker.options.concurrency.max(1));
        // One reader per shard: each blocks on its own shard's streams, so a job on any shard
        // is taken at once, and each starts what it reads with one script call.
        let readers: Vec<_> = worker
            .store
            .keys()
            .shards()
            .map(|shard| {
                let reader = ShardReader {
                    worker: Arc::clone(&worker),
                    shard,
                    shutdown: shutdown.clone(),
                    slots: slots.clone(),
                    events: events_tx.clone(),
                    done: done_tx.clone(),
                    executions: executions.clone(),
                };
                tokio::spawn(reader.run())
            })
            .collect();
        for reader in readers {
            let _ = reader.await;
        }
        executions.close();

        let grace = Duration::from_secs(worker.options.shutdown_grace_secs);
        let in_flight = worker.inflight.len();
        if in_flight > 0 {
            tracing::info!(worker = %worker.id, in_flight, grace_secs = grace.as_secs(), "shutting down: reading stopped; waiting up to {} s for {in_flight} running job(s) to finish", grace.as_secs());
        } else {
            tracing::info!(worker = %worker.id, "shutting down: reading stopped; no job running");
        }
        if tokio::time::timeout(grace, executions.wait())
            .await
            .is_err()
        {
            tracing::warn!(worker = %worker.id, left = worker.inflight.len(), "grace period over: stopping jobs and leaving them for another worker");
            worker.inflight.stop_all(StopReason::Shutdown);
            executions.wait().await;
        }
        drop(done_tx);
        drop(events_tx);
        let _ = completer.await;
        let _ = reporter.await;
        background.cancel();
        let _ = heartbeat.await;
        let _ = listener.await;
        worker.store.remove_worker(&worker.id).await?;
        tracing::info!(worker = %worker.id, done = worker.done.load(Ordering::Relaxed), "worker stopped");
        Ok(())
    }

    /// The tasks of run `run_id` that failed for good, for its hooks' input:
    /// `[{"task", "exception", "traceback"}]` (empty when none did or the run cannot be read).
    async fn failed_tasks(&self, run_id: &str) -> Value {
        let run = match self.store.get_run(run_id).await {
            Ok(run) => run,
            Err(error) => {
                tracing::warn!(run = %run_id, cause = %error, "cannot read the run's failures for its hook");
                None
            }
        };
        let failed: Vec<Value> = run
            .iter()
            .flat_map(|run| &run.tasks)
            .filter(|task| !task.is_hook && task.status == TaskStatus::Error)
            .map(|task| {
                let failure = Failure::from_error(task.error.as_deref().unwrap_or_default());
                json!({
                    "task": task.key,
                    "exception": failure.exception,
                    "traceback": failure.traceback,
                })
            })
            .collect();
        Value::Array(failed)
    }

    async fn execute(
        self: Arc<Self>,
        job: Job,
        task: StartedTask,
        events: mpsc::UnboundedSender<TaskEvent>,
        done: mpsc::UnboundedSender<Completion>,
        slot: Slot,
    ) {
        let stop = self.inflight.insert(job.clone(), &task.key);
        let mut input = json!({
            "run_id": job.job.run_id,
            "payload": task.payload,
            "parents": task.parent_results,
        });
        if task.is_hook {
            input["failed"] = self.failed_tasks(&job.job.run_id).await;
        }
        let ctx = TaskContext::new(
            job.job.run_id.clone(),
            task.key.clone(),
            job.job.task,
            job.job.attempt,
            input,
            stop.token.clone(),
            events,
        )
        .counting_into(Arc::clone(&self.reports_sent));
        let timer = task.timeout_secs.map(|secs| {
            let stop = stop.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(secs)).await;
                stop.stop(StopReason::TimedOut);
            })
        });
        let (started_ms, started) = (now_ms(), std::time::Instant::now());
        let result = self.executors.execute(&task, &ctx).await;
        let timing = JobTiming::new(
            job.queue.clone(),
            &job.entry_id,
            started_ms,
            started.elapsed(),
        );
        if let Some(timer) = timer {
            timer.abort();
        }
        if let Err(error) = &result {
            ctx.log(format!("attempt {} failed: {error}", job.job.attempt));
        }
        let outcome = outcome_of(
            result,
            stop.reason(),
            &task,
            job.job.attempt,
            &self.options.backoff(),
        );
        self.executing.fetch_sub(1, Ordering::SeqCst);
        let _ = done.send(Completion {
            job,
            key: task.key,
            outcome,
            timing,
            slot,
        });
    }

    async fn record_outcomes(
        self: Arc<Self>,
        mut completions: mpsc::UnboundedReceiver<Completion>,
    ) {
        let mut conn = None;
        let mut batch = Vec::with_capacity(FINISH_BATCH);
        let mut busy = false;
        while completions.recv_many(&mut batch, FINISH_BATCH).await > 0 {
            // Under load, wait a moment for more outcomes: one script call then records many,
            // and the slots it frees come back together, so reads are batched too. An idle
            // worker records each outcome at once, and so does a busy one once no attempt is
            // running: the outcomes are all in, and waiting would only hold their slots.
            if busy {
                let deadline = tokio::time::Instant::now() + FINISH_LINGER;
                while batch.len() < FINISH_BATCH && self.executing.load(Ordering::SeqCst) > 0 {
                    let room = FINISH_BATCH - batch.len();
                    let more = completions.recv_many(&mut batch, room);
                    match tokio::time::timeout_at(deadline, more).await {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {}
                    }
                }
            }
            busy = batch.len() >= BUSY_BATCH;
            // What the tasks logged is written before their outcomes: a finished run's log is
            // complete when its status says so.
            let sent = self.reports_sent.load(Ordering::SeqCst);
            let mut written = self.reports_written.subscribe();
            let _ = written.wait_for(|written| *written >= sent).await;
            let finished: Vec<(Job, AttemptOutcome)> = batch
                .iter()
                .filter_map(|done| {
                    done.outcome
                        .clone()
                        .map(|outcome| (done.job.clone(), outcome))
                })
                .collect();
            let keys: Vec<&str> = batch
                .iter()
                .filter(|done| done.outcome.is_some())
                .map(|done| done.key.as_str())
                .collect();
            // Keep trying while Redis is away: the jobs stay pending until their outcome is
            // recorded, and this worker must not take new ones in the meantime.
            let mut counts = OutcomeCounts::default();
            for attempt in 0u32.. {
                let result = match &mut conn {
                    Some(conn) => self.store.finish_jobs_counted(conn, &finished).await,
                    None => match self.store.dedicated_connection().await {
                        Ok(new) => {
                            let conn = conn.insert(new);
                            self.store.finish_jobs_counted(conn, &finished).await
                        }
                        Err(error) => Err(error),
                    },
                };
                match result {
                    Ok((recorded, counted)) => {
                        log_failures(&finished, &keys, &recorded);
                        counts = counted;
                        break;
                    }
                    Err(error) => {
                        tracing::error!(cause = %error, attempt, jobs = finished.len(), "recording outcomes failed; retrying");
                        conn = None;
                        tokio::time::sleep(REDIS_RETRY_PAUSE).await;
                    }
                }
            }
            // Attempts left to another worker at shutdown did not end: they are timed there.
            let timings: Vec<JobTiming> = batch
                .iter()
                .filter(|done| done.outcome.is_some())
                .map(|done| done.timing.clone())
                .collect();
            let mut freed = Vec::with_capacity(batch.len());
            for done in batch.drain(..) {
                self.inflight.remove(&done.job);
                if done.outcome.is_some() {
                    self.done.fetch_add(1, Ordering::Relaxed);
                }
                freed.push(done.slot);
            }
            SlotPool::release_together(freed);
            // Once the slots are free: metrics never hold up the jobs they describe.
            if let Err(error) = self.store.record_job_metrics(counts, &timings).await {
                tracing::warn!(cause = %error, lost = timings.len(), "could not record job metrics");
            }
        }
    }

    async fn keep_alive(self: Arc<Self>, started_ms: u64, stop: CancellationToken) {
        let period = self.options.heartbeat();
        let mut conn = None;
        loop {
            if let Err(error) = self.beat(started_ms, period, &mut conn).await {
                tracing::warn!(cause = %error, "heartbeat failed");
                conn = None;
            }
            tokio::select! {
                _ = tokio::time::sleep(period) => {}
                _ = stop.cancelled() => return,
            }
        }
    }

    /// One heartbeat: registry record, keep long jobs claimed, stop attempts of canceled runs
    /// (in case the cancel message was missed).
    async fn beat(
        &self,
        started_ms: u64,
        period: Duration,
        conn: &mut Option<RedisConnection>,
    ) -> Result<(), StoreError> {
        let jobs = self.inflight.jobs();
        let record = WorkerRecord {
            id: self.id.clone(),
            host: hostname::get()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default(),
            pid: std::process::id(),
            queues: self.queues.iter().map(ToString::to_string).collect(),
            started_ms,
            last_seen_ms: now_ms(),
            in_flight: jobs.len(),
            done: self.done.load(Ordering::Relaxed),
            concurrency: self.options.concurrency.max(1),
            jobs,
            heartbeat_ms: period.as_millis() as u64,
        };
        self.store.heartbeat(&record).await?;
        let long_running = self.inflight.older_than(period);
        if long_running.is_empty() {
            return Ok(());
        }
        let conn = match conn {
            Some(conn) => conn,
            None => conn.insert(self.store.dedicated_connection().await?),
        };
        let jobs: Vec<Job> = long_running
            .iter()
            .map(|attempt| attempt.job.clone())
            .collect();
        self.store.touch_jobs(conn, &self.id, &jobs).await?;
        let run_ids: Vec<String> = jobs.iter().map(|job| job.job.run_id.clone()).collect();
        for (run_id, status) in run_ids.iter().zip(self.store.run_statuses(&run_ids).await?) {
            if matches!(status, None | Some(RunStatus::Canceled)) {
                self.inflight.stop_run(run_id, StopReason::Canceled);
            }
        }
        Ok(())
    }

    async fn listen_for_cancels(self: Arc<Self>, stop: CancellationToken) {
        let channel = self.store.keys().cancel_channel();
        while !stop.is_cancelled() {
            let listened = async {
                let mut pubsub = self.store.pubsub().await?;
                pubsub
                    .subscribe(&channel)
                    .await
                    .map_err(common::error::StoreError::from)?;
                let mut messages = pubsub.on_message();
                while let Some(message) = messages.next().await {
                    if let Ok(run_id) = message.get_payload::<String>() {
                        let stopped = self.inflight.stop_run(&run_id, StopReason::Canceled);
                        if stopped > 0 {
                            tracing::info!(run = %run_id, stopped, "run canceled: stopping its tasks");
                        }
                    }
                }
                Ok::<(), common::error::StoreError>(())
            };
            tokio::select! {
                result = listened => if let Err(error) = result {
                    tracing::warn!(cause = %error, "cancel listener lost Redis; reconnecting");
                },
                _ = stop.cancelled() => return,
            }
            tokio::time::sleep(REDIS_RETRY_PAUSE).await;
        }
    }
}

/// What a reader queued for slots came away with.
enum Acquired {
    /// Slots to read jobs into.
    Slots(Vec<Slot>),
    /// Nothing yet: its shard now has work of this more urgent priority, so it queues again
    /// with that rank.
    MoreUrgent(Priority),
}

/// Reads the jobs of one shard for a worker and starts them.
struct ShardReader {
    worker: Arc<Worker>,
    shard: Shard,
    shutdown: CancellationToken,
    slots: SlotPool,
    events: mpsc::UnboundedSender<TaskEvent>,
    done: mpsc::UnboundedSender<Completion>,
    executions: TaskTracker,
}

impl ShardReader {
    /// Reads until shutdown. While the shard has no job waiting it waits for one without
    /// taking it; once it has, it takes free slots (the most urgent shard first), reads as
    /// many jobs as it got slots, starts them with one script call and executes those that
    /// started. A job the wait was woken for is read and started by one script call.
    async fn run(self) {
        let store = &self.worker.store;
        let mut read_conn = None;
        let mut round = 0u64;
        let mut paused = PausedQueues::default();
        // The most urgent priority the shard is known to have waiting, if any, and the one
        // to read from: the one a wait found, or high after a full batch.
        let mut waiting = None;
        let mut read_from = Priority::High;
        // The job the last wait was woken for, taken in one step with its slot.
        let mut seen = Vec::new();
        while !self.shutdown.is_cancelled() {
            let queues = paused.active(store, &self.worker.queues).await;
            if queues.is_empty() {
                tokio::select! {
                    _ = tokio::time::sleep(PAUSED_REFRESH) => continue,
                    _ = self.shutdown.cancelled() => return,
                }
            }
            let conn = match &mut read_conn {
                Some(conn) => conn,
                None => match store.dedicated_connection().await {
                    Ok(conn) => read_conn.insert(conn),
                    Err(error) => {
                        tracing::error!(cause = %error, "cannot connect to Redis");
                        tokio::time::sleep(REDIS_RETRY_PAUSE).await;
                        continue;
                    }
                },
            };
            let Some(priority) = waiting else {
                // Bounded, so a resumed queue is read again within about a second.
                let block_ms = self
                    .worker
                    .options
                    .block_ms
                    .min(PAUSED_REFRESH.as_millis() as u64);
                let woken = tokio::select! {
                    woken = store.wait_for_jobs(conn, self.shard, &queues, block_ms) => woken,
                    _ = self.shutdown.cancelled() => return,
                };
                match woken {
                    Ok(Some(woken)) => {
                        if self.slots.available() == 0 {
                            // Every slot is busy: another worker may have one free now.
                            if let Err(error) = store.pass_wake(conn, &woken).await {
                                tracing::warn!(cause = %error, shard = %self.shard, "passing a wake-up on failed");
                            }
                        }
                        waiting = Some(woken.priority);
                        read_from = woken.priority;
                        seen = woken.seen;
                    }
                    Ok(None) => {}
                    Err(error) => {
                        tracing::error!(cause = %error, shard = %self.shard, "waiting for jobs failed");
                        read_conn = None;
                        tokio::time::sleep(REDIS_RETRY_PAUSE).await;
                    }
                }
                continue;
            };
            let slots = tokio::select! {
                acquired = self.acquire_slots(conn, &queues, priority) => acquired,
                _ = self.shutdown.cancelled() => return,
            };
            let mut slots = match slots {
                Acquired::Slots(slots) => slots,
                Acquired::MoreUrgent(found) => {
                    waiting = Some(found);
                    read_from = found;
                    seen.clear();
                    continue;
                }
            };
            round += 1;
            let seen_now = std::mem::take(&mut seen);
            let read = if seen_now.is_empty() {
                self.read(
                    conn,
                    &mut paused,
                    &queues,
                    slots.len(),
                    round,
                    (read_from, priority),
                )
                .await
            } else {
                self.take(conn, &mut paused, &seen_now, slots.len()).await
            };
            let Some(read) = read else {
                SlotPool::release_together(slots);
                read_conn = None;
                tokio::time::sleep(REDIS_RETRY_PAUSE).await;
                continue;
            };
            // As many jobs as slots: the shard may have more, of the last one's priority or
            // lower. While other readers wait for slots, what is left (and how urgent) is asked
            // again first, so a shard with only low jobs left never takes a slot before one
            // with high jobs.
            waiting = match read.last() {
                Some((last, _)) if read.len() == slots.len() && !self.slots.contended() => {
                    Some(last.priority)
                }
                _ => None,
            };
            read_from = Priority::High;
            // The slots the read did not fill go back together.
            SlotPool::release_together(slots.split_off(read.len().min(slots.len())));
            if read.is_empty() {
                continue;
            }
            let (started, unstarted): (Vec<_>, Vec<_>) =
                read.into_iter().partition(|(_, outcome)| outcome.is_some());
            let (unstarted, unstarted_slots): (Vec<Job>, Vec<Slot>) = unstarted
                .into_iter()
                .map(|(job, _)| job)
                .zip(slots.split_off(started.len()))
                .unzip();
            let started = started
                .into_iter()
                .filter_map(|(job, outcome)| Some((job, outcome?)));
            self.launch(started, slots);
            if unstarted.is_empty() {
                continue;
            }
            match store.start_jobs(conn, &unstarted, &self.worker.id).await {
                Ok(outcomes) => self.launch(unstarted.into_iter().zip(outcomes), unstarted_slots),
                Err(error) => {
                    // The jobs stay pending under this worker; they are redelivered if it dies,
                    // and reclaimed after the visibility timeout otherwise.
                    tracing::error!(cause = %error, jobs = unstarted.len(), "starting jobs failed");
                    SlotPool::release_together(unstarted_slots);
                    read_conn = None;
                }
            }
        }
    }

    /// Reads up to `max` jobs of `queues` from `read_from` down to `least`, the priority its
    /// slots were taken for (see [`Store::read_jobs`]), and keeps those whose queue was not
    /// paused meanwhile; `None` when Redis failed.
    async fn read(
        &self,
        conn: &mut RedisConnection,
        paused: &mut PausedQueues,
        queues: &[QueueName],
        max: usize,
        round: u64,
        (read_from, least): (Priority, Priority),
    ) -> Option<Vec<(Job, Option<StartOutcome>)>> {
        let store = &self.worker.store;
        let read = store
            .read_jobs(
                conn,
                self.shard,
                queues,
                &self.worker.id,
                max,
                round,
                read_from,
                least,
            )
            .await;
        let JobsRead {
            jobs,
            paused: paused_now,
        } = match read {
            Ok(read) => read,
            Err(error) => {
                tracing::error!(cause = %error, shard = %self.shard, "reading jobs failed");
                return None;
            }
        };
        let jobs = if jobs.is_empty() {
            jobs
        } else {
            paused.keep_unpaused(store, conn, jobs, paused_now).await
        };
        Some(jobs.into_iter().map(|job| (job, None)).collect())
    }

    /// Reads up to `max` jobs of the stream of `seen` (the job a wait was woken for) and starts
    /// the seen one in one script call (see [`Store::take_jobs`]); `None` when Redis failed.
    async fn take(
        &self,
        conn: &mut RedisConnection,
        paused: &mut PausedQueues,
        seen: &[Job],
        max: usize,
    ) -> Option<Vec<(Job, Option<StartOutcome>)>> {
        match self
            .worker
            .store
            .take_jobs(conn, self.shard, seen, &self.worker.id, max)
            .await
        {
            Ok(Taken::Read(taken)) => Some(taken),
            Ok(Taken::Paused) => {
                // Paused since the paused set was last read: read it again before waiting.
                paused.read_again();
                Some(Vec::new())
            }
            Err(error) => {
                tracing::error!(cause = %error, shard = %self.shard, "taking jobs failed");
                None
            }
        }
    }

    /// Executes the jobs that started, each with its slot; frees together the slots of
    /// those that did not.
    fn launch(&self, outcomes: impl IntoIterator<Item = (Job, StartOutcome)>, slots: Vec<Slot>) {
        let mut unused = Vec::new();
        for ((job, outcome), slot) in outcomes.into_iter().zip(slots) {
            match outcome {
                StartOutcome::Start(task) => {
                    let worker = Arc::clone(&self.worker);
                    let events = self.events.clone();
                    let done = self.done.clone();
                    self.worker.executing.fetch_add(1, Ordering::SeqCst);
                    self.executions
                        .spawn(async move { worker.execute(job, task, events, done, slot).await });
                }
                StartOutcome::DeadLettered => {
                    unused.push(slot);
                    tracing::warn!(run = %job.job.run_id, task = job.job.task, queue = %job.queue, "task had failed for good before a restart; job moved to the dead letters")
                }
                other => {
                    unused.push(slot);
                    tracing::debug!(run = %job.job.run_id, task = job.job.task, outcome = ?other, "job not started")
                }
            }
        }
        SlotPool::release_together(unused);
    }

    /// Waits for slots for work of `priority`. While it waits behind others it asks its shard
    /// again every [`RANK_RECHECK`], and gives up its place when more urgent work has arrived
    /// there, so a job sent after the reader queued still goes before less urgent ones.
    async fn acquire_slots(
        &self,
        conn: &mut RedisConnection,
        queues: &[QueueName],
        priority: Priority,
    ) -> Acquired {
        let acquire = self.slots.acquire(priority, READ_BATCH);
        tokio::pin!(acquire);
        if priority == Priority::High {
            return Acquired::Slots(acquire.await);
        }
        loop {
            tokio::select! {
                slots = &mut acquire => return Acquired::Slots(slots),
                _ = tokio::time::sleep(RANK_RECHECK) => {}
            }
            let found = tokio::select! {
                slots = &mut acquire => return Acquired::Slots(slots),
                found = self.worker.store.more_urgent_waiting(conn, self.shard, queues, priority) => found,
            };
            match found {
                Ok(Some(more_urgent)) => return Acquired::MoreUrgent(more_urgent),
                Ok(None) => {}
                Err(error) => {
                    tracing::warn!(cause = %error, shard = %self.shard, "checking for more urgent jobs failed");
                }
            }
        }
    }
}

/// Logs, at `warn`, the attempts of a recorded batch that failed: those to be retried and
/// those that failed for good (their jobs now in the dead letters), with run, task and reason.
fn log_failures(finished: &[(Job, AttemptOutcome)], keys: &[&str], recorded: &[FinishOutcome]) {
    for (((job, outcome), task), recorded) in finished.iter().zip(keys).zip(recorded) {
        let (run, attempt) = (&job.job.run_id, job.job.attempt);
        match (outcome, recorded) {
            (AttemptOutcome::Retry { error, due_ms }, FinishOutcome::Retrying) => {
                let in_ms = due_ms.saturating_sub(now_ms());
                tracing::warn!(run = %run, task = %task, attempt, queue = %job.queue, reason = %error, retry_in_ms = in_ms, "task attempt failed; retry scheduled");
            }
            (AttemptOutcome::Failed(error), FinishOutcome::Failed) => {
                tracing::warn!(run = %run, task = %task, attempt, queue = %job.queue, reason = %error, "task failed for good; job moved to the dead letters");
            }
            _ => {}
        }
    }
}

/// The reports settings, when a reports repository is configured.
fn report_settings(options: &WorkerOptions) -> Result<Option<ReportSettings>, WorkerError> {
    let Some(repo) = &options.reports_repo else {
        return Ok(None);
    };
    let artefacts = ArtefactStore::open(&options.artefacts)
        .map_err(|error| common::error::InvalidInput::new(format!("artefact store: {error}")))?;
    let work_dir = options
        .work_dir
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join("baton-runs"));
    Ok(Some(ReportSettings {
        repo: ReportsRepo::new(repo),
        artefacts,
        work_dir,
    }))
}

/// Writes what running tasks report, batching whatever has arrived.
async fn record_reports(
    store: Store,
    mut events: mpsc::UnboundedReceiver<TaskEvent>,
    written: watch::Sender<u64>,
) {
    let mut batch = Vec::with_capacity(REPORT_BATCH);
    while events.recv_many(&mut batch, REPORT_BATCH).await > 0 {
        let reports: Vec<(String, u32, TaskReport)> = batch
            .drain(..)
            .map(|event| (event.run_id, event.task, event.report))
            .collect();
        if let Err(error) = store.record_reports(&reports).await {
            tracing::warn!(cause = %error, lost = reports.len(), "could not record task reports");
        }
        written.send_modify(|written| *written += reports.len() as u64);
    }
}
