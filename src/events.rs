//! The event bus: state changes that subscriptions and open sockets react to.
//!
//! One interface, two transports. `Postgres` (the default) publishes with
//! NOTIFY inside the caller's transaction, so an event leaves only if its
//! change commits, and every server process sharing the database receives
//! it on its one LISTEN connection and fans it out in-process. `InProcess`
//! serves a single node without the listener: it notes the publishing
//! transaction's id and hands the event to this process's subscribers once
//! PostgreSQL reports that transaction committed (never if it aborted).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use diesel::sql_types::Text;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, oneshot};
use tokio_util::sync::CancellationToken;

use crate::db::DbPool;
use crate::db::cached::CachedExt;
use chrono::{DateTime, Utc};

use crate::db::enums::OrderStatus;
use crate::db::ids::{EnterpriseId, OrderId, SessionId, SignerId, TaskId, UserId};

/// The NOTIFY channel of the platform's events.
pub const CHANNEL: &str = "yuyunqian_events";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Event {
    /// One session ended (logout): its sockets close.
    SessionRevoked { session: SessionId },
    /// Every session of the user but `except` ended (password change or reset).
    SessionsOfUserRevoked {
        user: UserId,
        except: Option<SessionId>,
    },
    /// The user's own account changed (phone, email, real-name status, UKey).
    UserUpdated { user: UserId },
    /// A certification order moved to `status` (carried, so that each step
    /// reaches subscribers even when the next one follows at once).
    CertificateOrderUpdated {
        order: OrderId,
        applicant: UserId,
        status: OrderStatus,
    },
    /// Something happened to a signing task (the API's TaskEvent), with
    /// the inbox boxes it entered or left because of it.
    TaskChanged {
        task: TaskId,
        kind: TaskEventKind,
        signer: Option<SignerId>,
        at: DateTime<Utc>,
        boxes: Vec<BoxChange>,
    },
    /// A task entered inboxes without a TaskEvent: at initiation, the
    /// initiator's INITIATED box and the CC'd users' CC boxes.
    InboxChanged {
        task: TaskId,
        at: DateTime<Utc>,
        boxes: Vec<BoxChange>,
    },
}

/// The API's TaskEventKind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TaskEventKind {
    SignerPending,
    SignerSigned,
    SignerRefused,
    TaskCompleted,
    TaskVoided,
}

/// The boxes of the inboxes: the first four follow a task's state;
/// INITIATED and CC hold a task from its initiation on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum InboxBox {
    ToSign,
    WaitingForOthers,
    Completed,
    Voided,
    Initiated,
    Cc,
}

/// Whose inbox: a person signer's personal space (by account once linked,
/// else by the phone the row named), an enterprise's space, or a CC'd
/// user's personal space.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum InboxOwner {
    Person {
        user: Option<UserId>,
        phone: String,
    },
    Enterprise {
        enterprise: EnterpriseId,
    },
    /// A user's personal space (CC'd users).
    User {
        user: UserId,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoxChange {
    pub owner: InboxOwner,
    pub task_box: InboxBox,
    pub entered: bool,
}

impl Event {
    /// Whether this event ends the session `session` of `user`.
    pub fn ends_session(&self, user: UserId, session: SessionId) -> bool {
        match self {
            Self::SessionRevoked { session: ended } => *ended == session,
            Self::SessionsOfUserRevoked {
                user: owner,
                except,
            } => *owner == user && *except != Some(session),
            Self::UserUpdated { .. }
            | Self::CertificateOrderUpdated { .. }
            | Self::TaskChanged { .. }
            | Self::InboxChanged { .. } => false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    InProcess,
    Postgres,
}

#[derive(Clone)]
pub struct EventBus {
    sender: broadcast::Sender<Event>,
    /// The subscribers of one task's progress, by task: a task's events
    /// wake only them (a broadcast to all would wake a thousand open
    /// subscriptions for every signature).
    tasks: Arc<Mutex<HashMap<TaskId, broadcast::Sender<Event>>>>,
    /// The events that end sessions, for open sockets: each socket
    /// listens here, so other events do not wake every socket.
    sessions: broadcast::Sender<Event>,
    transport: Transport,
    /// For the in-process transport: where to ask whether a transaction committed.
    pool: Option<DbPool>,
}

impl EventBus {
    pub fn new(transport: Transport, pool: Option<DbPool>) -> Self {
        let (sender, _) = broadcast::channel(1024);
        let (sessions, _) = broadcast::channel(256);
        Self {
            sender,
            tasks: Arc::default(),
            sessions,
            transport,
            pool,
        }
    }

    pub fn transport(&self) -> Transport {
        self.transport
    }

    /// Publishes `event` as part of the transaction open on `conn`.
    pub async fn publish(
        &self,
        mut conn: &AsyncPgConnection,
        event: Event,
    ) -> diesel::QueryResult<()> {
        match self.transport {
            Transport::InProcess => {
                let xid: TransactionId =
                    diesel::sql_query("SELECT pg_current_xact_id()::text AS xid")
                        .get_result(&mut conn)
                        .await?;
                let bus = self.clone();
                tokio::spawn(async move { bus.deliver_after_commit(xid.xid, event).await });
                Ok(())
            }
            Transport::Postgres => {
                let payload = serde_json::to_string(&event)
                    .map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?;
                diesel::sql_query("SELECT pg_notify($1, $2)")
                    .bind::<Text, _>(CHANNEL)
                    .bind::<Text, _>(payload)
                    .cached()
                    .execute(&mut conn)
                    .await
                    .map(drop)
            }
        }
    }

    /// Publishes `events`, in order, as part of the transaction open on
    /// `conn`: with NOTIFY, in one statement.
    pub async fn publish_all(
        &self,
        mut conn: &AsyncPgConnection,
        events: Vec<Event>,
    ) -> diesel::QueryResult<()> {
        if self.transport == Transport::InProcess || events.len() < 2 {
            for event in events {
                self.publish(conn, event).await?;
            }
            return Ok(());
        }
        let payloads = events
            .iter()
            .map(serde_json::to_string)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?;
        // A function scan yields the array in order; NOTIFY keeps that order.
        diesel::sql_query("SELECT pg_notify($1, payload) FROM unnest($2::text[]) AS e(payload)")
            .bind::<Text, _>(CHANNEL)
            .bind::<diesel::sql_types::Array<Text>, _>(payloads)
            .cached()
            .execute(&mut conn)
            .await
            .map(drop)
    }

    /// Delivers `event` once transaction `xid` has committed; drops it if the
    /// transaction aborted (or nothing can be learnt within a minute).
    async fn deliver_after_commit(&self, xid: String, event: Event) {
        let Some(pool) = &self.pool else {
            return;
        };
        for _ in 0..6_000 {
            let status: Option<TransactionStatus> = match pool.get().await {
                Ok(mut conn) => diesel::sql_query("SELECT pg_xact_status($1::xid8) AS status")
                    .bind::<Text, _>(&xid)
                    .get_result(&mut conn)
                    .await
                    .ok(),
                Err(_) => None,
            };
            match status.and_then(|s| s.status).as_deref() {
                Some("committed") => return self.deliver(event),
                Some("aborted") => return,
                _ => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
        tracing::warn!("an event's transaction did not finish in time; event dropped");
    }

    /// Hands an event to this process's subscribers.
    pub fn deliver(&self, event: Event) {
        match &event {
            Event::TaskChanged { task, .. } => {
                let mut tasks = self.tasks();
                if let Some(sender) = tasks.get(task)
                    && sender.send(event.clone()).is_err()
                {
                    // Its last subscriber is gone.
                    tasks.remove(task);
                }
            }
            Event::SessionRevoked { .. } | Event::SessionsOfUserRevoked { .. } => {
                let _ = self.sessions.send(event.clone());
            }
            Event::UserUpdated { .. }
            | Event::CertificateOrderUpdated { .. }
            | Event::InboxChanged { .. } => {}
        }
        // With no subscriber the event is simply not needed.
        let _ = self.sender.send(event);
    }

    /// Every event.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.sender.subscribe()
    }

    /// The events that end sessions only (`SessionRevoked`,
    /// `SessionsOfUserRevoked`).
    pub fn subscribe_sessions(&self) -> broadcast::Receiver<Event> {
        self.sessions.subscribe()
    }

    /// The `TaskChanged` events of `task` only.
    pub fn subscribe_task(&self, task: TaskId) -> broadcast::Receiver<Event> {
        let mut tasks = self.tasks();
        // Tasks whose subscribers left without an event after them.
        if tasks.len() >= 1024 && tasks.len().is_power_of_two() {
            tasks.retain(|_, sender| sender.receiver_count() > 0);
        }
        tasks
            .entry(task)
            .or_insert_with(|| broadcast::channel(64).0)
            .subscribe()
    }

    fn tasks(&self) -> MutexGuard<'_, HashMap<TaskId, broadcast::Sender<Event>>> {
        // The map stays consistent whatever panicked while holding it.
        self.tasks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[derive(diesel::QueryableByName)]
struct TransactionId {
    #[diesel(sql_type = Text)]
    xid: String,
}

#[derive(diesel::QueryableByName)]
struct TransactionStatus {
    #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
    status: Option<String>,
}

/// Keeps one LISTEN connection open and fans its events out to `bus` until
/// `shutdown`; reconnects after a lost connection. `ready` fires once the
/// first LISTEN is in place.
pub async fn run_listener(
    database_url: String,
    bus: EventBus,
    shutdown: CancellationToken,
    ready: Option<oneshot::Sender<()>>,
) {
    let mut ready = ready;
    loop {
        match listen_once(&database_url, &bus, &shutdown, &mut ready).await {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(error = %e, "event listener lost its connection; reconnecting")
            }
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

async fn listen_once(
    database_url: &str,
    bus: &EventBus,
    shutdown: &CancellationToken,
    ready: &mut Option<oneshot::Sender<()>>,
) -> anyhow::Result<()> {
    let mut conn = AsyncPgConnection::establish(database_url).await?;
    diesel::sql_query(format!("LISTEN {CHANNEL}"))
        .execute(&mut conn)
        .await?;
    if let Some(ready) = ready.take() {
        let _ = ready.send(());
    }
    let mut notifications = std::pin::pin!(conn.notifications_stream());
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            next = notifications.next() => match next {
                Some(Ok(notification)) => match serde_json::from_str::<Event>(&notification.payload) {
                    Ok(event) => bus.deliver(event),
                    Err(e) => tracing::warn!(error = %e, "unreadable event on the bus"),
                },
                Some(Err(e)) => return Err(e.into()),
                None => anyhow::bail!("notification stream ended"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_through_json() {
        let event = Event::SessionsOfUserRevoked {
            user: UserId::new(),
            except: Some(SessionId::new()),
        };
        let json = serde_json::to_string(&event).unwrap();
        assert!(json.len() < 8000, "fits a NOTIFY payload");
        assert_eq!(serde_json::from_str::<Event>(&json).unwrap(), event);
    }

    #[test]
    fn revocations_end_the_right_sessions() {
        let (user, mine, other) = (UserId::new(), SessionId::new(), SessionId::new());
        let all_but_other = Event::SessionsOfUserRevoked {
            user,
            except: Some(other),
        };
        assert!(all_but_other.ends_session(user, mine));
        assert!(!all_but_other.ends_session(user, other));
        assert!(!all_but_other.ends_session(UserId::new(), mine));
        assert!(Event::SessionRevoked { session: mine }.ends_session(user, mine));
    }

    fn changed(task: TaskId) -> Event {
        Event::TaskChanged {
            task,
            kind: TaskEventKind::SignerSigned,
            signer: None,
            at: Utc::now(),
            boxes: Vec::new(),
        }
    }

    #[test]
    fn task_subscribers_hear_their_task_only_and_leave_no_entry_behind() {
        let bus = EventBus::new(Transport::InProcess, None);
        let (mine, other) = (TaskId::new(), TaskId::new());
        let mut receiver = bus.subscribe_task(mine);
        let everything = bus.subscribe();
        let event = changed(mine);
        bus.deliver(changed(other));
        bus.deliver(Event::UserUpdated {
            user: UserId::new(),
        });
        bus.deliver(event.clone());
        assert_eq!(receiver.try_recv().unwrap(), event);
        assert!(receiver.try_recv().is_err(), "nothing else");
        assert_eq!(everything.len(), 3, "the catch-all subscriber hears all");
        drop(receiver);
        bus.deliver(changed(mine));
        assert!(bus.tasks().is_empty());
    }
}
