//! The audit log: written with the changes it records, append-only, and a
//! hash chain that `yuyunqian audit verify` checks.

use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl, SimpleAsyncConnection};

use yuyunqian::domain::audit;

use crate::helpers::TestApp;
use yuyunqian::db::schema::{audit_logs, platform_roles};

async fn cli(t: &TestApp, args: &[&str]) -> std::process::Output {
    t.cli(args).await
}

#[tokio::test(flavor = "multi_thread")]
async fn changes_are_audited_in_a_chain_that_verifies() {
    let t = TestApp::spawn().await;
    t.verified_person("13800000701", "410105199003074510").await;
    let granted = cli(
        &t,
        &["user", "grant-role", "--phone", "13800000701", "OPERATOR"],
    )
    .await;
    assert!(
        granted.status.success(),
        "{}",
        String::from_utf8_lossy(&granted.stderr)
    );
    let mut conn = t.conn().await;
    let roles: Vec<String> = platform_roles::table
        .select(platform_roles::role)
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(roles, ["OPERATOR"]);
    let actions: Vec<String> = audit_logs::table
        .order(audit_logs::id)
        .select(audit_logs::action)
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(actions, ["identity.verify", "platform_role.grant"]);

    let verified = cli(&t, &["audit", "verify"]).await;
    assert!(verified.status.success());
    assert_eq!(
        String::from_utf8_lossy(&verified.stdout).trim(),
        "ok: 2 rows verified"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_log_refuses_updates_and_deletes() {
    let t = TestApp::spawn().await;
    t.verified_person("13800000702", "410105199003074510").await;
    let mut conn = t.conn().await;
    let update = diesel::update(audit_logs::table)
        .set(audit_logs::action.eq("nothing.happened"))
        .execute(&mut conn)
        .await;
    assert!(update.unwrap_err().to_string().contains("append-only"));
    let delete = diesel::delete(audit_logs::table).execute(&mut conn).await;
    assert!(delete.unwrap_err().to_string().contains("append-only"));
    let truncate = conn.batch_execute("TRUNCATE audit_logs").await;
    assert!(truncate.is_err());
}

/// Appends racing on one chain (the platform's), each in its own
/// transaction and the first ones on a chain without a head yet, link one
/// after another.
#[tokio::test(flavor = "multi_thread")]
async fn racing_appends_to_one_chain_link_one_after_another() {
    let t = TestApp::spawn().await;
    let appends = (0..16).map(|i| {
        let t = &t;
        async move {
            let mut conn = t.conn().await;
            let svc = t.app.services();
            conn.transaction(async |conn| {
                let entry = audit::Entry {
                    enterprise: None,
                    actor: None,
                    action: "test.append",
                    target_type: "test",
                    target_id: Some(i.to_string()),
                    details: serde_json::json!({ "i": i }),
                    client_ip: None,
                };
                audit::record(conn, &svc, entry).await
            })
            .await
            .unwrap();
        }
    });
    futures_util::future::join_all(appends).await;
    let rows: Vec<(String, Vec<u8>, Vec<u8>)> = audit_logs::table
        .filter(audit_logs::chain.is_null())
        .order(audit_logs::id)
        .select((audit_logs::action, audit_logs::prev_hash, audit_logs::hash))
        .load(&mut t.conn().await)
        .await
        .unwrap();
    assert_eq!(rows.iter().filter(|r| r.0 == "test.append").count(), 16);
    assert_eq!(rows[0].1, [0; 32], "the first row links to the genesis");
    for pair in rows.windows(2) {
        assert_eq!(pair[1].1, pair[0].2, "each row links to the one before");
    }
    let verified = cli(&t, &["audit", "verify"]).await;
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stdout)
    );
}

/// Two people verified at `phones`: two audit rows, as (id, chain).
async fn two_audited(t: &TestApp, phones: [&str; 2]) -> Vec<(i64, Option<uuid::Uuid>)> {
    t.verified_person(phones[0], "410105199003074510").await;
    t.verified_person(phones[1], "11010519491231002X").await;
    let rows: Vec<(i64, Option<uuid::Uuid>)> = audit_logs::table
        .order(audit_logs::id)
        .select((audit_logs::id, audit_logs::chain))
        .load(&mut t.conn().await)
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    rows
}

/// Runs `sql` with the append-only trigger off, as an intruder with the
/// table owner's rights could.
async fn behind_the_triggers_back(t: &TestApp, sql: &str) {
    t.conn()
        .await
        .batch_execute(&format!(
            "ALTER TABLE audit_logs DISABLE TRIGGER audit_logs_no_update_or_delete; {sql}; \
             ALTER TABLE audit_logs ENABLE TRIGGER audit_logs_no_update_or_delete;"
        ))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_row_edited_behind_the_triggers_back_breaks_the_chain() {
    let t = TestApp::spawn().await;
    let ids: Vec<i64> = two_audited(&t, ["13800000703", "13800000704"])
        .await
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    behind_the_triggers_back(
        &t,
        &format!(
            "UPDATE audit_logs SET details = '{{\"forged\": true}}' WHERE id = {}",
            ids[0]
        ),
    )
    .await;
    let mut conn = t.conn().await;
    let report = yuyunqian::domain::audit::verify(&mut conn).await.unwrap();
    assert_eq!(report.first_broken, Some(ids[0]));
    let verified = cli(&t, &["audit", "verify"]).await;
    assert_eq!(verified.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&verified.stderr);
    assert!(
        stderr.contains(&format!("broken at row {}", ids[0])),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tail_removed_behind_the_triggers_back_is_found_by_its_head() {
    let t = TestApp::spawn().await;
    let rows = two_audited(&t, ["13800000705", "13800000706"]).await;
    let mut conn = t.conn().await;
    let report = yuyunqian::domain::audit::verify(&mut conn).await.unwrap();
    assert_eq!(report.first_broken, None);
    assert!(report.broken_heads.is_empty(), "{report:?}");
    let (last, chain) = rows[1];
    behind_the_triggers_back(&t, &format!("DELETE FROM audit_logs WHERE id = {last}")).await;
    // What is left links up; only the head knows a row is gone.
    let report = yuyunqian::domain::audit::verify(&mut conn).await.unwrap();
    assert_eq!(report.first_broken, None);
    assert_eq!(report.broken_heads, vec![chain]);
    let verified = cli(&t, &["audit", "verify"]).await;
    assert_eq!(verified.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&verified.stderr);
    assert!(stderr.contains("do not end at their heads"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn roles_are_granted_only_to_existing_accounts() {
    let t = TestApp::spawn().await;
    let refused = cli(
        &t,
        &["user", "grant-role", "--phone", "13800000799", "REGULATOR"],
    )
    .await;
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("not found"));
}
