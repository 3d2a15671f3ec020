//! Contract quota: `quota_ledger` (every change, each debit naming its
//! task once) and `quota_balances` (the sum, CHECK >= 0), written together.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::enums::QuotaKind;
use crate::db::ids::{EnterpriseId, QuotaEntryId, TaskId, UserId};
use crate::db::schema::{quota_balances, quota_ledger};

pub struct Quota;

impl Quota {
    pub async fn balance(
        conn: &mut AsyncPgConnection,
        enterprise: EnterpriseId,
    ) -> QueryResult<i32> {
        Ok(quota_balances::table
            .find(enterprise)
            .select(quota_balances::balance)
            .first(conn)
            .await
            .optional()?
            .unwrap_or(0))
    }

    /// Adds `amount` (> 0) to the balance; the new balance.
    pub async fn credit(
        conn: &mut AsyncPgConnection,
        enterprise: EnterpriseId,
        kind: QuotaKind,
        amount: i32,
        note: Option<&str>,
        by: Option<UserId>,
        now: DateTime<Utc>,
    ) -> QueryResult<i32> {
        diesel::insert_into(quota_ledger::table)
            .values((
                quota_ledger::id.eq(QuotaEntryId::new()),
                quota_ledger::enterprise_id.eq(enterprise),
                quota_ledger::kind.eq(kind),
                quota_ledger::amount.eq(amount),
                quota_ledger::note.eq(note),
                quota_ledger::created_by.eq(by),
                quota_ledger::created_at.eq(now),
            ))
            .execute(conn)
            .await?;
        diesel::insert_into(quota_balances::table)
            .values((
                quota_balances::enterprise_id.eq(enterprise),
                quota_balances::balance.eq(amount),
                quota_balances::updated_at.eq(now),
            ))
            .on_conflict(quota_balances::enterprise_id)
            .do_update()
            .set((
                quota_balances::balance.eq(quota_balances::balance + amount),
                quota_balances::updated_at.eq(now),
            ))
            .returning(quota_balances::balance)
            .get_result(conn)
            .await
    }

    /// Takes one unit per task when the balance covers them all; false
    /// (and nothing written) when it does not. The balance row's lock
    /// orders concurrent debits, so none can overdraw.
    pub async fn debit_tasks(
        conn: &mut AsyncPgConnection,
        enterprise: EnterpriseId,
        tasks: &[TaskId],
        by: UserId,
        now: DateTime<Utc>,
    ) -> QueryResult<bool> {
        let count = i32::try_from(tasks.len()).unwrap_or(i32::MAX);
        let taken = diesel::update(
            quota_balances::table
                .filter(quota_balances::enterprise_id.eq(enterprise))
                .filter(quota_balances::balance.ge(count)),
        )
        .set((
            quota_balances::balance.eq(quota_balances::balance - count),
            quota_balances::updated_at.eq(now),
        ))
        .execute(conn)
        .await?;
        if taken == 0 {
            return Ok(false);
        }
        let rows: Vec<_> = tasks
            .iter()
            .map(|task| {
                (
                    quota_ledger::id.eq(QuotaEntryId::new()),
                    quota_ledger::enterprise_id.eq(enterprise),
                    quota_ledger::kind.eq(QuotaKind::Consume),
                    quota_ledger::amount.eq(-1),
                    quota_ledger::task_id.eq(Some(*task)),
                    quota_ledger::created_by.eq(Some(by)),
                    quota_ledger::created_at.eq(now),
                )
            })
            .collect();
        for chunk in rows.chunks(5000) {
            diesel::insert_into(quota_ledger::table)
                .values(chunk)
                .execute(conn)
                .await?;
        }
        Ok(true)
    }

    /// Gives back the unit `task` consumed; false when it was refunded
    /// already (the ledger allows one refund per task).
    pub async fn refund_task(
        conn: &mut AsyncPgConnection,
        enterprise: EnterpriseId,
        task: TaskId,
        by: Option<UserId>,
        now: DateTime<Utc>,
    ) -> QueryResult<bool> {
        let inserted = diesel::insert_into(quota_ledger::table)
            .values((
                quota_ledger::id.eq(QuotaEntryId::new()),
                quota_ledger::enterprise_id.eq(enterprise),
                quota_ledger::kind.eq(QuotaKind::Refund),
                quota_ledger::amount.eq(1),
                quota_ledger::task_id.eq(Some(task)),
                quota_ledger::created_by.eq(by),
                quota_ledger::created_at.eq(now),
            ))
            .on_conflict_do_nothing()
            .execute(conn)
            .await?;
        if inserted == 0 {
            return Ok(false);
        }
        diesel::update(quota_balances::table.find(enterprise))
            .set((
                quota_balances::balance.eq(quota_balances::balance + 1),
                quota_balances::updated_at.eq(now),
            ))
            .execute(conn)
            .await?;
        Ok(true)
    }

    /// The ledger's sum, which the balance must equal.
    pub async fn ledger_sum(
        conn: &mut AsyncPgConnection,
        enterprise: EnterpriseId,
    ) -> QueryResult<i64> {
        use diesel::dsl::sum;
        Ok(quota_ledger::table
            .filter(quota_ledger::enterprise_id.eq(enterprise))
            .select(sum(quota_ledger::amount))
            .first::<Option<i64>>(conn)
            .await?
            .unwrap_or(0))
    }
}
