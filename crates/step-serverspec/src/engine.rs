//! Running a set of checks against one target: a first round that observes
//! everything at once (in-process tasks locally, batched scripts remotely),
//! then patient re-runs of the checks that failed and asked for `retries`
//! or `wait_for`. Concurrency is bounded; results come back in spec order.

use std::sync::Arc;
use std::time::{Duration, Instant};

use step_core::{CheckResult, Status, StepContext};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::check::Check;
use crate::local::{self, HttpClients, LocalRound};
use crate::observe::{Observation, results};
use crate::remote::{self, RemoteTarget};

/// Default pause between retries when no `wait_for.interval` is given.
const RETRY_INTERVAL: Duration = Duration::from_secs(1);

/// How checks observe their target.
pub enum Observer {
    /// This machine, in-process where possible.
    Local(HttpClients),
    /// A host over ssh or a container via docker exec, in batches.
    Remote(RemoteTarget),
}

impl Observer {
    /// The group prefix of this target's results ("" locally, "host: " remotely).
    fn group_prefix(&self) -> String {
        match self {
            Observer::Local(_) => String::new(),
            Observer::Remote(t) => format!("{}: ", t.host),
        }
    }
}

type Observed = (Result<Observation, String>, Duration);

/// Runs checks against one target.
pub struct Engine {
    observer: Arc<Observer>,
    cx: Arc<StepContext>,
    concurrency: usize,
}

impl Engine {
    /// An engine for one target; `concurrency` bounds the checks (or
    /// batches) in flight at once.
    pub fn new(observer: Observer, cx: StepContext, concurrency: usize) -> Self {
        Engine {
            observer: Arc::new(observer),
            cx: Arc::new(cx),
            concurrency: concurrency.max(1),
        }
    }

    /// Runs every check; one result per assertion, in spec order.
    pub async fn run(&self, checks: &[Arc<Check>]) -> Vec<CheckResult> {
        let prefix = self.observer.group_prefix();
        let group = |c: &Check| format!("{prefix}{}", c.origin.file);
        let started = Instant::now();
        let first = self.observe_all(checks).await;
        let mut verdicts: Vec<Vec<CheckResult>> = Vec::with_capacity(checks.len());
        let mut retries: JoinSet<(usize, Vec<CheckResult>)> = JoinSet::new();
        for (i, (check, (obs, took))) in checks.iter().zip(first).enumerate() {
            let res = results(check, &obs, took, &group(check));
            if !all_passed(&res) && check.may_retry() && !self.cx.cancel().is_cancelled() {
                let (observer, cx, check) = (self.observer.clone(), self.cx.clone(), check.clone());
                let g = group(&check);
                retries
                    .spawn(async move { (i, retry(observer, cx, check, started, res, g).await) });
                verdicts.push(Vec::new());
            } else {
                verdicts.push(res);
            }
        }
        while let Some(done) = retries.join_next().await {
            if let Ok((i, res)) = done {
                verdicts[i] = res;
            }
        }
        verdicts.into_iter().flatten().collect()
    }

    /// The first round: every check observed once.
    async fn observe_all(&self, checks: &[Arc<Check>]) -> Vec<Observed> {
        match &*self.observer {
            Observer::Local(http) => self.observe_all_local(checks, http).await,
            Observer::Remote(target) => self.observe_all_remote(checks, target).await,
        }
    }

    async fn observe_all_local(&self, checks: &[Arc<Check>], http: &HttpClients) -> Vec<Observed> {
        let round = Arc::new(LocalRound::new());
        let mut out: Vec<Option<Observed>> = vec![None; checks.len()];
        let sem = Arc::new(Semaphore::new(self.concurrency));
        let mut tasks: JoinSet<(usize, Observed)> = JoinSet::new();
        for (i, check) in checks.iter().enumerate() {
            if local::is_instant(&check.resource) {
                // Answered from memory and the file system: no task needed.
                let t = Instant::now();
                let obs = local::observe(check, &round, &self.cx, http).await;
                out[i] = Some((obs, t.elapsed()));
                continue;
            }
            let (round, cx, check, sem, http) = (
                round.clone(),
                self.cx.clone(),
                check.clone(),
                sem.clone(),
                http.clone(),
            );
            tasks.spawn(async move {
                let _permit = sem.acquire_owned().await;
                (i, observe_local_timed(&check, &round, &cx, &http).await)
            });
        }
        while let Some(done) = tasks.join_next().await {
            if let Ok((i, observed)) = done {
                out[i] = Some(observed);
            }
        }
        out.into_iter()
            .map(|o| {
                o.unwrap_or_else(|| {
                    (
                        Err("the check's task ended unexpectedly".into()),
                        Duration::ZERO,
                    )
                })
            })
            .collect()
    }

    async fn observe_all_remote(
        &self,
        checks: &[Arc<Check>],
        target: &RemoteTarget,
    ) -> Vec<Observed> {
        let refs: Vec<&Check> = checks.iter().map(|c| &**c).collect();
        let mut batches = remote::batches(&refs).into_iter();
        let mut out: Vec<Option<Observed>> = vec![None; checks.len()];
        // The first batch alone: it opens the ssh master connection that
        // the others then share.
        if let Some(first) = batches.next() {
            for (i, observed) in observe_remote_batch(target, &self.cx, checks, &first).await {
                out[i] = Some(observed);
            }
        }
        let sem = Arc::new(Semaphore::new(self.concurrency));
        let mut tasks: JoinSet<Vec<(usize, Observed)>> = JoinSet::new();
        for batch in batches {
            let (target, cx, checks, sem) = (
                target.clone(),
                self.cx.clone(),
                checks.to_vec(),
                sem.clone(),
            );
            tasks.spawn(async move {
                let _permit = sem.acquire_owned().await;
                observe_remote_batch(&target, &cx, &checks, &batch).await
            });
        }
        while let Some(done) = tasks.join_next().await {
            if let Ok(list) = done {
                for (i, observed) in list {
                    out[i] = Some(observed);
                }
            }
        }
        out.into_iter()
            .map(|o| {
                o.unwrap_or_else(|| {
                    (
                        Err("the batch's task ended unexpectedly".into()),
                        Duration::ZERO,
                    )
                })
            })
            .collect()
    }
}

fn all_passed(results: &[CheckResult]) -> bool {
    results.iter().all(|r| r.status == Status::Passed)
}

/// One local observation, bounded by the check's timeout (with slack, so
/// the command's or request's own timeout reports first).
async fn observe_local_timed(
    check: &Check,
    round: &LocalRound,
    cx: &StepContext,
    http: &HttpClients,
) -> Observed {
    let t = Instant::now();
    let limit = check.timeout + Duration::from_secs(5);
    let obs = match tokio::time::timeout(limit, local::observe(check, round, cx, http)).await {
        Ok(obs) => obs,
        Err(_) => Err(format!("timed out after {}s", check.timeout.as_secs_f64())),
    };
    (obs, t.elapsed())
}

/// One remote batch; each check is charged an equal share of its time.
async fn observe_remote_batch(
    target: &RemoteTarget,
    cx: &StepContext,
    checks: &[Arc<Check>],
    batch: &[usize],
) -> Vec<(usize, Observed)> {
    let t = Instant::now();
    let refs: Vec<&Check> = batch.iter().map(|&i| &*checks[i]).collect();
    let observed = remote::observe_batch(target, cx, &refs).await;
    let share = t.elapsed() / u32::try_from(batch.len().max(1)).unwrap_or(u32::MAX);
    batch
        .iter()
        .copied()
        .zip(observed.into_iter().map(|o| (o, share)))
        .collect()
}

/// Re-runs one failed check until it passes, its retries are used up and
/// its `wait_for` time has run out.
async fn retry(
    observer: Arc<Observer>,
    cx: Arc<StepContext>,
    check: Arc<Check>,
    started: Instant,
    mut last: Vec<CheckResult>,
    group: String,
) -> Vec<CheckResult> {
    let interval = check.wait_for.map_or(RETRY_INTERVAL, |w| w.interval);
    let deadline = check.wait_for.map(|w| started + w.timeout);
    let mut attempts: u32 = 1;
    loop {
        let retries_left = attempts <= check.retries;
        let time_left = deadline.is_some_and(|d| Instant::now() + interval <= d);
        if !(retries_left || time_left) {
            break;
        }
        if step_core::backoff::sleep_unless_cancelled(cx.cancel(), interval)
            .await
            .is_err()
        {
            break;
        }
        let (obs, took) = match &*observer {
            Observer::Local(http) => {
                observe_local_timed(&check, &LocalRound::new(), &cx, http).await
            }
            Observer::Remote(target) => {
                let t = Instant::now();
                let obs = remote::observe_batch(target, &cx, &[&*check]).await;
                (
                    obs.into_iter()
                        .next()
                        .unwrap_or_else(|| Err("no result".into())),
                    t.elapsed(),
                )
            }
        };
        last = results(&check, &obs, took, &group);
        attempts += 1;
        if all_passed(&last) {
            return last;
        }
    }
    let waited = started.elapsed().as_secs_f64();
    for r in last.iter_mut().filter(|r| r.status != Status::Passed) {
        let note = format!("(still failing after {attempts} attempts in {waited:.1}s)");
        r.message = Some(match r.message.take() {
            Some(m) => format!("{m}\n  {note}"),
            None => note,
        });
    }
    last
}
