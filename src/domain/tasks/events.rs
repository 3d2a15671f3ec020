//! Task events: what happened (the API's TaskEvent) and which inboxes the
//! task entered or left because of it, published in the transaction that
//! made the change. Box changes are computed per side (the person's
//! personal space, each signing enterprise's space) from the state before
//! and after, with the same rule as the lists (`inbox::boxes_of`); who in
//! an enterprise hears of them is decided at delivery, under the lists'
//! visibility rules (`inbox::eligible`).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;

use crate::db::enums::{PartyKind, SignerStatus, TaskStatus};
use crate::db::ids::{SignerId, TaskId, UserId};
use crate::db::tasks::{Signer, Task};
use crate::domain::Services;
use crate::domain::tasks::inbox::{TaskBox, boxes_of};
use crate::error::AppResult;
use crate::events::{BoxChange, Event, InboxBox, InboxOwner, TaskEventKind};

/// A task's state as far as its boxes depend on it.
#[derive(Debug, Clone)]
pub struct Snapshot {
    status: TaskStatus,
    ready: bool,
    signers: Vec<(InboxOwner, SignerStatus)>,
}

fn owner_of(signer: &Signer) -> Option<InboxOwner> {
    match signer.kind {
        PartyKind::Enterprise => signer
            .enterprise_id
            .map(|enterprise| InboxOwner::Enterprise { enterprise }),
        PartyKind::Person => signer.person_phone.clone().map(|phone| InboxOwner::Person {
            user: signer.user_id,
            phone,
        }),
    }
}

impl Snapshot {
    pub fn of(task: &Task, signers: &[Signer]) -> Self {
        Self {
            status: task.status,
            ready: task.ready_at.is_some(),
            signers: signers
                .iter()
                .filter(|s| s.task_id == task.id)
                .filter_map(|s| Some((owner_of(s)?, s.status)))
                .collect(),
        }
    }

    fn boxes(&self) -> BTreeMap<InboxOwner, BTreeSet<InboxBox>> {
        let mut boxes: BTreeMap<InboxOwner, BTreeSet<InboxBox>> = BTreeMap::new();
        for (owner, status) in &self.signers {
            let entry = boxes.entry(owner.clone()).or_default();
            entry.extend(boxes_of(self.status, self.ready, *status).map(inbox_box));
        }
        boxes
    }
}

fn inbox_box(task_box: TaskBox) -> InboxBox {
    match task_box {
        TaskBox::ToSign | TaskBox::Acting => InboxBox::ToSign,
        TaskBox::WaitingForOthers => InboxBox::WaitingForOthers,
        TaskBox::Completed => InboxBox::Completed,
        TaskBox::Voided => InboxBox::Voided,
        TaskBox::Initiated => InboxBox::Initiated,
        TaskBox::Cc => InboxBox::Cc,
    }
}

/// Publishes that new tasks entered their initiator's INITIATED box and
/// their CC'd users' CC boxes, inside the initiating transaction.
pub async fn initiated(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    tasks: &[Task],
    cc: &[(TaskId, UserId)],
    at: DateTime<Utc>,
) -> AppResult<()> {
    for task in tasks {
        let mut boxes = vec![BoxChange {
            owner: InboxOwner::Enterprise {
                enterprise: task.enterprise_id,
            },
            task_box: InboxBox::Initiated,
            entered: true,
        }];
        boxes.extend(
            cc.iter()
                .filter(|(t, _)| *t == task.id)
                .map(|(_, user)| BoxChange {
                    owner: InboxOwner::User { user: *user },
                    task_box: InboxBox::Cc,
                    entered: true,
                }),
        );
        svc.events
            .publish(
                conn,
                Event::InboxChanged {
                    task: task.id,
                    at,
                    boxes,
                },
            )
            .await?;
    }
    Ok(())
}

/// The boxes each side's task left and entered between two snapshots.
pub fn box_changes(before: &Snapshot, after: &Snapshot) -> Vec<BoxChange> {
    let (before, after) = (before.boxes(), after.boxes());
    let owners: BTreeSet<&InboxOwner> = before.keys().chain(after.keys()).collect();
    let empty = BTreeSet::new();
    let mut changes = Vec::new();
    for owner in owners {
        // A person linked to an account while signing: the same inbox.
        let was = before
            .get(owner)
            .or_else(|| match owner {
                InboxOwner::Person { phone, .. } => before.iter().find_map(|(o, b)| match o {
                    InboxOwner::Person { phone: p, .. } if p == phone => Some(b),
                    _ => None,
                }),
                InboxOwner::Enterprise { .. } | InboxOwner::User { .. } => None,
            })
            .unwrap_or(&empty);
        let now = after.get(owner).unwrap_or(&empty);
        if !after.contains_key(owner) && matches!(owner, InboxOwner::Person { .. }) {
            // The same person under its linked owner is reported there.
            continue;
        }
        for left in was.difference(now) {
            changes.push(BoxChange {
                owner: owner.clone(),
                task_box: *left,
                entered: false,
            });
        }
        for entered in now.difference(was) {
            changes.push(BoxChange {
                owner: owner.clone(),
                task_box: *entered,
                entered: true,
            });
        }
    }
    changes
}

/// One thing that happened to a task.
pub struct Happened {
    pub kind: TaskEventKind,
    pub signer: Option<SignerId>,
}

/// Publishes what happened to `task` and the box changes between
/// `before` and `after`, inside the caller's transaction.
pub async fn publish(
    conn: &AsyncPgConnection,
    svc: &Services<'_>,
    task: TaskId,
    happened: Vec<Happened>,
    before: &Snapshot,
    after: &Snapshot,
    at: DateTime<Utc>,
) -> AppResult<()> {
    let mut boxes = box_changes(before, after);
    let events = happened
        .into_iter()
        .map(|event| Event::TaskChanged {
            task,
            kind: event.kind,
            signer: event.signer,
            at,
            // Carried once, with the first event of the change.
            boxes: std::mem::take(&mut boxes),
        })
        .collect();
    svc.events.publish_all(conn, events).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::ids::EnterpriseId;

    fn snapshot(status: TaskStatus, signers: &[(InboxOwner, SignerStatus)]) -> Snapshot {
        Snapshot {
            status,
            ready: true,
            signers: signers.to_vec(),
        }
    }

    #[test]
    fn signing_moves_the_signer_to_waiting_and_the_next_to_sign() {
        let person = InboxOwner::Person {
            user: None,
            phone: "13500000000".into(),
        };
        let employer = InboxOwner::Enterprise {
            enterprise: EnterpriseId::new(),
        };
        let before = snapshot(
            TaskStatus::InProgress,
            &[
                (person.clone(), SignerStatus::Pending),
                (employer.clone(), SignerStatus::Waiting),
            ],
        );
        let linked = InboxOwner::Person {
            user: Some(crate::db::ids::UserId::new()),
            phone: "13500000000".into(),
        };
        let after = snapshot(
            TaskStatus::InProgress,
            &[
                (linked.clone(), SignerStatus::Signed),
                (employer.clone(), SignerStatus::Pending),
            ],
        );
        let changes = box_changes(&before, &after);
        let summary: Vec<(InboxOwner, InboxBox, bool)> = changes
            .into_iter()
            .map(|c| (c.owner, c.task_box, c.entered))
            .collect();
        assert_eq!(summary.len(), 3, "{summary:?}");
        assert!(summary.contains(&(linked.clone(), InboxBox::ToSign, false)));
        assert!(summary.contains(&(linked, InboxBox::WaitingForOthers, true)));
        assert!(summary.contains(&(employer, InboxBox::ToSign, true)));
    }

    #[test]
    fn voiding_moves_every_side_to_voided() {
        let employer = InboxOwner::Enterprise {
            enterprise: EnterpriseId::new(),
        };
        let before = snapshot(
            TaskStatus::InProgress,
            &[(employer.clone(), SignerStatus::Waiting)],
        );
        let after = snapshot(
            TaskStatus::Voided,
            &[(employer.clone(), SignerStatus::Waiting)],
        );
        let changes = box_changes(&before, &after);
        assert_eq!(
            changes,
            vec![BoxChange {
                owner: employer,
                task_box: InboxBox::Voided,
                entered: true
            }]
        );
    }
}
