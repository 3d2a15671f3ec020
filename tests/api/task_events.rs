//! Live task views over a real WebSocket: `taskProgress` and `inbox`,
//! delivered by a second server process from changes made on the first,
//! under the lists' visibility rules.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::helpers::contracts::enterprise_seal;
use crate::helpers::flows::member;
use crate::helpers::test_app::error_code;
use crate::helpers::ws::{Socket, next, subscribed};
use crate::signing::{employee_signs, enterprise_signs, ok, scene, sign};
use crate::templates::business_type;

const PROGRESS: &str = "subscription($t: ID!) { taskProgress(taskId: $t) { kind signer { role { key } status } task { status } at } }";
const INBOX: &str =
    "subscription($e: ID) { inbox(enterpriseId: $e) { box entered task { id status } } }";

/// The next `count` payloads of the subscription.
async fn received(socket: &mut Socket, field: &str, count: usize) -> Vec<Value> {
    let mut out = Vec::new();
    while out.len() < count {
        let message = next(socket).await;
        assert_eq!(message["type"], "next", "{message}");
        out.push(message["payload"]["data"][field].clone());
    }
    out
}

fn progress(events: &[Value]) -> Vec<(String, String)> {
    events
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap().to_owned(),
                e["signer"]["role"]["key"]
                    .as_str()
                    .unwrap_or("-")
                    .to_owned(),
            )
        })
        .collect()
}

fn boxes(events: &[Value]) -> Vec<(String, bool)> {
    events
        .iter()
        .map(|e| {
            (
                e["box"].as_str().unwrap().to_owned(),
                e["entered"].as_bool().unwrap(),
            )
        })
        .collect()
}

async fn silent(socket: &mut Socket) {
    use futures_util::StreamExt;
    let quiet = tokio::time::timeout(Duration::from_millis(1500), socket.next()).await;
    assert!(quiet.is_err(), "an event arrived: {quiet:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn progress_and_inbox_events_arrive_in_order_on_another_node() {
    let t = TestApp::spawn().await;
    let s = scene(&t, "13800020501", "13500020501").await;
    let labor = business_type(&t, &s.c.admin, &s.c.enterprise, "劳动合同").await;
    let official = enterprise_seal(&t, &s.c, "OFFICIAL").await;
    let hr = member(
        &t,
        &s.c.admin,
        &s.c.enterprise,
        "13800020502",
        "41010519900307123X",
        json!([official]),
    )
    .await;
    let grants = "mutation($e: ID!, $u: ID!, $b: [ID!]!, $s: [ID!]!) { updateMemberGrants(enterpriseId: $e, userId: $u, businessTypeIds: $b, sealIds: $s) { role } }";
    let r = t
        .gql_as(
            &s.c.admin.token,
            grants,
            json!({ "e": s.c.enterprise, "u": hr.user_id, "b": [labor], "s": [official] }),
        )
        .await;
    ok(&r, "updateMemberGrants");

    let second = t.second_instance().await;
    let addr = second.serve().await;
    let stranger = t.verified_person("13800020503", "410105199003071256").await;
    let mut refused = subscribed(addr, &stranger.token, PROGRESS, json!({ "t": s.task })).await;
    let answer = next(&mut refused).await;
    assert_eq!(
        answer["payload"]["errors"][0]["extensions"]["code"], "NOT_FOUND",
        "{answer}"
    );

    let mut progress_socket =
        subscribed(addr, &s.employee.token, PROGRESS, json!({ "t": s.task })).await;
    let mut personal = subscribed(addr, &s.employee.token, INBOX, json!({ "e": null })).await;
    let mut admin = subscribed(
        addr,
        &s.c.admin.token,
        INBOX,
        json!({ "e": s.c.enterprise }),
    )
    .await;
    let mut member_inbox = subscribed(addr, &hr.token, INBOX, json!({ "e": s.c.enterprise })).await;
    tokio::time::sleep(crate::helpers::ws::SUBSCRIPTION_SETTLE).await;

    let r = employee_signs(&t, &s.employee, &s.task, "13500020501").await;
    ok(&r, "signTask");
    let events = received(&mut progress_socket, "taskProgress", 2).await;
    assert_eq!(
        progress(&events),
        [
            ("SIGNER_SIGNED".into(), "employee".into()),
            ("SIGNER_PENDING".into(), "employer".into())
        ]
    );
    assert_eq!(
        boxes(&received(&mut personal, "inbox", 2).await),
        [
            ("TO_SIGN".into(), false),
            ("WAITING_FOR_OTHERS".into(), true)
        ]
    );
    let entered = received(&mut admin, "inbox", 1).await;
    assert_eq!(boxes(&entered), [("TO_SIGN".into(), true)]);
    assert_eq!(entered[0]["task"]["id"], s.task.as_str());
    assert_eq!(
        boxes(&received(&mut member_inbox, "inbox", 1).await),
        [("TO_SIGN".into(), true)]
    );

    // The member loses its grants: it hears nothing more of the task.
    let r = t
        .gql_as(
            &s.c.admin.token,
            grants,
            json!({ "e": s.c.enterprise, "u": hr.user_id, "b": [], "s": [] }),
        )
        .await;
    ok(&r, "updateMemberGrants");
    // Nor may it sign for the enterprise any more.
    let r = sign(
        &t,
        &hr,
        json!({ "taskId": s.task, "enterpriseId": s.c.enterprise, "smsCode": "123456" }),
    )
    .await;
    assert_eq!(error_code(&r), "NOT_FOUND", "{r}");
    let r = enterprise_signs(&t, &s.c.admin, &s.c.enterprise, &s.task).await;
    assert_eq!(ok(&r, "signTask")["status"], "COMPLETED");
    let events = received(&mut progress_socket, "taskProgress", 2).await;
    assert_eq!(
        progress(&events),
        [
            ("SIGNER_SIGNED".into(), "employer".into()),
            ("TASK_COMPLETED".into(), "-".into())
        ]
    );
    assert_eq!(events[1]["task"]["status"], "COMPLETED");
    assert_eq!(
        boxes(&received(&mut personal, "inbox", 2).await),
        [
            ("WAITING_FOR_OTHERS".into(), false),
            ("COMPLETED".into(), true)
        ]
    );
    assert_eq!(
        boxes(&received(&mut admin, "inbox", 4).await),
        [
            ("TO_SIGN".into(), false),
            ("WAITING_FOR_OTHERS".into(), true),
            ("WAITING_FOR_OTHERS".into(), false),
            ("COMPLETED".into(), true)
        ]
    );
    silent(&mut member_inbox).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn voiding_a_task_moves_it_to_everyones_voided_box() {
    let t = TestApp::spawn().await;
    let s = scene(&t, "13800020601", "13500020601").await;
    let addr = t.serve().await;
    let mut progress_socket =
        subscribed(addr, &s.c.admin.token, PROGRESS, json!({ "t": s.task })).await;
    let mut personal = subscribed(addr, &s.employee.token, INBOX, json!({ "e": null })).await;
    tokio::time::sleep(crate::helpers::ws::SUBSCRIPTION_SETTLE).await;
    let r = t
        .gql_as(
            &s.employee.token,
            "mutation($t: ID!) { refuseTask(taskId: $t, reason: \"薪资不符\") { status } }",
            json!({ "t": s.task }),
        )
        .await;
    assert_eq!(ok(&r, "refuseTask")["status"], "VOIDED");
    let events = received(&mut progress_socket, "taskProgress", 2).await;
    assert_eq!(
        progress(&events),
        [
            ("SIGNER_REFUSED".into(), "employee".into()),
            ("TASK_VOIDED".into(), "-".into())
        ]
    );
    assert_eq!(
        boxes(&received(&mut personal, "inbox", 2).await),
        [("TO_SIGN".into(), false), ("VOIDED".into(), true)]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn initiation_puts_tasks_in_the_initiators_and_the_cc_inboxes() {
    use crate::helpers::contracts::{grant_quota, labor_values, published_labor_template};
    let t = TestApp::spawn().await;
    let c = crate::helpers::flows::certified(
        &t,
        "13800021001",
        "郑州抄送科技有限公司",
        "91350100M000100Y43",
    )
    .await;
    grant_quota(&t, &c.enterprise, 1).await;
    let watcher = t.verified_person("13800021002", "41010519900307123X").await;
    let bt = business_type(&t, &c.admin, &c.enterprise, "劳动合同").await;
    let template = published_labor_template(&t, &c).await;
    let addr = t.serve().await;
    let mut initiated = subscribed(addr, &c.admin.token, INBOX, json!({ "e": c.enterprise })).await;
    let mut cc = subscribed(addr, &watcher.token, INBOX, json!({ "e": null })).await;
    tokio::time::sleep(crate::helpers::ws::SUBSCRIPTION_SETTLE).await;
    let input = json!({
        "enterpriseId": c.enterprise, "title": "抄送任务", "businessTypeId": bt,
        "templateIds": [template], "signOrder": "SEQUENTIAL", "ccUserIds": [watcher.user_id],
        "enterpriseSigners": [{ "roleKey": "employer", "enterpriseId": c.enterprise, "step": 2 }],
        "personSigner": { "roleKey": "employee", "step": 1 },
        "rows": [{ "person": { "name": "张三", "phone": "13500021001" }, "values": labor_values("张三") }],
    });
    let r = t
        .gql_as(
            &c.admin.token,
            crate::signing::INITIATE,
            json!({ "i": input }),
        )
        .await;
    let task = ok(&r, "initiateSigningBatch")["tasks"]["edges"][0]["node"]["id"].clone();
    let events = received(&mut initiated, "inbox", 1).await;
    assert_eq!(boxes(&events), [("INITIATED".into(), true)]);
    assert_eq!(events[0]["task"]["id"], task);
    let events = received(&mut cc, "inbox", 1).await;
    assert_eq!(boxes(&events), [("CC".into(), true)]);
    assert_eq!(events[0]["task"]["id"], task);
}
