//! Signing in GraphQL: `signTask`, and the live views of tasks
//! (`taskProgress`, `inbox`) fed by the event bus.

use std::collections::VecDeque;

use async_graphql::{Context, Enum, ID, InputObject, Json, Object, Result, Subscription};
use chrono::{DateTime, Utc};
use futures_util::Stream;
use tokio::sync::broadcast::error::RecvError;

use crate::db::ids::{DocumentId, SignerId, TaskId};
use crate::db::tasks::Task;
use crate::db::users::User;
use crate::domain::Viewer;
use crate::domain::tasks::inbox::{self, Space};
use crate::domain::tasks::signing::{
    self, PlacementInput as DomainPlacement, SignInput as DomainSign,
};
use crate::error::AppError;
use crate::events::{self, BoxChange, Event, InboxBox, InboxOwner};
use crate::graphql::context::{ContextExt, parse_id};
use crate::graphql::task_views::{Signer, SigningTask, view_for, views};
use crate::graphql::tasks::TaskBox;

/// A seal on a slot of the signer's role (`slotId`), or at a free
/// position (`page`, `x`, `y`: points from the page's top-left corner).
#[derive(InputObject)]
pub struct PlacementInput {
    pub document_id: ID,
    pub slot_id: Option<ID>,
    pub seal_id: ID,
    pub page: Option<i32>,
    pub x: Option<f64>,
    pub y: Option<f64>,
}

#[derive(InputObject)]
pub struct SignInput {
    pub task_id: ID,
    /// The enterprise the viewer signs for; none for the person signer.
    pub enterprise_id: Option<ID>,
    /// Some of the signer's documents (partial submission); all by default.
    pub document_ids: Option<Vec<ID>>,
    /// Seals on chosen slots and free positions; every slot of the role
    /// gets the viewer's seal of its kind (一键盖章) unless placed here.
    pub placements: Option<Vec<PlacementInput>>,
    /// Values of the fields left to this signer, keyed by field key.
    pub field_values: Option<Json<serde_json::Value>>,
    pub sms_code: String,
}

fn domain_input(input: SignInput) -> Result<DomainSign, AppError> {
    let documents = input
        .document_ids
        .map(|ids| {
            ids.iter()
                .enumerate()
                .map(|(i, id)| parse_id::<DocumentId>(&format!("documentIds[{i}]"), id))
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    let placements = input
        .placements
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            Ok(DomainPlacement {
                document: parse_id(&format!("placements[{i}].documentId"), &p.document_id)?,
                slot: p
                    .slot_id
                    .map(|id| parse_id(&format!("placements[{i}].slotId"), &id))
                    .transpose()?,
                seal: parse_id(&format!("placements[{i}].sealId"), &p.seal_id)?,
                page: p.page,
                x: p.x,
                y: p.y,
            })
        })
        .collect::<Result<Vec<_>, AppError>>()?;
    Ok(DomainSign {
        task: parse_id("taskId", &input.task_id)?,
        enterprise: input
            .enterprise_id
            .map(|id| parse_id("enterpriseId", &id))
            .transpose()?,
        documents,
        placements,
        field_values: input.field_values.map(|j| j.0),
        sms_code: input.sms_code,
    })
}

#[derive(Default)]
pub struct SigningMutation;

#[Object]
impl SigningMutation {
    /// 签署: stamps the viewer's seals and signs its documents of the task
    /// with its certificate (PAdES B-T), after the intent code. A retry
    /// with the same code returns the same result without signing again.
    async fn sign_task(&self, ctx: &Context<'_>, input: SignInput) -> Result<SigningTask> {
        let viewer = ctx.viewer()?;
        let input = domain_input(input)?;
        let mut conn = ctx.conn().await?;
        let task = signing::sign(
            &mut conn,
            &ctx.app().services(),
            &ctx.request().meta,
            &viewer,
            input,
        )
        .await?;
        Ok(view_for(ctx, &mut conn, task).await?)
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum TaskEventKind {
    SignerPending,
    SignerSigned,
    SignerRefused,
    TaskCompleted,
    TaskVoided,
}

impl From<events::TaskEventKind> for TaskEventKind {
    fn from(kind: events::TaskEventKind) -> Self {
        match kind {
            events::TaskEventKind::SignerPending => Self::SignerPending,
            events::TaskEventKind::SignerSigned => Self::SignerSigned,
            events::TaskEventKind::SignerRefused => Self::SignerRefused,
            events::TaskEventKind::TaskCompleted => Self::TaskCompleted,
            events::TaskEventKind::TaskVoided => Self::TaskVoided,
        }
    }
}

/// One thing that happened to a task. Its `task` and `signer` are read
/// when selected (a dashboard counting events costs the server nothing).
pub struct TaskEvent {
    kind: TaskEventKind,
    task_id: TaskId,
    signer_id: Option<SignerId>,
    at: DateTime<Utc>,
    task: tokio::sync::OnceCell<SigningTask>,
}

impl TaskEvent {
    async fn loaded(&self, ctx: &Context<'_>) -> Result<&SigningTask> {
        Ok(self
            .task
            .get_or_try_init(|| load_task(ctx.app(), self.task_id))
            .await?)
    }
}

#[Object]
impl TaskEvent {
    async fn kind(&self) -> TaskEventKind {
        self.kind
    }

    /// The task as it is when the event is delivered.
    async fn task(&self, ctx: &Context<'_>) -> Result<&SigningTask> {
        self.loaded(ctx).await
    }

    async fn signer(&self, ctx: &Context<'_>) -> Result<Option<Signer>> {
        let Some(id) = self.signer_id else {
            return Ok(None);
        };
        Ok(self.loaded(ctx).await?.signer(id))
    }

    async fn at(&self) -> DateTime<Utc> {
        self.at
    }
}

pub struct InboxEvent {
    task_box: TaskBox,
    task: SigningTask,
    entered: bool,
    at: DateTime<Utc>,
}

#[Object]
impl InboxEvent {
    #[graphql(name = "box")]
    async fn task_box(&self) -> TaskBox {
        self.task_box
    }

    async fn task(&self) -> &SigningTask {
        &self.task
    }

    /// True when the task entered the box, false when it left it.
    async fn entered(&self) -> bool {
        self.entered
    }

    async fn at(&self) -> DateTime<Utc> {
        self.at
    }
}

fn task_box(inbox_box: InboxBox) -> (TaskBox, inbox::TaskBox) {
    match inbox_box {
        InboxBox::ToSign => (TaskBox::ToSign, inbox::TaskBox::ToSign),
        InboxBox::WaitingForOthers => (TaskBox::WaitingForOthers, inbox::TaskBox::WaitingForOthers),
        InboxBox::Completed => (TaskBox::Completed, inbox::TaskBox::Completed),
        InboxBox::Voided => (TaskBox::Voided, inbox::TaskBox::Voided),
        InboxBox::Initiated => (TaskBox::Initiated, inbox::TaskBox::Initiated),
        InboxBox::Cc => (TaskBox::Cc, inbox::TaskBox::Cc),
    }
}

/// Whether a box change is about the viewer's inbox in `space`.
fn concerns(change: &BoxChange, space: Space, viewer: &Viewer, phone: &str) -> bool {
    match (&change.owner, space) {
        (InboxOwner::Person { user, phone: named }, Space::Personal) => match user {
            Some(user) => *user == viewer.user_id,
            None => named == phone,
        },
        (InboxOwner::Enterprise { enterprise }, Space::Enterprise(id)) => *enterprise == id,
        (InboxOwner::User { user }, Space::Personal) => *user == viewer.user_id,
        _ => false,
    }
}

async fn load_task(app: &crate::app::App, id: TaskId) -> Result<SigningTask, AppError> {
    let mut conn = app.pool.get().await?;
    let task = Task::find(&conn, id)
        .await?
        .ok_or(AppError::NotFound("task"))?;
    views(&mut conn, vec![task])
        .await?
        .pop()
        .ok_or(AppError::NotFound("task"))
}

#[derive(Default)]
pub struct SigningSubscription;

#[Subscription]
impl SigningSubscription {
    /// Every event of a task the viewer may see, in order.
    async fn task_progress(
        &self,
        ctx: &Context<'_>,
        task_id: ID,
    ) -> Result<impl Stream<Item = Result<TaskEvent>>> {
        let viewer = ctx.viewer()?;
        let id: TaskId = parse_id("taskId", &task_id)?;
        // Subscribe first: an event between the check and the stream's
        // start is not lost.
        let receiver = ctx.app().events.subscribe_task(id);
        {
            let mut conn = ctx.conn().await?;
            inbox::find(&mut conn, &viewer, id).await?;
        }
        Ok(futures_util::stream::unfold(
            receiver,
            move |mut receiver| async move {
                loop {
                    let (kind, signer, at) = match receiver.recv().await {
                        Ok(Event::TaskChanged {
                            task,
                            kind,
                            signer,
                            at,
                            ..
                        }) if task == id => (kind, signer, at),
                        Ok(_) => continue,
                        Err(RecvError::Lagged(missed)) => {
                            tracing::warn!(missed, "a taskProgress subscriber fell behind");
                            continue;
                        }
                        Err(RecvError::Closed) => return None,
                    };
                    let event = TaskEvent {
                        kind: kind.into(),
                        task_id: id,
                        signer_id: signer,
                        at,
                        task: tokio::sync::OnceCell::new(),
                    };
                    return Some((Ok(event), receiver));
                }
            },
        ))
    }

    /// Tasks entering and leaving the viewer's boxes in its personal space
    /// (no `enterpriseId`) or an enterprise's space, under the lists'
    /// visibility rules at the time of each event.
    async fn inbox(
        &self,
        ctx: &Context<'_>,
        enterprise_id: Option<ID>,
    ) -> Result<impl Stream<Item = Result<InboxEvent>>> {
        let viewer = ctx.viewer()?;
        let space = match enterprise_id {
            Some(id) => Space::Enterprise(parse_id("enterpriseId", &id)?),
            None => Space::Personal,
        };
        let app = ctx.app().clone();
        let receiver = app.events.subscribe();
        let phone = {
            let mut conn = ctx.conn().await?;
            if let Space::Enterprise(id) = space {
                crate::domain::membership::member_of(&mut conn, &viewer, id).await?;
            }
            User::find(&conn, viewer.user_id)
                .await
                .map_err(AppError::from)?
                .phone
        };
        let state = (receiver, VecDeque::<InboxEvent>::new());
        Ok(futures_util::stream::unfold(
            state,
            move |(mut receiver, mut ready)| {
                let app = app.clone();
                let phone = phone.clone();
                async move {
                    loop {
                        if let Some(event) = ready.pop_front() {
                            return Some((Ok(event), (receiver, ready)));
                        }
                        let (task, at, boxes) = match receiver.recv().await {
                            Ok(
                                Event::TaskChanged {
                                    task, at, boxes, ..
                                }
                                | Event::InboxChanged { task, at, boxes },
                            ) => (task, at, boxes),
                            Ok(_) => continue,
                            Err(RecvError::Lagged(missed)) => {
                                tracing::warn!(missed, "an inbox subscriber fell behind");
                                continue;
                            }
                            Err(RecvError::Closed) => return None,
                        };
                        let mine: Vec<&BoxChange> = boxes
                            .iter()
                            .filter(|c| concerns(c, space, &viewer, &phone))
                            .collect();
                        if mine.is_empty() {
                            continue;
                        }
                        match inbox_events(&app, &viewer, space, task, at, &mine).await {
                            Ok(events) => ready.extend(events),
                            Err(e) => return Some((Err(e.into()), (receiver, ready))),
                        }
                    }
                }
            },
        ))
    }
}

/// The changes the viewer may hear of, with the task as it now is.
async fn inbox_events(
    app: &crate::app::App,
    viewer: &Viewer,
    space: Space,
    task: TaskId,
    at: DateTime<Utc>,
    changes: &[&BoxChange],
) -> Result<Vec<InboxEvent>, AppError> {
    let mut conn = app.pool.get().await?;
    let mut allowed = Vec::new();
    for change in changes {
        let (api_box, domain_box) = task_box(change.task_box);
        // A member whose grant was revoked no longer hears of the task.
        match inbox::eligible(&mut conn, viewer, space, domain_box, task).await {
            Ok(true) => allowed.push((api_box, change.entered)),
            Ok(false) => {}
            // Left the enterprise meanwhile.
            Err(AppError::Forbidden(_) | AppError::NotFound(_)) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        }
    }
    if allowed.is_empty() {
        return Ok(Vec::new());
    }
    drop(conn);
    let view = load_task(app, task).await?;
    let mut events = Vec::with_capacity(allowed.len());
    for (task_box, entered) in allowed {
        events.push(InboxEvent {
            task_box,
            task: view.clone(),
            entered,
            at,
        });
    }
    Ok(events)
}
